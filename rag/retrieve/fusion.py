"""Rank fusion of dense and keyword results (weighted reciprocal rank fusion)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def rrf(rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: int = 60
        ) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum_i w_i / (k + rank_i), rank starting at 1.

    Reciprocal rank fusion needs no score calibration between BM25 and cosine, which is why it
    is robust across corpora (Cormack et al., 2009).
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _minmax(scored: Sequence[tuple[str, float]], floor: float | None = None) -> dict[str, float]:
    """Scale one ranker's scores to 0..1: top score -> 1, `floor` (or the lowest seen) -> 0."""
    if not scored:
        return {}
    hi = max(s for _, s in scored)
    lo = min(s for _, s in scored) if floor is None else min(floor, hi)
    if hi <= lo:
        return {item: 1.0 for item, _ in scored}
    return {item: (s - lo) / (hi - lo) for item, s in scored}


def convex(scored: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float] | None = None,
           group_of: Callable[[str], str] | None = None, group_weight: float = 0.0,
           second_weight: float = 0.0, floors: Sequence[float | None] | None = None,
           window: int = 0, ordinal_of: Callable[[str], int] | None = None
           ) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores (missing = 0), plus document-level evidence.

    Why not only RRF: ranks throw away how far ahead the top match is; a convex combination of
    normalised scores keeps it and beat RRF on SciFact train claims (Bruch et al., 2023 found the
    same across BEIR). Why groups: a document's best dense chunk and best keyword chunk are often
    different chunks; `group_weight` adds, to every chunk, the weighted best normalised scores of
    its document in each ranker, so a document both rankers like is not split in two;
    `second_weight` also counts the document's second-best chunk (two matching passages are
    more evidence than one; chosen on SciFact train claims).

    `floors` gives each ranker a fixed score that maps to 0 (0 for cosine and for BM25: the
    "theoretical" min-max of Bruch et al.). Then a chunk's normalised score no longer depends
    on how deep the candidate lists go, so asking for 10 results gives the first 10 of 100.

    `window` > 0 (with `ordinal_of`) narrows the evidence from the whole document to the chunks
    within `window` positions of each chunk: in a 200-page manual the document's best match says
    little about a passage 80 pages away, while its neighbours on the same page do. Short
    documents (an abstract: 1-3 chunks) get the same evidence either way.
    """
    weights = list(weights) if weights is not None else [1.0] * len(scored)
    if len(weights) != len(scored):
        raise ValueError("one weight per ranking")
    floors = list(floors) if floors is not None else [None] * len(scored)
    if len(floors) != len(scored):
        raise ValueError("one floor per ranking")
    total = sum(weights) or 1.0
    norms = [_minmax(lst, lo) for lst, lo in zip(scored, floors, strict=True)]
    scores: dict[str, float] = {}
    for norm, w in zip(norms, weights, strict=True):
        for item, v in norm.items():
            scores[item] = scores.get(item, 0.0) + (w / total) * v
    if group_of is not None and group_weight and window > 0 and ordinal_of is not None:
        near = _window_evidence(norms, weights, total, group_of, ordinal_of, window, scores)
        scale = 1.0 / (1.0 + group_weight)
        return sorted(((item, (s + group_weight * near[item]) * scale)
                       for item, s in scores.items()), key=lambda kv: (-kv[1], kv[0]))
    if group_of is not None and group_weight:
        group: dict[str, float] = {}
        for norm, w in zip(norms, weights, strict=True):
            top2: dict[str, list[float]] = {}
            for item, v in norm.items():
                pair = top2.setdefault(group_of(item), [0.0, 0.0])
                if v > pair[0]:
                    pair[0], pair[1] = v, pair[0]
                elif v > pair[1]:
                    pair[1] = v
            for g, (first, second) in top2.items():
                group[g] = group.get(g, 0.0) + (w / total) * (first + second_weight * second)
        # Scaled back to 0..1 (1 = top of both rankers, with its document's evidence), so the
        # score a user sees means the same whatever the weights.
        scale = 1.0 / (1.0 + group_weight * (1.0 + second_weight))
        scores = {item: (s + group_weight * group[group_of(item)]) * scale
                  for item, s in scores.items()}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _window_evidence(norms: list[dict[str, float]], weights: Sequence[float], total: float,
                     group_of: Callable[[str], str], ordinal_of: Callable[[str], int],
                     window: int, items: dict[str, float]) -> dict[str, float]:
    """For each item: the weighted best normalised score, per ranker, among the items of its
    group whose ordinal is within `window` of its own (itself included)."""
    out = dict.fromkeys(items, 0.0)
    for norm, w in zip(norms, weights, strict=True):
        by_group: dict[str, dict[int, float]] = {}
        for item, v in norm.items():
            slots = by_group.setdefault(group_of(item), {})
            o = ordinal_of(item)
            slots[o] = max(slots.get(o, 0.0), v)
        for item in items:
            slots = by_group.get(group_of(item))
            if not slots:
                continue
            o = ordinal_of(item)
            best = max((slots.get(j, 0.0) for j in range(o - window, o + window + 1)),
                       default=0.0)
            out[item] += (w / total) * best
    return out
