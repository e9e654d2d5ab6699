"""Query-side context for dense scores and one result per page (issue #29).

Both work on an existing index: no re-embedding, no new model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

# A line of a table of contents ("6.1.8 glp open tee . . . . . 140") or of a back-of-book index
# ("tracking cumulative I/O, 50"; "is.na, 17, 42-45"): leaders or a comma, then page numbers.
_ENTRY = re.compile(r"(?:(?:\.\s?){3,}|,)\s*(?:\d{1,4}|[ivxlc]{1,6})"
                    r"(?:\s*[,\u2013-]\s*\d{1,4})*\s*$", re.IGNORECASE)


def neighbour_ids(chunk_id: str, reach: int = 1) -> list[str]:
    """Ids of the chunks `reach` positions before and after (`<doc_id>:<sha>:<ordinal>`, the
    ids rag.ingest.indexer gives); none for an id without an ordinal."""
    head, _, tail = chunk_id.rpartition(":")
    if not head or not tail.isdigit():
        return []
    o = int(tail)
    return [f"{head}:{o + d}" for d in range(-reach, reach + 1) if d and o + d >= 0]


def with_context(dense: Sequence[tuple[str, float]], vec: np.ndarray,
                 vectors: Callable[[list[str]], dict[str, np.ndarray]], weight: float,
                 candidates: int) -> list[tuple[str, float]]:
    """Re-score the first `candidates` dense hits as (1 - weight) * their cosine + weight *
    the cosine of the mean of their own and their neighbours' vectors, best first.

    Why: a chunk is a fifth of a manual page, and a paraphrased question often matches the
    passage around it more than the chunk alone (the definition sits above the example).
    On the pdfqa-more tune manuals dense MRR went 0.612 -> 0.677; the deeper candidates keep
    their cosine, which is lower anyway.
    """
    if weight <= 0 or not dense:
        return list(dense)
    head = list(dense[:candidates])
    wanted = {cid for cid, _ in head}
    for cid, _ in head:
        wanted.update(neighbour_ids(cid))
    got = vectors(sorted(wanted))
    rescored = []
    for cid, sim in head:
        own = got.get(cid)
        if own is None:
            rescored.append((cid, sim))
            continue
        around = [own, *(got[n] for n in neighbour_ids(cid) if n in got)]
        mean = np.mean(around, axis=0)
        norm = float(np.linalg.norm(mean)) or 1.0
        rescored.append((cid, (1.0 - weight) * sim + weight * float(mean @ vec) / norm))
    return sorted(rescored + list(dense[candidates:]), key=lambda kv: -kv[1])


def feedback(vec: np.ndarray, top: list[str],
             vectors: Callable[[list[str]], dict[str, np.ndarray]], weight: float) -> np.ndarray:
    """The query vector moved towards the mean of its first dense hits (Rocchio's pseudo-
    relevance feedback), unit length. Why: a paraphrased question and the manual share
    little wording; the best hits carry the manual's own vocabulary for the topic, and a
    second search with it finds the pages around them."""
    got = vectors(top)
    found = [got[c] for c in top if c in got]
    if not found:
        return vec
    moved = vec + weight * np.mean(found, axis=0)
    return (moved / (float(np.linalg.norm(moved)) or 1.0)).astype(vec.dtype)


def one_per_page(fused: Sequence[tuple[str, float]], k: int,
                 rows_of: Callable[[Iterable[str]], dict], page_key: Callable[[object], object]
                 ) -> list[tuple[str, float, object]]:
    """The first `k` fused chunks, keeping only the best chunk of each page: (id, score, row).

    Why: a hit is a page. Several chunks of one page took two or three of the first five
    places and pushed other pages out (pdfqa-more tune hit@3 0.810 -> 0.845). `page_key`
    gives None for a chunk without pages (Markdown, text), which is never collapsed.
    Rows are fetched in batches: usually one batch of about 2k.
    """
    out: list[tuple[str, float, object]] = []
    seen: set = set()
    i = 0
    while len(out) < k and i < len(fused):
        batch = fused[i:i + 2 * (k - len(out)) + 8]
        i += len(batch)
        rows = rows_of(cid for cid, _ in batch)
        for cid, score in batch:
            row = rows.get(cid)
            if row is None:  # vector without text: a document half-removed by a crash
                continue
            key = page_key(row)
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            out.append((cid, score, row))
            if len(out) == k:
                break
    return out


def reference_list(text: str) -> bool:
    """A chunk of a table of contents or an index: most of its lines end in a page reference.
    Such a page names every topic and answers none."""
    lines = [line for line in text.splitlines() if line.strip()]
    entries = sum(1 for line in lines if _ENTRY.search(line))
    return entries >= 3 and entries >= 0.5 * len(lines)


def demote_lists(fused: Sequence[tuple[str, float]], rows_of: Callable[[Iterable[str]], dict],
                 factor: float, depth: int) -> list[tuple[str, float]]:
    """Scale the score of the first `depth` candidates that are contents or index entries by
    `factor`, best first again. Why: their page numbers and every section's name make them
    match any question about the manual (pdfqa-more tune: an index page was the first hit for
    "how do I confirm the setup works"), yet the page they point to is the answer."""
    if factor >= 1.0 or not fused:
        return list(fused)
    head = list(fused[:depth])
    rows = rows_of(cid for cid, _ in head)
    scored = [(cid, score * factor if cid in rows and reference_list(rows[cid].text) else score)
              for cid, score in head]
    return sorted(scored, key=lambda kv: -kv[1]) + list(fused[depth:])
