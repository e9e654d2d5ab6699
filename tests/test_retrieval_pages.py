"""Issue #29 retrieval mechanisms on real libraries: one result per page, and dense scores that
see a chunk's neighbours. Real PDFs (fpdf2), real MiniLM, real chroma and FTS5.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag.library import Library
from rag.retrieve.context import neighbour_ids, one_per_page
from tests.makedocs import make_pdf

BOILER = ("The boiler pressure gauge should read between one and two bar when the heating is "
          "cold. If the boiler pressure drops below one bar, open the filling loop slowly and "
          "watch the boiler pressure gauge until it reaches one and a half bar, then close it. ")


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("pages")
    docs = root / "docs"
    docs.mkdir()
    # Page 1 is long: three chunks, every one about boiler pressure. Pages 2-4 mention it once.
    make_pdf(docs / "heating.pdf", [
        BOILER * 6,
        "Radiators: bleed each radiator once a year. Low boiler pressure after bleeding is normal.",
        "Thermostat: set the room thermostat to twenty degrees. The boiler pressure is not "
        "affected by the thermostat setting.",
        "Service: have the boiler serviced every year; the engineer checks the boiler pressure.",
    ], title="Manual")
    # The same sentence in two manuals; only in manual-a do its neighbours give it its meaning.
    make_pdf(docs / "manual-a.pdf", [
        "Dishwasher error codes. When the dishwasher stops in the middle of a cycle it shows an "
        "error code on its display: E15 means water in the base pan, E24 a blocked drain.",
        "The code is printed on the label.",
        "More dishwasher error codes: E09 is a heating fault. Reset the dishwasher by holding "
        "the start button for three seconds.",
    ], title="Manual")
    make_pdf(docs / "manual-b.pdf", [
        "Garden tools. Prune the roses in early spring and sharpen the shears every season.",
        "The error code is printed on the label.",
        "More about garden tools: store the hose coiled and drain it before the first frost.",
    ], title="Manual")
    (docs / "notes.txt").write_text((BOILER + "\n\n") * 6)
    # A firewall page that names UNROUTABLE_IPS once, and one that says "unroutable" and "IPs"
    # often but never together.
    make_pdf(docs / "firewall.pdf", [
        "Interfaces: the variable UNROUTABLE_IPS holds the networks that are dropped on "
        "the public interface.",
        "Some IPs are unroutable: unroutable addresses and private IPs are filtered.",
    ], title="Manual")
    lib = Library.open(root / "data", embedder=embedder)
    lib.index([docs])
    yield lib
    lib.close()


def _pages(hits) -> list[tuple[str, int | None]]:
    return [(Path(h.path).name, h.page) for h in hits]


def test_long_page_has_several_chunks(library):
    heating = [h for h in library.search("boiler pressure", k=50, mode="keyword")
               if h.path.endswith("heating.pdf")]
    assert heating, "heating.pdf not indexed"
    saved = library.retrieval_config
    library.retrieval_config = replace(saved, one_per_page=False)
    try:
        hits = library.search("boiler pressure", k=50, mode="keyword")
    finally:
        library.retrieval_config = saved
    page1 = [h for h in hits if h.path.endswith("heating.pdf") and h.page == 1]
    assert len(page1) >= 2, _pages(hits)


def test_one_result_per_page(library):
    """Without the mechanism page 1's chunks fill the first places; with it, a page is one hit."""
    saved = library.retrieval_config
    library.retrieval_config = replace(saved, one_per_page=False)
    try:
        before = [p for p in _pages(library.search("how do I top up the boiler pressure", k=4))
                  if p[0] == "heating.pdf"]
    finally:
        library.retrieval_config = saved
    assert len(before) != len(set(before)), before  # the failure the mechanism fixes
    hits = library.search("how do I top up the boiler pressure", k=4)
    pdf_pages = [p for p in _pages(hits) if p[0] == "heating.pdf"]
    assert len(pdf_pages) == len(set(pdf_pages)), _pages(hits)
    assert len(hits) == 4


def test_evidence_still_gets_every_chunk_of_a_page(library):
    """The answer path asks for chunks (`one_page_once=False`): the evidence may need two of
    one page, while a list of sources shows the page once."""
    question = "how do I top up the boiler pressure"
    sources = [p for p in _pages(library.search(question, k=4)) if p[0] == "heating.pdf"]
    chunks = [p for p in _pages(library.search(question, k=4, one_page_once=False))
              if p[0] == "heating.pdf"]
    assert len(sources) == len(set(sources))
    assert len(chunks) != len(set(chunks)), chunks


def test_pageless_documents_are_not_collapsed(library):
    """A text file has no pages: its chunks stay separate results."""
    hits = library.search("boiler pressure filling loop", k=20)
    notes = [h for h in hits if h.path.endswith("notes.txt")]
    assert len(notes) >= 2, _pages(hits)


def test_neighbours_give_a_chunk_its_meaning(library):
    """'The code is printed on the label.' answers a dishwasher question only in manual-a, where
    the pages around it are about dishwasher error codes. Alone, manual-b's wording is closer."""
    query = "where do I find the dishwasher error code"

    def rank(name: str, hits) -> int:
        return next(i for i, h in enumerate(hits) if h.path.endswith(name) and h.page == 2)

    saved = library.retrieval_config
    library.retrieval_config = replace(saved, context_weight=0.0)
    try:
        plain = library.search(query, k=30, mode="dense")
    finally:
        library.retrieval_config = saved
    assert rank("manual-b.pdf", plain) < rank("manual-a.pdf", plain), _pages(plain)
    hits = library.search(query, k=30, mode="dense")
    assert rank("manual-a.pdf", hits) < rank("manual-b.pdf", hits), _pages(hits)
    assert hits[rank("manual-a.pdf", hits)].similarity < hits[0].similarity  # raw cosine kept


def test_neighbour_ids():
    assert neighbour_ids("3:abc:0") == ["3:abc:1"]
    assert neighbour_ids("3:abc:7") == ["3:abc:6", "3:abc:8"]
    assert neighbour_ids("nochunk") == []


def test_one_per_page_fills_k_from_deeper_candidates():
    rows = {f"c{i}": (1, i // 3) for i in range(12)}  # three chunks per page
    picked = one_per_page([(f"c{i}", 1.0 - i / 100) for i in range(12)], 3,
                          lambda ids: {i: rows[i] for i in ids}, lambda row: row)
    assert [cid for cid, _, _ in picked] == ["c0", "c3", "c6"]


def test_code_token_matches_as_a_phrase(library):
    """`UNROUTABLE_IPS` is one name: the page with its words side by side comes first, not the
    page that repeats them apart (keyword side; `code_phrases`, on since issue #29)."""
    query = "what does UNROUTABLE_IPS contain"
    saved = library.retrieval_config
    library.retrieval_config = replace(saved, code_phrases=False)
    try:
        plain = library.search(query, k=3, mode="keyword")
    finally:
        library.retrieval_config = saved
    assert (Path(plain[0].path).name, plain[0].page) == ("firewall.pdf", 2), _pages(plain)
    hits = library.search(query, k=3, mode="keyword")
    assert (Path(hits[0].path).name, hits[0].page) == ("firewall.pdf", 1), _pages(hits)
