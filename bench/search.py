"""Search latency through `Library.search` at 10k and 100k chunks.

The libraries are synthetic for scale (random unit vectors, Zipf-distributed words) but written
through the real `ChromaStore` and `Manifest` APIs, so the search path is exactly the app's: query
embedding, chroma HNSW, FTS5 BM25, fusion and the text fetch. Built once into the cache dir.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from bench.common import cache_dir, log, summary_ms

CHUNKS_PER_DOC = 250  # bigger batches: fewer fsynced transactions while building
WORDS_PER_CHUNK = 120
VOCAB = 20000


def _vocab(seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnoprstuvwy"
    words: set[str] = set()
    while len(words) < VOCAB:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words)


def _zipf_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


def build_synthetic(n_chunks: int, embedder, base: Path | None = None) -> Path:
    """A library dir with `n_chunks` chunks (reused when already complete)."""
    from rag.library import CHROMA_DIR, MANIFEST_NAME
    from rag.store.manifest import Manifest
    from rag.store.store import ChromaStore

    path = (base or cache_dir()) / f"synthetic-{n_chunks}"
    done = path / "bench-meta.json"
    if done.exists():
        return path
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    t0 = time.perf_counter()
    vocab = np.array(_vocab())
    probs = _zipf_weights(len(vocab))
    rng = np.random.default_rng(11)
    manifest = Manifest(path / MANIFEST_NAME)
    store = ChromaStore(path / CHROMA_DIR, model_id=embedder.model_id, dim=embedder.dim)
    try:
        for d, first in enumerate(range(0, n_chunks, CHUNKS_PER_DOC)):
            size = min(CHUNKS_PER_DOC, n_chunks - first)
            doc_path = f"/synthetic/doc-{d:05d}.txt"
            doc_id = manifest.upsert(doc_path, status="indexing", title=f"Doc {d}", size=1, mtime=1.0)
            ids = [f"{doc_id}:synthetic:{i}" for i in range(size)]
            words = rng.choice(vocab, size=(size, WORDS_PER_CHUNK), p=probs)
            rows = [(cid, i, None, 0, 0, " ".join(words[i])) for i, cid in enumerate(ids)]
            vecs = rng.standard_normal((size, embedder.dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.add(ids, vecs, [{"doc_id": doc_id, "ordinal": i, "page": -1}
                                  for i in range(size)])
            manifest.replace_chunks(doc_id, f"Doc {d}", rows, status="indexed")
    finally:
        store.close()
        manifest.close()
    done.write_text(json.dumps({"chunks": n_chunks, "build_s": round(time.perf_counter() - t0, 1)}))
    return path


def _queries(n: int, seed: int = 5) -> list[str]:
    """Mixed queries: a few mid-frequency words plus a common one, like real questions."""
    vocab = _vocab()
    rng = random.Random(seed)
    return [" ".join([rng.choice(vocab[:50])] + [rng.choice(vocab[50:5000])
                                                  for _ in range(rng.randint(2, 6))])
            for _ in range(n)]


WARMUP = 30  # a just-built library answers its first ~30 queries slower (cold pages)


def measure(lib, queries: list[str], k: int = 5) -> dict:
    for q in _queries(WARMUP, seed=99):  # warm-up on other queries: HNSW and SQLite pages
        lib.search(q, k=k)
    total, embed, dense, keyword = [], [], [], []
    from rag.retrieve.retrieval import Retriever

    retriever = Retriever(lib.manifest, lib.store, lib.embedder, lib.retrieval_config)

    for q in queries:
        t0 = time.perf_counter()
        hits = lib.search(q, k=k)
        total.append(time.perf_counter() - t0)
        assert hits, "synthetic search returned nothing"
        t0 = time.perf_counter()
        vec = lib.embedder.embed([q])[0]
        t1 = time.perf_counter()
        lib.store.query(vec, lib.retrieval_config.dense_candidates)
        t2 = time.perf_counter()
        retriever._keyword(q, lib.retrieval_config.keyword_candidates, None)  # as search() does
        t3 = time.perf_counter()
        embed.append(t1 - t0)
        dense.append(t2 - t1)
        keyword.append(t3 - t2)
    return {"search": summary_ms(total), "parts": {"embed_query": summary_ms(embed),
            "dense_query": summary_ms(dense), "keyword_query": summary_ms(keyword)}}


def bench_search(sizes=(10_000, 100_000), n_queries: int = 100) -> dict:
    """The default embedder's search, and PyTorch's on the same library right after it (issue
    28: the query on the fast path must not make search slower)."""
    from rag.embed.embed_onnx import make_embedder
    from rag.library import Library

    embedder = make_embedder()
    embedder.load()
    torch_emb = make_embedder("torch")
    torch_emb.load()
    out: dict = {"target_p95_ms_at_100k": 50, "k": 5,
                 "embedder": getattr(embedder, "variant", "torch")}
    for n in sizes:
        t0 = time.perf_counter()
        path = build_synthetic(n, embedder)
        meta = json.loads((path / "bench-meta.json").read_text())
        log(f"search: synthetic library of {n} chunks ready ({time.perf_counter() - t0:.1f}s)")
        with Library.open(path, embedder=embedder, owner="hearth bench") as lib:
            res = measure(lib, _queries(n_queries))
        if embedder.variant != "torch":
            with Library.open(path, embedder=torch_emb, owner="hearth bench") as lib:
                res["torch"] = measure(lib, _queries(n_queries))
            log(f"search at {n} with torch: p50 {res['torch']['search']['p50_ms']} ms, p95 "
                f"{res['torch']['search']['p95_ms']} ms (embed p50 "
                f"{res['torch']['parts']['embed_query']['p50_ms']})")
        res["build_s"] = meta.get("build_s")
        out[str(n)] = res
        log(f"search at {n}: p50 {res['search']['p50_ms']} ms, p95 {res['search']['p95_ms']} ms "
            f"(embed p50 {res['parts']['embed_query']['p50_ms']}, dense "
            f"{res['parts']['dense_query']['p50_ms']}, keyword {res['parts']['keyword_query']['p50_ms']})")
    return out
