"""`python -m bench scale`: one big embedded library on one laptop (not run in CI).

Builds N chunks (default 1,000,000) of 384-d vectors with text into an embedded library, through
the real `Manifest` and `ChromaStore` (so FTS5 BM25, chroma HNSW and the files on disk are the
app's own), then measures in a fresh child process: RSS once open, search p50/p95 (k=5, hybrid,
the real MiniLM embeds each query), re-index of the unchanged 10,000-file folder the documents
come from, and the forget of one document.

Why synthetic: embedding a million real chunks with MiniLM takes days on 2 CPU cores. Vectors are
clustered (topic + document + noise, unit length) rather than uniform noise, so HNSW sees
structure like real embeddings have; text is Zipf-distributed pseudo-words (bench/search.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import cache_dir, log, summary_ms

FILES = 10_000  # documents = real files in one folder (the re-index check walks them)
TOPICS = 1000
FORGET_CHUNKS = 100  # the extra document the bench forgets (and puts back for the next run)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _vectors(rng, topics: np.ndarray, n: int, dim: int) -> np.ndarray:
    topic = topics[rng.integers(len(topics))]
    doc = rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
    noise = rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vecs = topic + 0.7 * doc + 0.7 * noise
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)


def _add_doc(manifest, store_batch: list, path: str, n: int, rng, vocab, probs, topics, dim,
             sha: str = "", size: int = 1, mtime: float = 1.0) -> tuple[int, list]:
    from bench.search import WORDS_PER_CHUNK

    doc_id = manifest.upsert(path, status="indexing", title=Path(path).stem, sha256=sha,
                             size=size, mtime=mtime)
    ids = [f"{doc_id}:{sha[:12] or 'synthetic'}:{i}" for i in range(n)]
    words = rng.choice(vocab, size=(n, WORDS_PER_CHUNK), p=probs)
    rows = [(cid, i, None, 0, 0, " ".join(words[i])) for i, cid in enumerate(ids)]
    store_batch.append((ids, _vectors(rng, topics, n, dim),
                        [{"doc_id": doc_id, "ordinal": i, "page": -1} for i in range(n)]))
    return doc_id, rows


def _doc_rng(d: int):
    """One generator per document, so a resumed build makes the same chunks as an unbroken one."""
    return np.random.default_rng([17, d])


def build(n_chunks: int, model_id: str, dim: int, base: Path | None = None) -> Path:
    """The library dir for `n_chunks`: reused when complete, resumed when half-built (the build
    of 1M chunks takes hours on a shared laptop; a kill loses at most one batch)."""
    from bench.search import _vocab, _zipf_weights
    from rag.library import CHROMA_DIR, MANIFEST_NAME
    from rag.store.manifest import Manifest
    from rag.store.store import ChromaStore

    path = (base or cache_dir()) / f"scale-{n_chunks}"
    if (path / "bench-meta.json").exists():
        return path
    progress_file = path / "bench-build.json"
    progress = {"chunks": n_chunks, "version": 2, "build_s": 0.0, "runs": 0}
    if progress_file.exists():
        old = json.loads(progress_file.read_text())
        if old.get("chunks") == n_chunks and old.get("version") == 2:
            progress = old
    if progress["runs"] == 0:
        shutil.rmtree(path, ignore_errors=True)
    progress["runs"] += 1
    files = path / "files"
    files.mkdir(parents=True, mode=0o700, exist_ok=True)
    progress_file.write_text(json.dumps(progress))
    t0 = time.perf_counter()
    vocab = np.array(_vocab())
    probs = _zipf_weights(len(vocab))
    topics = _vectors(np.random.default_rng(17), np.zeros((1, dim), np.float32), TOPICS, dim)
    manifest = Manifest(path / MANIFEST_NAME)
    store = ChromaStore(path / CHROMA_DIR, model_id=model_id, dim=dim)
    indexed = {r.path for r in manifest.documents("indexed")}
    per_doc = max(1, (n_chunks - FORGET_CHUNKS) // FILES)
    done = skipped = 0
    built_before = progress["build_s"]

    def flush(batch: list, pending: list) -> None:
        _flush(store, manifest, batch, pending)
        progress["build_s"] = round(built_before + time.perf_counter() - t0, 1)
        progress_file.write_text(json.dumps(progress))

    try:
        batch: list = []
        pending: list = []
        for d in range(FILES):
            n = per_doc if d < FILES - 1 else n_chunks - FORGET_CHUNKS - done
            done += n
            f = files / f"doc-{d:05d}.txt"
            if str(f) in indexed:
                skipped += n
                continue
            f.write_text(f"Synthetic document {d}.\n", encoding="utf-8")
            st = f.stat()
            sha = hashlib.sha256(f.read_bytes()).hexdigest()
            pending.append(_add_doc(manifest, batch, str(f), n, _doc_rng(d), vocab, probs, topics,
                                    dim, sha, st.st_size, st.st_mtime))
            if sum(len(b[0]) for b in batch) >= store.max_batch or d == FILES - 1:
                flush(batch, pending)
                log(f"scale build: {done:,} chunks ({skipped:,} from before), "
                    f"{progress['build_s']:.0f} s in all")
        if pending:
            flush(batch, pending)
        if "/synthetic/forget-me.txt" not in indexed:
            pending.append(_add_doc(manifest, batch, "/synthetic/forget-me.txt", FORGET_CHUNKS,
                                    _doc_rng(FILES), vocab, probs, topics, dim))
            flush(batch, pending)
    finally:
        store.close()
        manifest.close()
    (path / "bench-meta.json").write_text(json.dumps({
        "chunks": n_chunks, "build_s": progress["build_s"], "build_runs": progress["runs"],
        "files": FILES, "dim": dim}))
    return path


def _flush(store, manifest, batch: list, pending: list) -> None:
    ids = [i for b in batch for i in b[0]]
    vecs = np.concatenate([b[1] for b in batch])
    metas = [m for b in batch for m in b[2]]
    store.add(ids, vecs, metas)
    for doc_id, rows in pending:
        manifest.replace_chunks(doc_id, "", rows, status="indexed")
    batch.clear()
    pending.clear()


QUIET_ENV = "HEARTH_BENCH_QUIET_WAIT"  # seconds the child may wait for an idle CPU before timing


def _wait_quiet(max_s: float, idle: float = 0.9) -> float:
    """Wait (up to `max_s`) until the CPU is `idle` idle over 2 s: on a shared machine another
    job's burst would otherwise be measured as Hearth's latency. Returns the seconds waited."""
    import psutil

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_s and psutil.cpu_percent(interval=2.0) > 100 * (1 - idle):
        pass
    return round(time.perf_counter() - t0, 1)


def _others_busy(proc, since: tuple | None = None):
    """Share of all cores used by other processes since `since` (a previous return value)."""
    import psutil

    cpu = psutil.cpu_times()
    mine = sum(proc.cpu_times()[:2])
    now = (time.perf_counter(), cpu.user + cpu.nice + cpu.system + cpu.irq + cpu.softirq
           + getattr(cpu, "steal", 0.0), mine)
    if since is None:
        return now
    wall = (now[0] - since[0]) * (psutil.cpu_count() or 1)
    return round(max(0.0, (now[1] - since[1]) - (now[2] - since[2])) / wall, 3)


def child(path: str, n_queries: int) -> dict:
    """Measurements in a process that has only opened the library (honest RSS)."""
    import psutil

    from bench.search import _queries, _vocab, _zipf_weights, measure
    from rag.embed.embeddings import SentenceTransformerEmbedder
    from rag.library import Library

    proc = psutil.Process()
    embedder = SentenceTransformerEmbedder()
    embedder.load()
    rss_model = proc.memory_info().rss
    out: dict = {}
    t0 = time.perf_counter()
    with Library.open(path, embedder=embedder, owner="hearth bench scale") as lib:
        lib.search("warm up the library", k=5)  # chroma loads its HNSW index on first query
        out["open_and_first_search_s"] = round(time.perf_counter() - t0, 2)
        out["rss_open_mib"] = round(proc.memory_info().rss / 2**20, 1)
        out["rss_model_only_mib"] = round(rss_model / 2**20, 1)
        wait = float(os.environ.get(QUIET_ENV, "0") or 0)
        best = None
        for attempt in range(1, 6 if wait else 2):  # on a shared machine: the quietest of 5
            waited = _wait_quiet(wait)
            busy0 = _others_busy(proc)
            res = measure(lib, _queries(n_queries))
            others = _others_busy(proc, busy0)
            if best is None or others < best[0]:
                best = (others, res, waited, attempt)
            if others <= 0.05:
                break
        others, res, out["quiet_wait_s"], out["attempt"] = best
        out["others_cpu_during_search"] = others
        out["search"] = res["search"]
        out["parts"] = res["parts"]
        out["rss_after_search_mib"] = round(proc.memory_info().rss / 2**20, 1)
        t0 = time.perf_counter()
        report = lib.index([Path(path) / "files"])
        out["reindex_unchanged"] = {"s": round(time.perf_counter() - t0, 2),
                                    "files": len(report.outcomes),
                                    "unchanged": report.count("unchanged")}
        t0 = time.perf_counter()
        n = lib.forget_many(["/synthetic/forget-me.txt"], scrub=False)
        out["forget_one_doc"] = {"s": round(time.perf_counter() - t0, 3), "documents": n,
                                 "chunks": FORGET_CHUNKS, "scrub": False}
        lat = []
        for q in _queries(20, seed=7):
            t1 = time.perf_counter()
            assert all("forget-me" not in h.path for h in lib.search(q, k=5))
            lat.append(time.perf_counter() - t1)
        out["search_after_forget"] = summary_ms(lat)
        # put it back so the next run finds the same library
        rng = np.random.default_rng(5)
        topics = _vectors(rng, np.zeros((1, lib.embedder.dim), np.float32), 8, lib.embedder.dim)
        vocab = np.array(_vocab())
        batch: list = []
        pending = [_add_doc(lib.manifest, batch, "/synthetic/forget-me.txt", FORGET_CHUNKS, rng,
                            vocab, _zipf_weights(len(vocab)), topics, lib.embedder.dim)]
        _flush(lib.store, lib.manifest, batch, pending)
    return out


def bench_scale(n_chunks: int = 1_000_000, n_queries: int = 200, build_only: bool = False
                ) -> dict:
    """Build (or resume building) the library, then measure it unless `build_only`."""
    from rag.embed.embeddings import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    t0 = time.perf_counter()
    path = build(n_chunks, emb.model_id, emb.dim)
    meta = json.loads((path / "bench-meta.json").read_text())
    log(f"scale: library of {n_chunks:,} chunks ready ({time.perf_counter() - t0:.0f} s)")
    if build_only:
        return {"chunks": n_chunks, "library": str(path), **meta}
    out: dict = {"chunks": n_chunks, "dim": emb.dim, "build_s": meta["build_s"], "k": 5,
                 "mode": "hybrid", "files": FILES, "library": str(path),
                 "disk_mib": {"total": round(_dir_size(path) / 2**20, 1),
                              "chroma": round(_dir_size(path / "chroma") / 2**20, 1),
                              "sqlite": round(sum(p.stat().st_size for p in path.glob(
                                  "library.sqlite3*")) / 2**20, 1),
                              "files": round(_dir_size(path / "files") / 2**20, 1)},
                 "targets": {"search_p95_ms": 100, "rss_gib": 4}}
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run([sys.executable, "-m", "bench", "_scalechild", str(path),
                           "--queries", str(n_queries)], env=env, capture_output=True,
                          text=True, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("HEARTH-SCALE ")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"scale child failed: {proc.stderr[-2000:]}")
    out.update(json.loads(line[-1][len("HEARTH-SCALE "):]))
    log(f"scale at {n_chunks:,}: search p50 {out['search']['p50_ms']} ms, p95 "
        f"{out['search']['p95_ms']} ms, RSS open {out['rss_open_mib']} MiB, disk "
        f"{out['disk_mib']['total']} MiB, re-index {out['reindex_unchanged']['s']} s, "
        f"forget {out['forget_one_doc']['s']} s")
    return out


if __name__ == "__main__":  # build (or resume) only: python -m bench.scale [N]
    from bench.common import offline_env
    from rag.embed.embeddings import SentenceTransformerEmbedder

    offline_env()
    _emb = SentenceTransformerEmbedder()
    print(build(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, _emb.model_id, _emb.dim))
