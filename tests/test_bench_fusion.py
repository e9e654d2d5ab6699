"""The fusion the benchmark tuned (convex + document evidence): behaviour checked by hand."""

from __future__ import annotations

import math

import pytest

from rag.retrieve.fusion import convex
from rag.retrieve.retrieval import RetrievalConfig, doc_key


def test_convex_keeps_score_margins_that_ranks_lose():
    dense = [("a", 0.9), ("b", 0.2), ("c", 0.1)]  # a is far ahead in meaning
    keyword = [("b", 10.0), ("a", 9.5), ("c", 1.0)]  # b barely ahead on words
    fused = dict(convex([dense, keyword]))
    # a: 0.5*1 + 0.5*(8.5/9) ; b: 0.5*(0.1/0.8) + 0.5*1
    assert math.isclose(fused["a"], 0.5 + 0.5 * 8.5 / 9)
    assert math.isclose(fused["b"], 0.5 * 0.125 + 0.5)
    assert max(fused, key=fused.get) == "a"


def test_document_evidence_joins_chunks_of_the_same_document():
    dense = [("1:x:0", 0.9), ("2:y:0", 0.6), ("1:x:1", 0.1)]
    keyword = [("1:x:1", 5.0), ("2:y:0", 3.0), ("1:x:0", 0.0)]
    plain = convex([dense, keyword])
    grouped = convex([dense, keyword], group_of=doc_key, group_weight=1.0)
    assert plain[0][0] == "2:y:0"  # doc 2's single chunk is good on both
    assert doc_key(grouped[0][0]) == "1"  # doc 1 is the best on both, via two chunks
    assert all(0.0 <= score <= 1.0 for _, score in grouped)  # scaled back to 0..1
    top = convex([[("a:1", 0.9)], [("a:1", 7.0)]], group_of=doc_key, group_weight=1.0,
                 floors=(0.0, 0.0))
    assert math.isclose(top[0][1], 1.0)  # first in both rankers = 1


def test_convex_edge_cases():
    assert convex([[], []]) == []
    assert convex([[("only", 0.3)], []]) == [("only", 0.5)]  # a lone candidate scores 1 * w
    with pytest.raises(ValueError):
        convex([[("a", 1.0)]], [1.0, 2.0])


def test_fixed_floors_make_scores_independent_of_depth():
    dense = [("a", 0.8), ("b", 0.6), ("c", 0.5), ("d", 0.2)]
    keyword = [("b", 12.0), ("a", 6.0), ("d", 3.0), ("c", 1.0)]
    deep = dict(convex([dense, keyword], floors=(0.0, 0.0)))
    shallow = dict(convex([dense[:2], keyword[:2]], floors=(0.0, 0.0)))
    assert math.isclose(deep["a"], 0.5 * 1.0 + 0.5 * 0.5)  # 0.8/0.8 and 6/12
    assert all(math.isclose(shallow[x], deep[x]) for x in shallow)
    observed = dict(convex([dense[:2], keyword[:2]]))  # observed min-max: depth changes scores
    assert not math.isclose(observed["a"], dict(convex([dense, keyword]))["a"])
    with pytest.raises(ValueError):
        convex([dense, keyword], floors=(0.0,))


def test_defaults_use_the_tuned_fusion():
    cfg = RetrievalConfig()
    assert cfg.fusion == "convex" and cfg.normalise == "theoretical" and cfg.doc_weight > 0
    assert cfg.dense_candidates >= 300 and cfg.keyword_candidates >= 300
