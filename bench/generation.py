"""Generation speed: Hearth's stack (`LlamaChatModel.stream`) vs raw llama-cpp-python
`create_chat_completion(stream=True)` on the same bundled model, messages and settings, interleaved
A/B/A/B; plus question -> first token split into retrieval, prompt build and prefill
(`answer_stream` timings).

Both sides are timed by the same harness: decode tokens/s = (streamed pieces - 1) / (last piece -
first piece), so the ratio compares like with like. Greedy sampling (temperature 0) makes both
produce the same text, hence the same number of tokens.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import log

QUESTIONS = [
    "What does the evidence say about the effect of the treatment on patient outcomes?",
    "Which mechanism regulates the expression of the gene in human cells?",
    "How does the immune response change during the infection?",
]


def _timed_stream(pieces) -> dict:
    t0 = time.perf_counter()
    first = last = None
    n = 0
    text = []
    for piece in pieces:
        now = time.perf_counter()
        if first is None:
            first = now
        last = now
        n += 1
        text.append(piece)
    end = time.perf_counter()
    decode = (last - first) if first is not None and last is not None else 0.0
    return {"pieces": n, "ttft_s": (first or end) - t0, "decode_s": decode,
            "tps": (n - 1) / decode if n > 1 and decode > 0 else 0.0, "text": "".join(text)}


def _raw_pieces(llm, messages, max_tokens: int):
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                            temperature=0.0, stream=True):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            yield text


def small_library(work: Path, scifact: str | Path | None, embedder):
    """A few real documents to retrieve from (the answer path needs sources)."""
    from bench.docset import sample_texts
    from rag.library import Library

    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(sample_texts(30, scifact, seed=21)):
        (docs / f"doc-{i:02d}.txt").write_text(text + "\n", encoding="utf-8")
    lib = Library.open(work / "lib", embedder=embedder, owner="hearth bench")
    lib.index([docs])
    return lib


def bench_generation(scifact: str | Path | None = None, rounds: int = 3, max_tokens: int = 96
                     ) -> dict:
    import llama_cpp

    from inference.models import load_model
    from rag.answering.answer import answer_stream
    from rag.answering.prompts import build_messages
    from rag.embed.embeddings import SentenceTransformerEmbedder

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-gen-"))
    embedder = SentenceTransformerEmbedder()
    lib = small_library(work, scifact, embedder)
    model = raw = None
    try:
        t0 = time.perf_counter()
        model = load_model(None)
        load_s = time.perf_counter() - t0
        # Time to first token, cold model: retrieval / prompt build / prefill (first question
        # uses a fresh KV cache; the others share only the system prompt prefix, like the app).
        ttft = []
        for q in QUESTIONS:
            final = None
            for ev in answer_stream(lib, model, q, max_tokens=8, temperature=0.0):
                if ev.kind == "done":
                    final = ev.answer
            t = final.timings
            ttft.append({"retrieval_s": t.get("retrieval_s"), "prompt_s": t.get("prompt_s"),
                         "prefill_s": t.get("first_token_s"), "prompt_tokens": t.get("prompt_tokens")})
        raw = llama_cpp.Llama(model_path=str(model.path), n_ctx=model.n_ctx,
                              n_threads=model.n_threads, n_threads_batch=os.cpu_count() or 1,
                              n_gpu_layers=0, verbose=False)
        question = QUESTIONS[0]
        messages = build_messages(question, lib.search(question, k=5), [])
        hearth_runs, raw_runs = [], []
        for r in range(rounds):  # A B, B A, A B, ...: drift in machine load cancels out
            def run_raw():
                return _timed_stream(_raw_pieces(raw, messages, max_tokens))

            def run_hearth():
                return _timed_stream(model.stream(messages, max_tokens=max_tokens,
                                                  temperature=0.0))

            if r % 2 == 0:
                a, b = run_raw(), run_hearth()
            else:
                b, a = run_hearth(), run_raw()
            raw_runs.append(a)
            hearth_runs.append(b)
            log(f"generation round {r + 1}: raw {a['tps']:.1f} tok/s ({a['pieces']} pieces), "
                f"hearth {b['tps']:.1f} tok/s ({b['pieces']} pieces)")
        ratios = [b["tps"] / a["tps"] for a, b in zip(raw_runs, hearth_runs, strict=True)
                  if a["tps"] > 0]
        return {
            "model": model.name, "n_ctx": model.n_ctx, "n_threads": model.n_threads,
            "max_tokens": max_tokens, "load_s": round(load_s, 2),
            "raw_tokens_per_s": [round(a["tps"], 1) for a in raw_runs],
            "hearth_tokens_per_s": [round(b["tps"], 1) for b in hearth_runs],
            "pieces": {"raw": [a["pieces"] for a in raw_runs],
                       "hearth": [b["pieces"] for b in hearth_runs]},
            "same_text": all(a["text"] == b["text"] for a, b in zip(raw_runs, hearth_runs,
                                                                     strict=True)),
            "ratio_per_round": [round(x, 3) for x in ratios],
            "ratio": round(statistics.median(ratios), 3) if ratios else None,
            "ratio_target": 0.97,
            "time_to_first_token": ttft,
        }
    finally:
        if raw is not None:
            raw.close()
        if model is not None:
            model.close()
        lib.close()
        shutil.rmtree(work, ignore_errors=True)
