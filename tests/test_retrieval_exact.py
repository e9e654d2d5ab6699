"""Retrieval regressions on real libraries (issue 18 item 8, issue 12).

A query whose rare word occurs verbatim in one chunk must surface that chunk first, even in a
1,000-chunk library where the embedder finds a hundred chunks that merely look alike. Real
embedder, real chroma, real FTS5; the documents are written in the test.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from rag.library import Library
from rag.retrieve.fusion import convex
from rag.retrieve.retrieval import chunk_ordinal, doc_key

TOPICS = ("boiler pressure", "radiator valve", "garden hose", "kitchen tap", "roof tiles",
          "window frame", "door hinge", "attic insulation", "water heater", "chimney flue")
FILLER = ("the engineer checked the {t} and wrote that it needs service before winter; "
          "the owner asked how much the {t} repair would cost and when it could be done. "
          "Parts for the {t} arrive next week and the invoice lists labour and materials.")


@pytest.fixture(scope="module")
def big_library(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("exact")
    docs = root / "docs"
    docs.mkdir()
    rng = random.Random(7)
    for i in range(1000):
        topic = rng.choice(TOPICS)
        text = FILLER.format(t=topic) + f" Job number {i}."
        if i == 613:
            text += " The access code for the shed is zqcanary011x, keep it private."
        (docs / f"note{i:04d}.txt").write_text(text + "\n")
    lib = Library.open(root / "data", embedder=embedder)
    lib.index([docs])
    yield lib
    lib.close()


def test_library_has_a_thousand_chunks(big_library):
    assert big_library.status()["chunks"] == 1000


@pytest.mark.parametrize("query", ["zqcanary011x", "what is zqcanary011x",
                                   "shed access code zqcanary011x"])
def test_rare_exact_word_comes_first(big_library, query):
    """Default settings: the top keyword candidates get their real cosine (`rescore_keyword`)."""
    hits = big_library.search(query, k=5)
    assert hits, "no results"
    assert hits[0].path.endswith("note0613.txt"), [h.path for h in hits]
    assert "zqcanary011x" in hits[0].text


def test_keyword_mode_agrees(big_library):
    assert big_library.search("zqcanary011x", k=1, mode="keyword")[0].path.endswith(
        "note0613.txt")


def test_window_evidence_stays_local():
    """A chunk far from the document's best match gets no credit from it; its neighbour does."""
    dense = [("1:s:0", 1.0), ("1:s:1", 0.2), ("1:s:40", 0.5), ("2:s:0", 0.6)]
    keyword = [("1:s:0", 5.0), ("2:s:0", 4.0)]
    whole = dict(convex([dense, keyword], group_of=doc_key, group_weight=1.0,
                        floors=(0.0, 0.0)))
    local = dict(convex([dense, keyword], group_of=doc_key, group_weight=1.0,
                        floors=(0.0, 0.0), window=2, ordinal_of=chunk_ordinal))
    assert whole["1:s:40"] > whole["1:s:1"]  # whole-document evidence lifts the far chunk
    assert local["1:s:1"] > local["1:s:40"]  # local evidence lifts the best one's neighbour
    assert local["1:s:40"] < whole["1:s:40"] and local["1:s:1"] == whole["1:s:1"]
    assert local["1:s:0"] == pytest.approx(1.0) and local["2:s:0"] == whole["2:s:0"]


def test_without_rescoring_the_exact_word_lost(big_library):
    """What the default fixes: with keyword-only candidates at dense 0, look-alikes won."""
    default = big_library.retrieval_config
    big_library.retrieval_config = replace(default, rescore_keyword=0)
    try:
        hits = big_library.search("zqcanary011x", k=5)
    finally:
        big_library.retrieval_config = default
    assert not hits[0].path.endswith("note0613.txt")
