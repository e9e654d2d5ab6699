"""Two retrieval mechanisms of issue 29. Contents and index pages name every topic and answer
none: they rank below the pages they point to. Dense feedback moves the query towards its first
hits, yet a hit's similarity stays its cosine to the question. Real PDF, real MiniLM, chroma
and FTS5."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.library import Library
from rag.retrieve.context import reference_list
from tests.makedocs import make_pdf

CONTENTS = "\n".join([
    "Contents",
    "1 Descaling the kettle . . . . . . . . . . . . 3",
    "2 Cleaning the oven . . . . . . . . . . . . . . 4",
    "3 Washing the car . . . . . . . . . . . . . . . 5",
    "4 Resetting the boiler . . . . . . . . . . . . 6",
])
INDEX = "\n".join([
    "Index", "boiler, resetting, 6", "car, washing, 5", "descaling, 3", "kettle, 3, 7",
    "oven, cleaning, 4",
])
PROSE = ("Descaling the kettle. Fill it halfway with water and a cup of vinegar, bring it to "
         "the boil, leave it for an hour and rinse it well.")


def test_contents_and_index_are_reference_lists():
    assert reference_list(CONTENTS)
    assert reference_list(INDEX)
    assert not reference_list(PROSE)
    # a table of figures ends its rows in numbers too, but without leaders or a comma
    assert not reference_list("Model Watts Litres\nK100 2200 1.7\nK200 3000 1.5\nK300 2400 1")
    assert not reference_list("See page 3.\nSee page 4.")  # too few lines to be a list


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("lists")
    docs = root / "docs"
    docs.mkdir()
    make_pdf(docs / "home.pdf", [CONTENTS, INDEX, PROSE,
                                 "Cleaning the oven: spray the door and wipe it after ten "
                                 "minutes."], title="Home care")
    lib = Library.open(root / "lib", embedder=embedder)
    lib.index([docs])
    yield lib
    lib.close()


def test_the_page_comes_before_the_lists_that_name_it(library):
    hits = library.search("How do I descale my kettle?", k=4)
    pages = [h.page for h in hits]
    assert pages[0] == 3
    assert {1, 2} <= set(pages)  # still found, below it
    assert all(hits[0].score > h.score for h in hits if h.page in (1, 2))


def test_demotion_can_be_turned_off(library):
    default = library.retrieval_config
    try:
        library.retrieval_config = replace(default, list_factor=1.0)
        plain = {h.page: h.score for h in library.search("How do I descale my kettle?", k=4)}
        library.retrieval_config = default
        demoted = {h.page: h.score for h in library.search("How do I descale my kettle?", k=4)}
    finally:
        library.retrieval_config = default
    assert demoted[1] == pytest.approx(plain[1] * default.list_factor)
    assert demoted[3] == pytest.approx(plain[3])


def test_feedback_moves_the_query_towards_its_first_hits():
    import numpy as np

    from rag.retrieve.context import feedback

    q = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    got = {"a": np.array([0.0, 1.0, 0.0], dtype=np.float32),
           "b": np.array([0.0, 0.0, 1.0], dtype=np.float32)}
    moved = feedback(q, ["a", "b", "gone"], lambda ids: {i: got[i] for i in ids if i in got}, 1.0)
    assert moved.dtype == np.float32
    assert np.linalg.norm(moved) == pytest.approx(1.0)
    assert moved @ got["a"] > 0 and moved @ got["b"] > 0 and moved @ q < 1.0
    assert feedback(q, ["gone"], lambda ids: {}, 1.0) is q  # nothing found: unchanged


def test_feedback_keeps_the_similarity_to_the_question(library):
    """With feedback the ranking may change, but each hit's similarity is still its cosine to
    the question (the answer's relevance checks read it)."""
    default = library.retrieval_config
    try:
        plain = {h.chunk_id: h.similarity for h in library.search("kettle vinegar", k=4)}
        library.retrieval_config = replace(default, feedback_weight=0.7)
        moved = {h.chunk_id: h.similarity for h in library.search("kettle vinegar", k=4)}
    finally:
        library.retrieval_config = default
    shared = set(plain) & set(moved)
    assert shared
    for cid in shared:
        assert moved[cid] == pytest.approx(plain[cid], abs=1e-5)
