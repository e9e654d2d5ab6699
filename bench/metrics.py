"""IR metrics and BEIR file readers, dependency-free so anyone can recompute our figures.

nDCG@k follows BEIR/pytrec_eval: gain = graded relevance, discount log2(rank + 1), ideal DCG from
the judged documents sorted by relevance. Recall@k = relevant found in the top k / all relevant.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    rel = {d for d, g in relevant.items() if g > 0}
    if not rel:
        return 0.0
    return len(rel.intersection(ranked[:k])) / len(rel)


def evaluate(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
             query_ids: Iterable[str] | None = None) -> dict:
    """Mean nDCG@10 and Recall@100 over the judged queries (a query with no results scores 0)."""
    qids = [q for q in (query_ids if query_ids is not None else qrels) if q in qrels]
    if not qids:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "queries": 0}
    nd = [ndcg_at_k(run.get(q, []), qrels[q], 10) for q in qids]
    rc = [recall_at_k(run.get(q, []), qrels[q], 100) for q in qids]
    return {"ndcg@10": sum(nd) / len(nd), "recall@100": sum(rc) / len(rc), "queries": len(qids)}


def dedupe_docs(doc_ids: Iterable[str]) -> list[str]:
    """Chunk-level ranking -> document ranking: a document takes the rank of its best chunk."""
    seen: set[str] = set()
    out: list[str] = []
    for d in doc_ids:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (query-id, corpus-id, score) with a header row."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for row in reader:
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels
