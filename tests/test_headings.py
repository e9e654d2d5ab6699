"""A PDF's outline reaches the embedder (issue 29): each chunk is embedded with the section
path in effect where it sits, so a passage whose own words never name its subject is found by
its heading. Real PDFs with bookmarks (fpdf2), the real loader, real MiniLM, chroma and FTS5."""

from __future__ import annotations

import pytest

from rag.ingest.chunking import ChunkingConfig, chunk_pages, embedding_text
from rag.library import Library
from rag.loaders import load_document
from tests.makedocs import make_epub, make_odt, make_pdf, make_sectioned_pdf

LONG = ("The kettle sits on its base and switches itself off when the water boils. Keep the "
        "lid closed while it heats and never fill it past the maximum mark. ") * 5
SAME = ("Fill it halfway with warm water and a cup of white vinegar, leave it for an hour, "
        "then pour it away and rinse it three times with clean water.")


def _kettle(path):
    return make_sectioned_pdf(path, [
        [("1 Kettle care", 0, LONG)],
        [("", 0, "Look after it."), ("1.1 Descaling", 1, "Descaling removes the white crust. "
                                     "Use vinegar or citric acid, never bleach. " * 3 + "Rinse.")],
        [("", 0, "Do it every month where the water is hard.")],
        [("2 Toaster", 0, "Empty the crumb tray every week.")],
    ], title="Kitchen manual")


def test_outline_is_read(tmp_path):
    doc = load_document(_kettle(tmp_path / "kitchen.pdf"))
    assert [(s.page, s.level, s.title) for s in doc.outline] == [
        (1, 0, "1 Kettle care"), (2, 1, "1.1 Descaling"), (4, 0, "2 Toaster")]


def test_a_pdf_without_bookmarks_has_no_outline(tmp_path):
    doc = load_document(make_pdf(tmp_path / "plain.pdf", ["Just text."]))
    assert doc.outline == []


def test_chunks_carry_the_section_in_effect(tmp_path, embedder):
    doc = load_document(_kettle(tmp_path / "kitchen.pdf"))
    title, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    by_text = {c.text.split()[-1]: c for c in chunks}
    assert chunks[0].heading == "Kettle care"  # section numbers are dropped
    # the heading starts before the middle of the page's one chunk: that chunk is in it
    assert by_text["Rinse."].heading == "Kettle care / Descaling"
    assert by_text["hard."].heading == "Kettle care / Descaling"  # carried onto the next page
    assert by_text["week."].heading == "Toaster"  # a new top section closes the ones inside
    text = embedding_text(title, by_text["hard."].text, by_text["hard."].heading)
    assert text.split("\n")[:2] == ["Kitchen manual", "Kettle care / Descaling"]
    _, plain = chunk_pages(doc.pages, doc.title, embedder, ChunkingConfig(headings=False),
                           outline=doc.outline)
    assert [c.heading for c in plain] == [""] * len(plain)
    assert [(c.page, c.start, c.end) for c in plain] == [(c.page, c.start, c.end) for c in chunks]


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("headings")
    # Each section's second page says the very same words: only its heading tells them apart.
    make_sectioned_pdf(root / "home.pdf", [
        [("Washing the car", 0, "Use car shampoo and a soft sponge.")], [("", 0, SAME)],
        [("Descaling the kettle", 0, "Hard water leaves scale inside.")], [("", 0, SAME)],
        [("Cleaning the oven", 0, "Grease builds up on the door.")], [("", 0, SAME)],
    ], title="Home care")
    return root


def _same_pages(tmp_path, docs, embedder, headings: bool) -> dict[int, float]:
    """Cosine of the question to each section's second page (2, 4, 6)."""
    lib = Library.open(tmp_path / f"lib-{headings}", embedder=embedder,
                       chunking=ChunkingConfig(headings=headings))
    try:
        lib.index([docs])
        hits = lib.search("How do I descale my kettle?", k=6, mode="dense")
    finally:
        lib.close()
    return {h.page: h.similarity for h in hits if h.page in (2, 4, 6)}


def test_the_heading_finds_a_passage_that_never_names_it(tmp_path, docs, embedder):
    with_headings = _same_pages(tmp_path, docs, embedder, headings=True)
    assert max(with_headings, key=with_headings.get) == 4
    assert with_headings[4] > max(with_headings[2], with_headings[6]) + 0.05
    # Without the headings the three pages are one vector: nothing can pick the kettle's.
    plain = _same_pages(tmp_path, docs, embedder, headings=False)
    assert len(plain) == 3 and max(plain.values()) - min(plain.values()) < 1e-4


KETTLE = ("Fill it halfway with warm water and a cup of white vinegar, leave it for an hour, "
          "then pour it away and rinse it three times with clean water. ") * 6
OVEN = ("Spray the inside with the foam, close the door, wait twenty minutes and wipe the "
        "grease away with a damp cloth, then dry it with a soft towel. ") * 6


def test_markdown_headings_are_its_outline(tmp_path, embedder):
    note = tmp_path / "care.md"
    note.write_text(f"# Home care\n\n## Kitchen\n\n### Descaling the kettle\n\n{KETTLE}\n\n"
                    f"```\n# not a heading: a shell comment\n```\n\n### Cleaning the oven\n\n"
                    f"{OVEN}\n")
    doc = load_document(note)
    assert [(s.level, s.title) for s in doc.outline] == [
        (0, "Home care"), (1, "Kitchen"), (2, "Descaling the kettle"), (2, "Cleaning the oven")]
    title, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    assert title == "Home care" and len(chunks) >= 3
    by_end = {c.text.split()[-1]: c.heading for c in chunks}
    assert by_end["towel."] == "Kitchen / Cleaning the oven"
    assert any(h == "Kitchen / Descaling the kettle" for h in by_end.values())


def test_word_heading_styles_are_its_outline(tmp_path, embedder):
    import docx

    document = docx.Document()
    document.add_heading("Home care", level=0)
    document.add_heading("Descaling the kettle", level=1)
    document.add_paragraph(KETTLE)
    document.add_heading("Cleaning the oven", level=1)
    document.add_paragraph(OVEN)
    document.save(tmp_path / "care.docx")
    doc = load_document(tmp_path / "care.docx")
    assert [(s.level, s.title) for s in doc.outline] == [
        (0, "Home care"), (0, "Descaling the kettle"), (0, "Cleaning the oven")]
    _, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    assert chunks[-1].heading == "Cleaning the oven"
    assert chunks[0].heading in ("Home care", "Descaling the kettle")


def test_a_heading_that_is_the_title_is_not_embedded_twice(tmp_path, embedder):
    """SciFact's abstracts are "# Title" + text: their vectors must not change."""
    long_title = "12 " + " ".join(["Comparative outcomes of surgical intervention"] * 6)
    note = tmp_path / "abstract.md"
    note.write_text(f"# {long_title}\n\n{KETTLE}\n")
    doc = load_document(note)
    title, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    assert doc.outline and title != long_title  # clipped for embedding
    assert all(c.heading == "" for c in chunks)
    _, plain = chunk_pages(doc.pages, doc.title, embedder, ChunkingConfig(headings=False))
    assert [(c.start, c.end) for c in plain] == [(c.start, c.end) for c in chunks]


def test_html_headings_are_its_outline(tmp_path, embedder):
    page = tmp_path / "care.html"
    page.write_text("<html><head><title>Home care</title><style>h2 {color: red}</style></head>"
                    "<body><h1>Home care</h1><nav><h2>Menu</h2></nav><h2>Kitchen</h2>"
                    f"<h3>Descaling the <em>kettle</em></h3><p>{KETTLE}</p>"
                    f"<h3>Cleaning the oven</h3><p>{OVEN}</p></body></html>")
    doc = load_document(page)
    # headings inside navigation are not reading matter; inline markup is kept as words
    assert [(s.page, s.level, s.title) for s in doc.outline] == [
        (0, 0, "Home care"), (0, 1, "Kitchen"), (0, 2, "Descaling the kettle"),
        (0, 2, "Cleaning the oven")]
    _, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    assert chunks[-1].heading == "Kitchen / Cleaning the oven"
    assert any(c.heading == "Kitchen / Descaling the kettle" for c in chunks)


def test_epub_chapter_headings_are_its_outline(tmp_path, embedder):
    book = make_epub(tmp_path / "care.epub", [
        ("Kettle", f"<h2>Descaling</h2><p>{KETTLE}</p>"),
        ("Oven", f"<h2>Cleaning</h2><p>{OVEN}</p>")], title="Home care")
    doc = load_document(book)
    assert [(s.page, s.level, s.title) for s in doc.outline] == [
        (1, 0, "Kettle"), (1, 1, "Descaling"), (2, 0, "Oven"), (2, 1, "Cleaning")]
    _, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    assert {c.page: c.heading for c in chunks} == {1: "Kettle / Descaling", 2: "Oven / Cleaning"}


def test_odt_headings_are_its_outline(tmp_path, embedder):
    body = (f'<text:h text:outline-level="1">Kettle</text:h>'
            f'<text:h text:outline-level="2">Descaling</text:h><text:p>{KETTLE}</text:p>'
            f'<text:h text:outline-level="1">Oven</text:h><text:p>{OVEN}</text:p>')
    doc = load_document(make_odt(tmp_path / "care.odt", body, title="Home care"))
    assert [(s.page, s.level, s.title) for s in doc.outline] == [
        (1, 0, "Kettle"), (1, 1, "Descaling"), (2, 0, "Oven")]
    _, chunks = chunk_pages(doc.pages, doc.title, embedder, outline=doc.outline)
    assert {c.page: c.heading for c in chunks} == {1: "Kettle / Descaling", 2: "Oven"}
    lone = load_document(make_odt(tmp_path / "one.odt", f'<text:h text:outline-level="2">'
                                  f'Descaling</text:h><text:p>{KETTLE}</text:p>'))
    assert [(s.page, s.title) for s in lone.outline] == [(0, "Descaling")]
    _, chunks = chunk_pages(lone.pages, lone.title, embedder, outline=lone.outline)
    assert chunks[0].heading == "Descaling"


def forget_the_record(data_dir) -> None:
    """Make a library as the Hearth before headings left it: vectors, no chunking record."""
    import sqlite3

    from rag.forgetting import MANIFEST_NAME
    from rag.ingest.chunking import CHUNKING_META

    db = sqlite3.connect(data_dir / MANIFEST_NAME)
    with db:
        db.execute("DELETE FROM meta WHERE key = ?", (CHUNKING_META,))
    db.close()


def make_old_library(data_dir, docs, embedder) -> None:
    lib = Library.open(data_dir, embedder=embedder)
    try:
        assert lib.index([docs]).count("indexed") == 1
        assert lib.status()["chunking_notice"] == ""  # made with headings: nothing to say
    finally:
        lib.close()
    forget_the_record(data_dir)


def test_a_library_from_before_headings_says_that_reindexing_gives_them(tmp_path, embedder):
    from argparse import Namespace

    from app.cli.library import local_status

    docs = tmp_path / "docs"
    docs.mkdir()
    _kettle(docs / "kitchen.pdf")
    data = tmp_path / "data"
    make_old_library(data, docs, embedder)
    payload, _, details = local_status(Namespace(data_dir=str(data)))  # `hearth status`
    assert "earlier Hearth" in payload["chunking_notice"] and "Note: " in details
    assert "hearth index --force" in payload["chunking_notice"]
    lib = Library.open(data, embedder=embedder)
    try:
        notice = lib.status()["chunking_notice"]
        assert "re-indexing" in notice and lib.notices() == [notice]
        assert lib.index([docs]).count("unchanged") == 1  # unchanged files keep old vectors
        assert lib.status()["chunking_notice"] == notice
        assert lib.index([docs], force=True).count("indexed") == 1
        assert lib.status()["chunking_notice"] == "" and lib.notices() == []
    finally:
        lib.close()
    lib = Library.open(data, embedder=embedder)  # the record stays
    try:
        assert lib.status()["chunking_notice"] == ""
    finally:
        lib.close()


def test_the_notice_follows_the_chunking_that_made_the_vectors(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    _kettle(docs / "kitchen.pdf")
    plain = ChunkingConfig(headings=False)
    lib = Library.open(tmp_path / "data", embedder=embedder, chunking=plain)
    try:
        lib.index([docs])
        assert lib.status()["chunking_notice"] == ""
    finally:
        lib.close()
    lib = Library.open(tmp_path / "data", embedder=embedder)  # this Hearth's default: headings
    try:
        assert "earlier Hearth" in lib.status()["chunking_notice"]
    finally:
        lib.close()
