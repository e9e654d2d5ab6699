"""`hearth serve` overhead and queueing, in one run.

Overhead: the same questions answered in-process (`answer_stream`, what `hearth ask` runs) and
through the server (uvicorn + Starlette + SSE + the model owner queue, on a loopback socket,
read with the official `openai` client), on the SAME library and model objects, interleaved
A B / B A per question. Sharing the objects is what makes the pairs comparable on a busy
2-core machine: load drift hits both sides of a pair alike, and a second process could not open
the library anyway (one writer). The model's KV cache is reset before every run, or the second
of a pair would skip the prefill the first one paid for. Both sides are timed by one harness: question -> first token,
and decode tokens/s = (pieces - 1) / (last piece - first piece); greedy sampling, so both
produce the same text. The client shares the process with the server, so the overhead is, if
anything, overstated.

Queueing: 100 requests sent at once (threads, one shared client), max_tokens tiny and retrieval
off (the queue is what is measured; with retrieval each request only costs more model time);
every one must come back with its own answer, none with an error, and the server's counters
must agree. The separate-process `hearth serve` path is covered by tests/test_serve.py.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import log
from bench.generation import QUESTIONS, small_library


def _timed(pieces) -> dict:
    t0 = time.perf_counter()
    first = last = None
    n = 0
    text = []
    for piece in pieces:
        now = time.perf_counter()
        first = first or now
        last = now
        n += 1
        text.append(piece)
    end = time.perf_counter()
    decode = (last - first) if first and last else 0.0
    return {"ttft_s": (first or end) - t0, "pieces": n, "text": "".join(text),
            "tps": (n - 1) / decode if n > 1 and decode > 0 else 0.0}


def _concurrent(client, n: int, max_tokens: int) -> dict:
    results: list[tuple[int, str, float]] = []
    errors: list[str] = []
    start = threading.Barrier(n)

    def one(i: int) -> None:
        start.wait()
        t0 = time.perf_counter()
        try:
            r = client.chat.completions.create(
                model="hearth", messages=[{"role": "user", "content": f"Say the number {i}."}],
                max_tokens=max_tokens, temperature=0.0,
                extra_body={"hearth": {"retrieval": False}})
            results.append((i, r.id, time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(x for _, _, x in results)
    return {"requests": n, "max_tokens": max_tokens, "retrieval": False, "ok": len(results),
            "errors": len(errors), "error_samples": errors[:3],
            "distinct_ids": len({rid for _, rid, _ in results}),
            "all_answered": sorted(i for i, _, _ in results) == list(range(n)),
            "wall_s": round(wall, 2), "per_request_s": round(wall / n, 3),
            "latency_p50_s": round(statistics.median(lat), 2) if lat else None,
            "latency_max_s": round(lat[-1], 2) if lat else None}


def bench_serve(scifact: str | Path | None = None, max_tokens: int = 48, rounds: int = 3,
                concurrent: int = 100, model: str = "bundled") -> dict:
    """`model`: the bundled SmolLM2 by default: the faster the model, the larger the share of
    time the server adds, so this is the harsher test of its overhead."""
    import openai

    from app.serve import create_app
    from app.serve_engine import LibraryEngine, ModelOwner
    from app.serve_run import Server, bind_sockets, load_or_create_token
    from rag.answering.answer import answer_stream
    from rag.base.settings import Settings
    from rag.embed.embeddings import SentenceTransformerEmbedder

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-serve-"))
    lib = small_library(work, scifact, SentenceTransformerEmbedder())
    owner = ModelOwner()
    engine = LibraryEngine(lib, Settings(), model)
    server = None
    try:
        t0 = time.perf_counter()
        owner.call(engine.load)
        server = Server(create_app(engine, owner, load_or_create_token(lib.data_dir)),
                        bind_sockets(["127.0.0.1"], 0), on_exit=owner.cancel_all)
        server.start()
        ready_s = time.perf_counter() - t0
        client = openai.OpenAI(base_url=server.urls[0], api_key=load_or_create_token(
            lib.data_dir), max_retries=0, timeout=900)

        def cold() -> None:  # forget the KV cache: each side prefills the whole prompt
            owner.call(lambda: engine.model._llm.reset())

        def local(q: str) -> dict:  # on the owner thread, as `hearth ask` runs on its own
            def run() -> dict:
                return _timed(ev.text for ev in answer_stream(
                    lib, engine.model, q, max_tokens=max_tokens, temperature=0.0)
                    if ev.kind == "token")
            cold()
            return owner.call(run)

        def served(q: str) -> dict:
            def pieces():  # the request is sent inside the timed loop, not before it
                for c in client.chat.completions.create(
                        model="hearth", messages=[{"role": "user", "content": q}], stream=True,
                        max_tokens=max_tokens, temperature=0.0):
                    if c.choices and c.choices[0].delta.content:
                        yield c.choices[0].delta.content
            cold()
            return _timed(pieces())

        local(QUESTIONS[0])  # warm both paths once
        served(QUESTIONS[0])
        pairs = []
        for r in range(rounds):
            for i, q in enumerate(QUESTIONS):
                if (r + i) % 2 == 0:
                    a, b = local(q), served(q)
                else:
                    b, a = served(q), local(q)
                pairs.append((a, b))
                log(f"serve pair: first token {a['ttft_s']:.3f} / {b['ttft_s']:.3f} s, "
                    f"tokens/s {a['tps']:.1f} / {b['tps']:.1f} (in-process / served)")
        log(f"serve: now {concurrent} concurrent requests")
        queue = _concurrent(client, concurrent, max_tokens=2)
        queue["server_completed"], queue["server_failed"] = owner.completed, owner.failed
    finally:
        if server is not None:
            server.stop()
        owner.close(final=engine.close)
        lib.close()
        shutil.rmtree(work, ignore_errors=True)

    ttft = [b["ttft_s"] / a["ttft_s"] for a, b in pairs if a["ttft_s"] > 0]
    tps = [b["tps"] / a["tps"] for a, b in pairs if a["tps"] > 0 and b["tps"] > 0]
    out = {
        "model": engine.model_names[0], "max_tokens": max_tokens, "pairs": len(pairs),
        "server_ready_s": round(ready_s, 2),
        "in_process_ttft_s": round(statistics.median(a["ttft_s"] for a, _ in pairs), 3),
        "served_ttft_s": round(statistics.median(b["ttft_s"] for _, b in pairs), 3),
        "in_process_tokens_per_s": round(statistics.median(a["tps"] for a, _ in pairs), 1),
        "served_tokens_per_s": round(statistics.median(b["tps"] for _, b in pairs), 1),
        "ttft_ratio_per_pair": [round(x, 3) for x in ttft],
        "tokens_per_s_ratio_per_pair": [round(x, 3) for x in tps],
        "ttft_ratio": round(statistics.median(ttft), 3) if ttft else None,
        "tokens_per_s_ratio": round(statistics.median(tps), 3) if tps else None,
        "same_text": all(a["text"] == b["text"] for a, b in pairs),
        "concurrent": queue,
    }
    log(f"serve: first token ratio {out['ttft_ratio']} (served / in-process, median of pairs), "
        f"tokens/s ratio {out['tokens_per_s_ratio']}; {queue['ok']}/{concurrent} concurrent ok, "
        f"{queue['errors']} errors")
    return out
