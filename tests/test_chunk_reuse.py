"""Per-chunk reuse (issue 14): an edit embeds only the chunks whose text changed.

A real 300-page PDF (bench/pdfgen.py, one ~150-word paragraph per page), the real embedder
counted by CountingEmbedder, real chroma. One page edited -> at most 5% of the chunks embedded
again; a move or copy -> none; search finds the edited words and the results carry no stale
text. An older library (manifest v1: no chunk hashes) still opens, searches, and falls back to
embedding the changed document whole once.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from bench.pdfgen import positioned_pdf, sample_text
from rag.library import Library

PAGES = 300


def pages(edit: int | None = None) -> list[str]:
    out = [f"Page {n} marker{n}x. " + sample_text(150, seed=n) for n in range(1, PAGES + 1)]
    if edit is not None:
        out[edit - 1] = f"Page {edit} zebracorrection now reads otherwise. " + sample_text(
            150, seed=10_000 + edit)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    """A library holding the 300-page PDF, built once for the module."""
    from bench.common import CountingEmbedder

    root = tmp_path_factory.mktemp("reuse")
    docs = root / "docs"
    docs.mkdir()
    pdf = positioned_pdf(docs / "manual.pdf", pages())
    counting = CountingEmbedder(embedder)
    with Library.open(root / "data", embedder=counting) as lib:
        report = lib.index([docs])
        assert report.count("indexed") == 1
        chunks = lib.status()["chunks"]
    assert counting.texts == chunks >= PAGES
    return root, pdf, chunks


def copy_library(built, tmp_path):
    import shutil

    root, pdf, chunks = built
    docs, data = tmp_path / "docs", tmp_path / "data"
    shutil.copytree(root / "docs", docs)
    shutil.copytree(root / "data", data)
    # the copy lives at another path: re-point it (a move costs nothing either)
    with Library.open(data, owner="test") as lib:
        assert lib.rename(root / "docs", docs) == 1
    return docs, data, chunks


def test_one_page_edit_embeds_at_most_5_percent(built, tmp_path, counting_embedder):
    docs, data, chunks = copy_library(built, tmp_path)
    positioned_pdf(docs / "manual.pdf", pages(edit=150))
    with Library.open(data, embedder=counting_embedder) as lib:
        report = lib.index([docs])
        assert report.count("indexed") == 1
        assert 0 < counting_embedder.texts <= 0.05 * chunks, (counting_embedder.texts, chunks)
        assert lib.status()["chunks"] == chunks
        hits = lib.search("zebracorrection", k=3, mode="keyword")
        assert hits and hits[0].page == 150
        dense = lib.search("zebracorrection now reads otherwise", k=1)
        assert dense[0].page == 150  # the new vector is the one stored for the new text
        # every chunk's vector is there and the old page's words are gone
        ids = lib.manifest.chunk_ids(lib.documents()[0].id)
        assert len(lib.store.vectors(ids)) == chunks
        assert lib.search("marker150x", k=3, mode="keyword") == []
    print(f"\n300-page PDF, one page edited: {counting_embedder.texts} of {chunks} chunks "
          "embedded again")


def test_move_and_copy_embed_nothing(built, tmp_path, counting_embedder):
    docs, data, chunks = copy_library(built, tmp_path)
    (docs / "sub").mkdir()
    (docs / "other").mkdir()
    # moved while nobody watched (the name is the title the chunks were embedded with, so it
    # stays; a renamed file re-embeds unless Library.rename is told, as the watcher does)
    os.rename(docs / "manual.pdf", docs / "sub" / "manual.pdf")
    with Library.open(data, embedder=counting_embedder) as lib:
        report = lib.index([docs])
        assert report.count("indexed") == 1 and report.count("removed") == 1
        assert counting_embedder.texts == 0
        os.link(docs / "sub" / "manual.pdf", docs / "other" / "manual.pdf")
        lib.index([docs / "other"])
        assert counting_embedder.texts == 0
        assert lib.status()["chunks"] == 2 * chunks
        hits = lib.search("marker42x", k=5, mode="keyword")
        assert sorted(h.path.split("/")[-2] for h in hits) == ["other", "sub"]
        assert lib.rename(docs / "sub", docs / "moved") == 1
        assert counting_embedder.texts == 0


def test_library_without_chunk_hashes_opens_and_falls_back(tmp_path, counting_embedder):
    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    positioned_pdf(docs / "manual.pdf", pages()[:20])
    with Library.open(data, embedder=counting_embedder) as lib:
        lib.index([docs])
        chunks = lib.status()["chunks"]
    db = sqlite3.connect(data / "library.sqlite3")  # make it a version-1 library
    db.executescript("DROP INDEX chunks_hash; ALTER TABLE chunks DROP COLUMN hash; "
                     "UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    db.close()
    with Library.open(data, embedder=counting_embedder) as lib:
        assert lib.manifest.get_meta("schema_version") == "2"
        assert lib.search("marker7x", k=1, mode="keyword")[0].page == 7
        edited = pages(edit=15)[:20]
        positioned_pdf(docs / "manual.pdf", edited)
        before = counting_embedder.texts
        lib.index([docs])
        assert counting_embedder.texts - before == chunks  # no hashes yet: embedded whole, once
        edited[9] = "Page 10 changed as well. " + sample_text(150, seed=99)
        positioned_pdf(docs / "manual.pdf", edited)
        before = counting_embedder.texts
        lib.index([docs])
        assert 0 < counting_embedder.texts - before <= 2
        assert lib.search("marker10x", k=1, mode="keyword") == []
