"""PyTorch fp32, ONNX fp32, ONNX mixed (the default) and ONNX int8 side by side (issue 28): the
same chunk texts, the same run, interleaved rounds so machine noise hits all of them; then, per
variant, the first index of the pdfqa-dev manuals end to end (and, for PyTorch and the default,
without parse-ahead too) and retrieval quality (pdfqa-dev, SciFact test).

"torch (before #28)" is the PyTorch embedder called as the indexer called it before this issue:
16 chunks per call in document order. Every other row is called as the indexer calls it now:
the window sorted by length, then `CANCEL_BATCH` chunks per call.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.common import log

VARIANTS = ("torch", "onnx-fp32", "onnx-mixed", "onnx-int8")
BEFORE = "torch (before #28)"
SERIAL = " (no parse-ahead)"  # the indexer reads, then embeds, in turn (as before issue 28)


def load_variants(variants=VARIANTS) -> dict:
    """{variant: loaded embedder}; the ONNX builds are made (once) here, not in a timed part."""
    from rag.embed.embed_onnx import make_embedder

    out = {}
    for v in variants:
        t0 = time.perf_counter()
        emb = make_embedder(v)
        emb.load()
        emb.embed(["warm up", "warm up the batch path"])
        out[v] = emb
        log(f"embedders: {v} ready in {time.perf_counter() - t0:.1f}s "
            f"(runs as {getattr(emb, 'variant', 'torch')})")
    return out


def embed_speed(embedders: dict, texts: list[str], rounds: int = 2) -> dict:
    """chunks/s per row and the ratio to both PyTorch rows. Interleaved call by call (each row
    embeds call i before any row embeds call i+1), so a burst of load from another program
    hits every row alike."""
    from rag.ingest.indexer import CANCEL_BATCH

    rows = {BEFORE: (embedders["torch"], list(texts)),
            **{v: (emb, sorted(texts, key=len)) for v, emb in embedders.items()}}
    runs: dict[str, list[float]] = {v: [] for v in rows}
    for r in range(rounds):
        spent = dict.fromkeys(rows, 0.0)
        for i in range(0, len(texts), CANCEL_BATCH):
            for v, (emb, todo) in rows.items():
                t0 = time.perf_counter()
                emb.embed(todo[i:i + CANCEL_BATCH])
                spent[v] += time.perf_counter() - t0
        for v in rows:
            runs[v].append(len(texts) / spent[v])
        log(f"embedders round {r + 1}: " + ", ".join(f"{v} {x[-1]:.1f}" for v, x in runs.items())
            + " chunks/s")
    med = {v: statistics.median(x) for v, x in runs.items()}
    return {v: {"chunks_per_s": round(med[v], 1), "rounds": [round(x, 1) for x in runs[v]],
                "x_before": round(med[v] / med[BEFORE], 2),
                "x_torch_sorted": round(med[v] / med["torch"], 2)} for v in runs}


def thread_rows(variant: str = "onnx-mixed") -> dict:
    """The same graph on one one-thread session and on two side by side: the measurement behind
    one session per core."""
    from rag.embed.embed_onnx import OnnxEmbedder, models_folder

    out = {}
    for th in (1, 2):
        emb = OnnxEmbedder(variant=variant, folder=models_folder(), threads=th)
        emb.embed(["warm up", "warm up the batch path"])
        out[f"{variant} ({th} worker{'s' if th > 1 else ''})"] = emb
    return out


def query_latency(embedders: dict, n: int = 60) -> dict:
    """One short query at a time, as a search embeds it: p50/p95 ms per variant."""
    from bench.common import summary_ms

    qs = [f"how do I install package number {i} from a local file?" for i in range(n)]
    out = {}
    for v, emb in embedders.items():
        times = []
        for q in qs:
            t0 = time.perf_counter()
            emb.embed([q])
            times.append(time.perf_counter() - t0)
        out[v] = summary_ms(times)
        log(f"query embedding {v}: {out[v]}")
    return out


def sweep(texts: list[str], variants=("onnx-mixed", "onnx-int8"), batches=(1, 2, 4, 8, 16),
          threads=(1, 2)) -> dict:
    """chunks/s of one embed() call over all texts for texts per run x one-thread sessions side
    by side (the choice of RUN_TEXTS and of one session per core is this measurement)."""
    from rag.embed.embed_onnx import OnnxEmbedder, models_folder

    out: dict = {}
    for v in variants:
        for th in threads:
            emb = OnnxEmbedder(variant=v, folder=models_folder(), threads=th)
            emb.embed(["warm up", "warm up again"])
            for b in batches:
                emb.batch_size = b
                t0 = time.perf_counter()
                emb.embed(texts)
                out[f"{v} threads={th} batch={b}"] = round(len(texts) / (time.perf_counter() - t0), 1)
                log(f"sweep {v} threads={th} batch={b}: {out[f'{v} threads={th} batch={b}']} chunks/s")
            emb.close()
    return out


def per_variant_quality(embedders: dict, corpus: Path | None, scifact: str | None,
                        work: Path, scifact_variants: tuple[str, ...] | None = None) -> dict:
    """Per variant: first index of the dev manuals end to end (pages/s) with pdfqa-dev hit@3 and
    MRR (hybrid), PyTorch and the default also without parse-ahead, each pair back to back;
    then SciFact test nDCG@10 (hybrid, index cached per variant) for `scifact_variants` in
    their order (default: all)."""
    from rag.embed.embed_onnx import DEFAULT_VARIANT
    from rag.ingest.indexer import Indexer

    out: dict = {v: {} for v in embedders}
    if corpus is not None:
        for v, emb in embedders.items():
            for serial in (True, False) if v in ("torch", DEFAULT_VARIANT) else (False,):
                row = v + SERIAL if serial else v
                Indexer.overlap = not serial
                try:
                    out.setdefault(row, {}).update(_pdfqa(emb, corpus, work / f"pdfqa-{row}"))
                finally:
                    Indexer.overlap = True
                log(f"quality {row}: {out[row]}")
    if scifact:
        for v in scifact_variants or tuple(embedders):
            out[v].update(_scifact(embedders[v], scifact))
            log(f"quality {v}: {out[v]}")
    return out


def _pdfqa(embedder, corpus: Path, base: Path) -> dict:
    from bench.pdfqa import DEV, load_questions, open_library, run_mode, score

    lib, info = open_library(corpus, fresh=True, embedder=embedder, base=base)
    try:
        questions = load_questions(DEV / "questions.jsonl")
        s = score(questions, run_mode(lib, questions, "hybrid")[0])
    finally:
        lib.close()
    pages = info.get("breakdown", {}).get("pages") or 0
    return {"first_index_s": info["index_s"], "first_index_pages": pages,
            "first_index_pages_per_s": round(pages / info["index_s"], 2),
            "first_index_chunks": info["chunks"], "pdfqa_hit@3": s["hit@3"],
            "pdfqa_mrr@10": s["mrr@10"], "pdfqa_hit@1": s["hit@1"]}


def _scifact(embedder, root: str) -> dict:
    from bench.metrics import evaluate
    from bench.scifact import load_split, open_indexed, run_queries

    lib, info = open_indexed(root, embedder=embedder)
    try:
        queries, qrels = load_split(root, "test")
        run, _ = run_queries(lib, queries, "hybrid")
        dense, _ = run_queries(lib, queries, "dense")
    finally:
        lib.close()
    return {"scifact_ndcg@10": round(evaluate(run, qrels, queries)["ndcg@10"], 4),
            "scifact_dense_ndcg@10": round(evaluate(dense, qrels, queries)["ndcg@10"], 4),
            "scifact_index_s": info.get("index_s"), "scifact_chunks": info.get("chunks")}
