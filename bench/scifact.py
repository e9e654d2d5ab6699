"""Retrieval quality on BEIR SciFact, measured through Hearth's own pipeline.

Each abstract becomes a Markdown file `<doc_id>.md` ("# Title" + abstract), so the real loader,
title-aware chunking, MiniLM embedder, chroma store and FTS5 index are all exercised. A document's
rank is that of its best chunk (we ask for 300 chunks, enough for Recall@100 at document level).
The indexed library lives in a cache dir keyed by the chunking config and code, so reruns only
pay for (and measure) the re-index of an unchanged set.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from bench.common import RESULTS_DIR, cache_dir, log
from bench.metrics import dedupe_docs, evaluate, read_jsonl, read_qrels

SEARCH_K = 300  # chunks per query: ~1-3 chunks per abstract, so >= 100 distinct documents
RUN_DEPTH = 100  # documents kept per query in scifact_run.json
ANCHORS = {
    "published": {"dense (MiniLM-L6, MTEB)": 0.645, "BM25": "0.665-0.686", "RRF": "~0.71"},
    "this machine, whole abstracts": {"dense": 0.649, "BM25 (bm25s)": 0.686, "RRF": 0.721},
    "target (hybrid)": 0.74,
}
MODES = ("dense", "keyword", "hybrid")
# Earlier defaults, scored in the same run so before/after compare on equal terms.
PREVIOUS = {
    "hybrid-rrf": dict(fusion="rrf", dense_candidates=50, keyword_candidates=50,  # first default
                       dense_weight=1.0, keyword_weight=1.0),
    "hybrid-minmax": dict(fusion="convex", normalise="minmax", dense_candidates=100,
                          keyword_candidates=100, dense_weight=1.0, keyword_weight=1.0),
}
CLI_K = 100  # chunks per `hearth search` in the CLI check: any k <= the candidate depth agrees


def load_split(root: str | Path, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(query id -> text, qrels) for `test` (queries.jsonl) or `train` (queries-train.jsonl)."""
    root = Path(root)
    qfile = root / ("queries.jsonl" if split == "test" else f"queries-{split}.jsonl")
    qrels = read_qrels(root / "qrels" / f"{split}.tsv")
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(qfile)}
    return {q: t for q, t in queries.items() if q in qrels}, qrels


def doc_file_text(title: str, text: str) -> str:
    return f"# {title.strip()}\n\n{text.strip()}\n" if title.strip() else text.strip() + "\n"


def write_corpus(root: str | Path, dest: Path, limit: int | None = None) -> int:
    """Write each abstract as `<dest>/<id>.md`; unchanged files are left alone (mtime kept)."""
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for doc in read_jsonl(Path(root) / "corpus.jsonl")[:limit]:
        path = dest / f"{doc['_id']}.md"
        body = doc_file_text(doc.get("title", ""), doc.get("text", ""))
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
        n += 1
    return n


def pipeline_key(chunking, embedder_id: str) -> str:
    """Changes to chunking settings or the code that shapes chunks invalidate the cached index."""
    import rag.ingest.chunking
    import rag.loaders.text
    from bench.pdfqa import embedder_code

    h = hashlib.sha256(json.dumps(asdict(chunking), sort_keys=True).encode())
    h.update(embedder_id.encode() + embedder_code(embedder_id))
    for mod in (rag.ingest.chunking, rag.loaders.text):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:12]


def open_indexed(root: str | Path, *, limit: int | None = None, embedder=None, chunking=None,
                 base: Path | None = None):
    """(Library, info): index the corpus into the cache (or re-index it: a no-op when unchanged)."""
    from bench.pdfqa import embedder_tag
    from rag.embed.embed_onnx import make_embedder
    from rag.ingest.chunking import ChunkingConfig
    from rag.library import Library

    chunking = chunking or ChunkingConfig()
    embedder = embedder or make_embedder()
    base = base or cache_dir()
    tag = f"scifact{'' if limit is None else f'-{limit}'}"
    docs = base / f"{tag}-docs"
    t0 = time.perf_counter()
    n_docs = write_corpus(root, docs, limit)
    write_s = time.perf_counter() - t0
    lib_dir = base / f"{tag}-lib-{pipeline_key(chunking, f'{embedder.model_id}:{embedder_tag(embedder)}')}"
    meta_path = lib_dir / "bench-meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    lib = Library.open(lib_dir, embedder=embedder, chunking=chunking, owner="hearth bench")
    fresh = not meta.get("complete")
    log(f"SciFact: {n_docs} docs -> {lib_dir} ({'indexing' if fresh else 're-index check'})")
    t0 = time.perf_counter()
    report = lib.index([docs])
    seconds = time.perf_counter() - t0
    chunks = lib.status()["chunks"]
    if fresh:
        meta = {"complete": True, "index_s": round(seconds, 2), "chunks": chunks,
                "embedder": embedder_tag(embedder), "documents": n_docs, "indexed": report.count("indexed")}
        meta_path.write_text(json.dumps(meta, indent=2))
    info = {**meta, "write_files_s": round(write_s, 2), "library": str(lib_dir),
            "this_run_index_s": round(seconds, 3), "this_run_indexed": report.count("indexed"),
            "this_run_unchanged": report.count("unchanged"), "failed": report.count("failed")}
    if not fresh:
        info["reindex_unchanged_s"] = round(seconds, 3)
        info["reindex_fraction"] = round(seconds / meta["index_s"], 4) if meta.get("index_s") else None
    return lib, info


def run_queries(lib, queries: dict[str, str], mode: str, k: int = SEARCH_K
                ) -> tuple[dict[str, list[str]], list[float]]:
    """query id -> ranked document ids (best chunk wins), plus per-query search seconds."""
    run: dict[str, list[str]] = {}
    times: list[float] = []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        hits = lib.search(text, k=k, mode=mode)
        times.append(time.perf_counter() - t0)
        run[qid] = dedupe_docs(Path(h.path).stem for h in hits)
    return run, times


def bench_scifact(root: str | Path, *, limit: int | None = None, splits=("test",),
                  save_run: bool = True, cli_check: int = 0) -> dict:
    from bench.common import summary_ms

    lib, info = open_indexed(root, limit=limit)
    out: dict = {"index": info, "anchors": ANCHORS, "search_k_chunks": SEARCH_K,
                 "retrieval_config": asdict(lib.retrieval_config),
                 "chunking_config": asdict(lib.chunking), "scores": {}}
    default_cfg = lib.retrieval_config
    try:
        for split in splits:
            queries, qrels = load_split(root, split)
            for mode in (*MODES, *PREVIOUS):
                if mode in PREVIOUS:
                    lib.retrieval_config = replace(default_cfg, **PREVIOUS[mode])
                run, times = run_queries(lib, queries, "hybrid" if mode in PREVIOUS else mode)
                lib.retrieval_config = default_cfg
                scores = evaluate(run, qrels, queries)
                scores["halves"] = halves(run, qrels, list(queries))
                scores["latency"] = summary_ms(times)
                out["scores"].setdefault(split, {})[mode] = scores
                log(f"SciFact {split:5s} {mode:10s} nDCG@10={scores['ndcg@10']:.4f} "
                    f"R@100={scores['recall@100']:.4f} (n={scores['queries']})")
                if split == "test" and mode == "hybrid" and save_run:
                    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                    (RESULTS_DIR / "scifact_run.json").write_text(json.dumps(
                        {q: docs[:RUN_DEPTH] for q, docs in run.items()}, indent=0))
                    out["_test_hybrid_run"] = run
    finally:
        lib.close()
    test_run = out.pop("_test_hybrid_run", None)
    if cli_check and test_run:
        out["cli_check"] = check_cli(root, Path(info["library"]), test_run, cli_check)
    return out


def halves(run: dict[str, list[str]], qrels, qids: list[str]) -> list[float]:
    """nDCG@10 on the even- and odd-numbered queries: how far two halves of one split disagree
    shows how much of a difference between settings is noise."""
    return [round(evaluate(run, qrels, qids[i::2])["ndcg@10"], 4) for i in (0, 1)]


def check_cli(root: str | Path, lib_dir: Path, run: dict[str, list[str]], n: int) -> dict:
    """Run the first `n` test claims through `hearth search --queries FILE -k 100 --json` (one
    process) and score what the CLI printed: its rankings and nDCG@10 must match ours."""
    import subprocess
    import sys
    import tempfile

    queries, qrels = load_split(root, "test")
    ids = list(queries)[:n]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for qid in ids:
            fh.write(json.dumps({"_id": qid, "text": queries[qid]}) + "\n")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "app", "--data-dir", str(lib_dir), "search", "--queries",
             fh.name, "-k", str(CLI_K), "--json"], capture_output=True, text=True, timeout=1800)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:] or f"exit {proc.returncode}"}
    cli_run = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        cli_run[row["id"]] = dedupe_docs(Path(h["path"]).stem for h in row["hits"])
    top10 = sum(1 for q in ids if len(cli_run.get(q, [])) >= 10
                and cli_run[q][:10] == run[q][:10])
    # Deeper down, near-equal scores can swap between processes (approximate HNSW search,
    # float rounding of the query vector); counted separately, they never reach the top 10 here.
    whole = sum(1 for q in ids if cli_run.get(q) == run[q][:len(cli_run.get(q, []))])
    ours = evaluate({q: run[q] for q in ids}, qrels, ids)["ndcg@10"]
    theirs = evaluate(cli_run, qrels, ids)["ndcg@10"]
    return {"claims": len(ids), "k": CLI_K, "top10_identical": top10, "whole_list_identical": whole,
            "ndcg@10_cli": round(theirs, 4), "ndcg@10_bench": round(ours, 4)}
