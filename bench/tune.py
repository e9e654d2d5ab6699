"""Offline tuning of fusion on SciFact *train* claims (never the test queries).

Candidate lists (dense and keyword, chunk level) are fetched once per query from the cached
library, then fusion variants are scored in pure Python, so a grid costs seconds. The chosen
settings go into `RetrievalConfig` defaults and are then confirmed through `Library.search`.
Run: `python -m bench.tune --scifact PATH`.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from pathlib import Path

from bench.metrics import dedupe_docs, evaluate

POOL = 300


def collect(lib, queries: dict[str, str], pool: int = POOL) -> dict[str, dict]:
    """Both candidate lists exactly as `Retriever.search` builds them (common terms pruned)."""
    from rag.retrieve.retrieval import Retriever

    retriever = Retriever(lib.manifest, lib.store, lib.embedder, lib.retrieval_config)
    out = {}
    for qid, text in queries.items():
        vec = lib.embedder.embed([text])[0]
        dense = lib.store.query(vec, pool)
        kw = retriever._keyword(text, pool, None)
        out[qid] = {"dense": [(c, 1.0 - d) for c, d in dense], "keyword": kw}
    return out


def doc_of(cid: str) -> str:
    return cid.split(":", 1)[0]


def fuse_variant(cands: dict, fn: Callable[[dict], list[str]], doc_name: dict[str, str]
                 ) -> dict[str, list[str]]:
    return {q: dedupe_docs(doc_name[doc_of(c)] for c in fn(c_)) for q, c_ in cands.items()}


def rrf_fn(wd: float, wk: float, k: int, depth_d: int, depth_k: int, doc_level: float = 0.0):
    """Weighted RRF at chunk level, plus `doc_level` x RRF over each document's best ranks."""
    def fn(c: dict) -> list[str]:
        scores: dict[str, float] = {}
        doc_scores: dict[str, float] = {}
        for lst, w, depth in ((c["dense"], wd, depth_d), (c["keyword"], wk, depth_k)):
            seen_docs: dict[str, int] = {}
            for r, (cid, _) in enumerate(lst[:depth], 1):
                scores[cid] = scores.get(cid, 0.0) + w / (k + r)
                d = doc_of(cid)
                if d not in seen_docs:
                    seen_docs[d] = len(seen_docs) + 1
                    doc_scores[d] = doc_scores.get(d, 0.0) + w / (k + seen_docs[d])
        if doc_level:
            for cid in scores:
                scores[cid] += doc_level * doc_scores.get(doc_of(cid), 0.0)
        return [cid for cid, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
    return fn


def convex_fn(alpha: float, depth: int, doc_level: float = 0.0, theoretical: bool = True):
    """alpha * normalised cosine + (1 - alpha) * normalised BM25 (Bruch et al. 2023, TM2C2).

    theoretical: scores scale from 0 (cosine 0, BM25 0) instead of the lowest candidate's."""
    def norm(lst, lo_fixed):
        if not lst:
            return {}
        hi = max(s for _, s in lst)
        lo = lo_fixed if lo_fixed is not None else min(s for _, s in lst)
        span = (hi - lo) or 1.0
        return {cid: (s - lo) / span for cid, s in lst}

    def fn(c: dict) -> list[str]:
        d = norm(c["dense"][:depth], 0.0 if theoretical else None)
        k = norm(c["keyword"][:depth], 0.0 if theoretical else None)
        scores = {cid: alpha * d.get(cid, 0.0) + (1 - alpha) * k.get(cid, 0.0)
                  for cid in set(d) | set(k)}
        if doc_level:
            best: dict[str, float] = {}
            for comp, w in ((d, alpha), (k, 1 - alpha)):
                per_doc: dict[str, float] = {}
                for cid, v in comp.items():
                    per_doc[doc_of(cid)] = max(per_doc.get(doc_of(cid), 0.0), v)
                for doc, v in per_doc.items():
                    best[doc] = best.get(doc, 0.0) + w * v
            scores = {cid: s + doc_level * best.get(doc_of(cid), 0.0) for cid, s in scores.items()}
        return [cid for cid, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
    return fn


def main(argv=None) -> int:
    from bench.common import cache_dir, offline_env
    from bench.scifact import load_split, open_indexed

    ap = argparse.ArgumentParser()
    ap.add_argument("--scifact", required=True)
    ap.add_argument("--split", default="train")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    offline_env()
    lib, info = open_indexed(args.scifact, limit=args.limit)
    try:
        queries, qrels = load_split(args.scifact, args.split)
        cache = cache_dir() / f"tune2-{args.split}-{Path(info['library']).name}.json"
        if cache.exists():
            cands = json.loads(cache.read_text())
        else:
            cands = collect(lib, queries)
            cache.write_text(json.dumps(cands))
        doc_name = {str(r.id): r.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                    for r in lib.documents()}
    finally:
        lib.close()
    results = []
    grid = itertools.product((1.0,), (0.6, 0.8, 1.0, 1.2, 1.5), (10, 30, 60),
                             (50, 100, 300), (0.0, 0.5, 1.0, 2.0))
    for wd, wk, k, depth, dl in grid:
        run = fuse_variant(cands, rrf_fn(wd, wk, k, depth, depth, dl), doc_name)
        s = evaluate(run, qrels, queries)
        results.append((s["ndcg@10"], s["recall@100"], dict(wd=wd, wk=wk, k=k, depth=depth, doc=dl)))
    for alpha, depth, dl, theo in itertools.product((0.4, 0.45, 0.5, 0.55, 0.6, 0.7), (100, 300),
                                                    (0.0, 0.5, 1.0), (True, False)):
        run = fuse_variant(cands, convex_fn(alpha, depth, dl, theo), doc_name)
        s = evaluate(run, qrels, queries)
        results.append((s["ndcg@10"], s["recall@100"],
                        dict(convex=alpha, depth=depth, doc=dl, theoretical=theo)))
    for mode in ("dense", "keyword"):
        run = {q: dedupe_docs(doc_name[doc_of(cid)] for cid, _ in c[mode]) for q, c in cands.items()}
        print(mode, json.dumps(evaluate(run, qrels, queries)))
    results.sort(key=lambda r: -r[0])
    for nd, rc, cfg in results[:15]:
        print(f"nDCG@10 {nd:.4f} R@100 {rc:.4f} {cfg}")
    for label, want in (("first default (RRF 50+50)", dict(wd=1.0, wk=1.0, k=60, depth=50, doc=0.0)),
                        ("current default", dict(convex=0.55, depth=300, doc=1.0, theoretical=True))):
        for nd, rc, cfg in results:
            if cfg == want:
                print(f"{label}: nDCG@10 {nd:.4f} R@100 {rc:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
