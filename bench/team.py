"""`python -m bench team`: the team library through a real `chroma run` (not run in CI).

1. SciFact test nDCG@10 through the server: the 5,183 abstracts indexed by `TeamLibrary` into a
   server library (kept in the bench cache, so reruns only check it), claims searched by a
   fresh client whose keyword mirror is built from the server.
2. Scale in server mode (`--chunks`, default 100,000): synthetic chunks (as `bench scale`)
   written straight to the server's collections, then measured in a fresh child process:
   first mirror build, RSS, search p50/p95 (k=5, hybrid), re-index of the unchanged
   10,000-file folder, forget of one document.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from bench.common import cache_dir, log, summary_ms

FILES = 10_000


class Server:
    """`chroma run` on a free loopback port over `path`, for the length of a `with`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        exe = Path(sys.executable).with_name("chroma")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.proc = subprocess.Popen([str(exe), "run", "--path", str(self.path), "--host",
                                      "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("chroma run did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _dir_mib(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def seed_from_library(lib_dir: Path, docs: Path, url: str, emb) -> dict:
    """Copy an embedded SciFact library (same pipeline key) to the server, record for record
    as `TeamLibrary` writes them. Why: embedding SciFact again takes 20-75 min on this shared
    2-core machine; the vectors and chunk text are the same either way, and the writer's
    re-index afterwards must find every file unchanged (checked by the caller)."""
    import sqlite3

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from rag.server.server_store import ServerCollections, ServerConfig
    from rag.server.team import doc_key

    t0 = time.perf_counter()
    db = sqlite3.connect(f"file:{lib_dir / 'library.sqlite3'}?mode=ro", uri=True)
    docs_rows = db.execute("SELECT id, path, title, sha256, size, mtime FROM documents "
                           "WHERE status = 'indexed'").fetchall()
    chunks = db.execute("SELECT c.chunk_id, c.doc_id, c.ordinal, c.page, c.start, c.end, f.text "
                        "FROM chunks c JOIN chunks_fts f ON f.rowid = c.rowid").fetchall()
    db.close()
    client = chromadb.PersistentClient(path=str(lib_dir / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_collection("chunks", embedding_function=None)
    vec: dict[str, np.ndarray] = {}
    for off in range(0, col.count(), 5000):
        got = col.get(include=["embeddings"], limit=5000, offset=off)
        vec.update(zip(got["ids"], np.asarray(got["embeddings"], np.float32), strict=True))
    by_doc: dict[int, list] = {}
    for row in chunks:
        by_doc.setdefault(row[1], []).append(row)
    srv = ServerCollections(ServerConfig(url, "scifact"), model_id=emb.model_id, dim=emb.dim)
    base = docs.parent
    records, ids, vecs, metas, texts = {}, [], [], [], []
    for doc_id, path, title, sha, size, mtime in docs_rows:
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        key = doc_key(rel)
        rows = sorted(by_doc.get(doc_id, []), key=lambda r: r[2])
        for cid, _d, ordinal, page, start, end, text in rows:
            ids.append(f"{key}:{sha[:12]}:{ordinal}")
            vecs.append(vec[cid])
            metas.append({"doc_key": key, "ordinal": ordinal, "page": -1 if page is None else page,
                          "start": start, "end": end})
            texts.append(text)
        records[key] = {"path": rel, "title": title, "sha": sha, "size": size, "mtime": mtime,
                        "status": "indexed", "reason": "", "chunks": len(rows),
                        "gen": uuid.uuid4().hex[:16], "updated_at": time.time()}
    srv.put_docs({k: {**r, "status": "indexing"} for k, r in records.items()})
    srv.add_chunks(ids, np.stack(vecs), metas, texts)
    srv.put_docs(records)
    srv.bump()
    srv.close()
    return {"seeded_from": str(lib_dir), "documents": len(records), "chunks": len(ids),
            "seed_s": round(time.perf_counter() - t0, 1)}


def scifact_through_server(root: str, seed_library: str | None = None,
                           modes: tuple[str, ...] = ("hybrid", "dense", "keyword")) -> dict:
    from bench.metrics import dedupe_docs, evaluate
    from bench.scifact import load_split, write_corpus
    from rag.embed.embeddings import SentenceTransformerEmbedder
    from rag.server.server_store import ServerConfig
    from rag.server.team import TeamLibrary

    base = cache_dir()
    docs = base / "scifact-docs"
    if seed_library:  # the corpus files the seed library was built from (same size/mtime)
        docs = Path(seed_library).parent / "scifact-docs"
        base = docs.parent
    else:
        write_corpus(root, docs)
    emb = SentenceTransformerEmbedder()
    emb.load()
    out: dict = {}
    with Server(cache_dir() / "team-server-scifact") as srv:
        cfg = ServerConfig(srv.url, "scifact")
        if seed_library:
            copy = Path(tempfile.mkdtemp()) / "lib"
            shutil.copytree(seed_library, copy, ignore=shutil.ignore_patterns("library.lock"))
            out["seed"] = seed_from_library(copy, docs, srv.url, emb)
            shutil.rmtree(copy.parent, ignore_errors=True)
            log(f"team scifact: seeded {out['seed']}")
        with tempfile.TemporaryDirectory() as tmp:
            with TeamLibrary(cfg, Path(tmp) / "writer", root=base, embedder=emb) as lib:
                t0 = time.perf_counter()
                report = lib.index([docs], progress=None)
                out["index_s"] = round(time.perf_counter() - t0, 1)
                out["indexed"], out["unchanged"] = report.count("indexed"), report.count("unchanged")
                log(f"team scifact: {out['indexed']} indexed, {out['unchanged']} unchanged in "
                    f"{out['index_s']} s")
            with TeamLibrary(cfg, Path(tmp) / "reader", root=base, embedder=emb) as lib:
                t0 = time.perf_counter()
                lib.refresh()
                out["reader_mirror_build_s"] = round(time.perf_counter() - t0, 1)
                out["chunks"] = lib.mirror.chunk_count()
                queries, qrels = load_split(root, "test")
                for mode in modes:
                    run, times = {}, []
                    for qid, text in queries.items():
                        t0 = time.perf_counter()
                        hits = lib.search(text, k=300, mode=mode)
                        times.append(time.perf_counter() - t0)
                        run[qid] = dedupe_docs(Path(h.path).stem for h in hits)
                    scores = evaluate(run, qrels, queries)
                    scores["latency_k300"] = summary_ms(times)
                    out[mode] = scores
                    log(f"team scifact test {mode}: nDCG@10 {scores['ndcg@10']:.4f} "
                        f"R@100 {scores['recall@100']:.4f}")
    return out


def build_server_library(srv_url: str, n_chunks: int, home: Path) -> dict:
    """Synthetic documents (real files under `home`/files) written straight to the server."""
    from bench.scale import _vectors
    from bench.search import WORDS_PER_CHUNK, _vocab, _zipf_weights
    from rag.embed.embeddings import SentenceTransformerEmbedder
    from rag.server.server_store import ServerCollections, ServerConfig
    from rag.server.team import doc_key

    emb = SentenceTransformerEmbedder()
    col = ServerCollections(ServerConfig(srv_url, "scale"), model_id=emb.model_id, dim=emb.dim)
    files = home / "files"
    files.mkdir(parents=True, exist_ok=True)
    vocab = np.array(_vocab())
    probs = _zipf_weights(len(vocab))
    rng = np.random.default_rng(23)
    topics = _vectors(rng, np.zeros((1, emb.dim), np.float32), 1000, emb.dim)
    per_doc = max(1, n_chunks // FILES)
    t0 = time.perf_counter()
    ids, vecs, metas, texts, records = [], [], [], [], {}
    done = 0
    for d in range(FILES):
        n = per_doc if d < FILES - 1 else n_chunks - done
        f = files / f"doc-{d:05d}.txt"
        f.write_text(f"Synthetic document {d}.\n", encoding="utf-8")
        st = f.stat()
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        rel = f"files/{f.name}"
        key = doc_key(rel)
        words = rng.choice(vocab, size=(n, WORDS_PER_CHUNK), p=probs)
        ids += [f"{key}:{sha[:12]}:{i}" for i in range(n)]
        vecs.append(_vectors(rng, topics, n, emb.dim))
        metas += [{"doc_key": key, "ordinal": i, "page": -1, "start": 0, "end": 0}
                  for i in range(n)]
        texts += [" ".join(w) for w in words]
        records[key] = {"path": rel, "title": f.stem, "sha": sha, "size": st.st_size,
                        "mtime": st.st_mtime, "status": "indexed", "reason": "", "chunks": n,
                        "gen": uuid.uuid4().hex[:16], "updated_at": time.time()}
        done += n
        if len(ids) >= col.max_batch or d == FILES - 1:
            col.add_chunks(ids, np.concatenate(vecs), metas, texts)
            col.put_docs(records)
            ids, vecs, metas, texts, records = [], [], [], [], {}
            if d % 1000 < per_doc or d == FILES - 1:
                log(f"team scale build: {done:,} chunks in {time.perf_counter() - t0:.0f} s")
    col.bump()
    col.close()
    return {"build_s": round(time.perf_counter() - t0, 1)}


def child(url: str, home: str, n_queries: int) -> dict:
    """A fresh client: mirror build, RSS, searches, unchanged re-index, forget one document."""
    import psutil

    from bench.search import _queries, measure
    from rag.embed.embeddings import SentenceTransformerEmbedder
    from rag.server.server_store import ServerConfig
    from rag.server.team import TeamLibrary

    proc = psutil.Process()
    emb = SentenceTransformerEmbedder()
    emb.load()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        with TeamLibrary(ServerConfig(url, "scale"), tmp, root=home, embedder=emb) as lib:
            t0 = time.perf_counter()
            lib.refresh()
            out["first_mirror_build_s"] = round(time.perf_counter() - t0, 1)
            out["mirror_disk_mib"] = _dir_mib(Path(tmp))
            out["rss_open_mib"] = round(proc.memory_info().rss / 2**20, 1)
            res = measure(lib, _queries(n_queries))
            out["search"], out["parts"] = res["search"], res["parts"]
            out["rss_after_search_mib"] = round(proc.memory_info().rss / 2**20, 1)
            t0 = time.perf_counter()
            report = lib.index([Path(home) / "files"])
            out["reindex_unchanged"] = {"s": round(time.perf_counter() - t0, 2),
                                        "unchanged": report.count("unchanged")}
            target = Path(home) / "files" / "doc-00042.txt"
            t0 = time.perf_counter()
            n = lib.forget_many([target])
            out["forget_one_doc"] = {"s": round(time.perf_counter() - t0, 3), "documents": n}
            t0 = time.perf_counter()
            lib.index([target])  # put it back (real MiniLM on its one line)
            out["index_one_file_s"] = round(time.perf_counter() - t0, 2)
    return out


def bench_team(scifact: str | None, n_chunks: int = 100_000, n_queries: int = 100,
               seed_library: str | None = None, modes: str = "hybrid,dense,keyword") -> dict:
    out: dict = {"chroma_server": "chroma run (chromadb package)"}
    if scifact:
        out["scifact"] = scifact_through_server(scifact, seed_library,
                                                tuple(m for m in modes.split(",") if m))
    if n_chunks <= 0:
        return out
    home = cache_dir() / f"team-scale-{n_chunks}"
    srv_dir = home / "server"
    meta_path = home / "bench-meta.json"
    if not meta_path.exists():
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
    with Server(srv_dir) as srv:
        if not meta_path.exists():
            meta_path.write_text(json.dumps(build_server_library(srv.url, n_chunks, home)))
        meta = json.loads(meta_path.read_text())
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        proc = subprocess.run([sys.executable, "-m", "bench", "_teamchild", srv.url,
                               "--library", str(home), "--queries", str(n_queries)],
                              env=env, capture_output=True, text=True, check=False)
        line = [x for x in proc.stdout.splitlines() if x.startswith("HEARTH-TEAM ")]
        if proc.returncode != 0 or not line:
            raise RuntimeError(f"team child failed: {proc.stderr[-2000:]}")
        res = json.loads(line[-1][len("HEARTH-TEAM "):])
    out["scale"] = {"chunks": n_chunks, "files": FILES, "k": 5, "mode": "hybrid",
                    "build_s": meta["build_s"], "server_disk_mib": _dir_mib(srv_dir), **res}
    log(f"team scale at {n_chunks:,}: search p50 {res['search']['p50_ms']} ms, p95 "
        f"{res['search']['p95_ms']} ms, RSS {res['rss_open_mib']} MiB, mirror "
        f"{res['first_mirror_build_s']} s")
    return out
