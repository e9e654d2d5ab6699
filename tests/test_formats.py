"""E-books, OpenDocument text and PowerPoint decks, and tables in every format.

Each file is a real one made here: EPUB and ODT packages written to their specifications with
zipfile, decks with python-pptx, PDFs with fpdf2's table, Word files with python-docx. Each is
indexed by the real Library and found again by search; broken ones are reported with a reason.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from makedocs import make_epub, make_odt, make_pdf

from rag.base.errors import LoadError
from rag.loaders import load_document

ROWS = [("Pump", "Flow rate", "Pressure"), ("A40", "12.5 L/min", "3 bar"),
        ("B72", "31 L/min", "6 bar"), ("C90", "55 L/min", "9 bar")]


def _odt_table(rows) -> str:
    cells = lambda row: "".join(  # noqa: E731
        f'<table:table-cell><text:p>{c}</text:p></table:table-cell>' for c in row)
    return "<table:table>" + "".join(f"<table:table-row>{cells(r)}</table:table-row>"
                                     for r in rows) + "</table:table>"


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Quarterly Review"
    s1 = deck.slides.add_slide(deck.slide_layouts[0])
    s1.shapes.title.text = "Quarterly Review"
    s1.placeholders[1].text = "Prepared by the harbour office"
    s2 = deck.slides.add_slide(deck.slide_layouts[1])
    s2.shapes.title.text = "Lighthouse maintenance"
    s2.placeholders[1].text = "The Zephyr lamp was replaced with LEDs in March"
    s2.notes_slide.notes_text_frame.text = "Mention the budget overrun of 4,300 euros"
    s3 = deck.slides.add_slide(deck.slide_layouts[5])
    s3.shapes.title.text = "Pump specifications"
    table = s3.shapes.add_table(len(ROWS), 3, Inches(0.5), Inches(1.5), Inches(8), Inches(2)).table
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.save(path)
    return path


def make_table_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Table 2 lists the pumps of the north harbour station.")
    with pdf.table() as table:
        for row in ROWS:
            cells = table.row()
            for value in row:
                cells.cell(value)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_table_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph("Table 2 lists the pumps of the north harbour station.")
    t = d.add_table(rows=len(ROWS), cols=3)
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            t.cell(r, c).text = value
    d.save(path)
    return path


def make_table_html(path: Path) -> Path:
    rows = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in ROWS)
    path.write_text(f"<html><body><p>Table 2 lists the pumps.</p><table>{rows}</table></body></html>")
    return path


def test_epub_chapters_are_pages(tmp_path):
    book = make_epub(tmp_path / "sea.epub", [
        ("The Storm", "<p>The storm broke the harbour wall in 1902.</p>"),
        ("The Keeper", "<p>Keeper Anna Lind kept the lamp burning for forty years.</p>")])
    doc = load_document(book)
    assert doc.title == "Sea Stories"
    assert [p.number for p in doc.pages] == [1, 2]
    assert "Anna Lind" in doc.pages[1].text and "The Keeper" in doc.pages[1].text


def test_odt_sections_are_pages_and_keep_paragraphs(tmp_path):
    body = ('<text:h text:outline-level="1">Installation</text:h>'
            '<text:p>Mount the pump<text:s text:c="2"/>on a level base.</text:p>'
            '<text:h text:outline-level="2">Wiring</text:h><text:p>Use a 16 A fuse.</text:p>'
            '<text:h text:outline-level="1">Maintenance</text:h>'
            '<text:list><text:list-item><text:p>Clean the filter monthly.</text:p></text:list-item>'
            '</text:list>')
    doc = load_document(make_odt(tmp_path / "manual.odt", body))
    assert doc.title == "Pump Manual"
    assert [p.number for p in doc.pages] == [1, 2]
    assert "Mount the pump on a level base." in doc.pages[0].text
    assert "16 A fuse" in doc.pages[0].text and "filter monthly" in doc.pages[1].text


def test_pptx_slides_are_pages_with_notes_and_tables(tmp_path):
    doc = load_document(make_pptx(tmp_path / "review.pptx"))
    assert doc.title == "Quarterly Review"
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert doc.pages[1].text.startswith("Lighthouse maintenance")
    assert "LEDs in March" in doc.pages[1].text and "Notes: Mention the budget" in doc.pages[1].text
    assert "A40 | 12.5 L/min | 3 bar" in doc.pages[2].text.splitlines()


@pytest.mark.parametrize("name,content", [
    ("bad.epub", b"this is not a zip at all"),
    ("bad.odt", b"PK\x03\x04 truncated zip"),
    ("bad.pptx", b"\x00\x01\x02 random bytes"),
])
def test_broken_files_get_a_reason(tmp_path, name, content):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(LoadError) as err:
        load_document(f)
    assert "not a readable" in str(err.value), str(err.value)


def test_epub_without_its_parts_and_drm_books_are_refused(tmp_path):
    empty = tmp_path / "empty.epub"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    with pytest.raises(LoadError, match="container.xml is missing"):
        load_document(empty)
    drm = make_epub(tmp_path / "drm.epub", [("One", "<p>Secret text.</p>")])
    with zipfile.ZipFile(drm, "a") as z:
        z.writestr("META-INF/encryption.xml",
                   '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                   'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
                   '<enc:CipherData><enc:CipherReference URI="OEBPS/text/ch0.xhtml"/>'
                   '</enc:CipherData></enc:EncryptedData></encryption>')
    with pytest.raises(LoadError, match="DRM"):
        load_document(drm)


def test_each_format_is_indexed_and_table_rows_stay_rows(tmp_path, embedder):
    from rag.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    make_epub(docs / "sea.epub", [("The Storm", "<p>The storm broke the harbour wall.</p>"),
                                  ("The Keeper", "<p>Keeper Anna Lind kept the lamp lit.</p>")])
    body = ('<text:h text:outline-level="1">Overview</text:h><text:p>Pumps of the station.</text:p>'
            '<text:h text:outline-level="1">Specifications</text:h>' + _odt_table(ROWS))
    make_odt(docs / "manual.odt", body)
    make_pptx(docs / "review.pptx")
    make_table_pdf(docs / "table.pdf")
    make_table_docx(docs / "table.docx")
    make_table_html(docs / "table.html")
    make_pdf(docs / "other.pdf", ["Sourdough bread needs a starter of flour and water."])
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report = lib.index([docs])
        assert report.count("indexed") == 7, report.to_json()
        hit = lib.search("Anna Lind keeper", k=1)[0]
        assert hit.path.endswith("sea.epub") and hit.page == 2
        hit = lib.search("budget overrun euros", k=1)[0]
        assert hit.path.endswith("review.pptx") and hit.page == 2
        # "What is the flow rate of pump B72?": every table keeps B72's row together.
        hits = lib.search("flow rate of pump B72", k=10)
        rows: dict = {}
        for h in hits:
            rows.setdefault(Path(h.path).name, h)  # each file's best passage
        for name in ("manual.odt", "review.pptx", "table.docx", "table.html", "table.pdf"):
            assert name in rows, (name, list(rows))
            lines = [" ".join(line.replace("|", " ").split()) for line in rows[name].text.splitlines()]
            assert "B72 31 L/min 6 bar" in lines, (name, rows[name].text)
        for name in ("manual.odt", "review.pptx", "table.docx", "table.html"):
            assert "B72 | 31 L/min | 6 bar" in rows[name].text, name  # cells marked as cells
        assert rows["manual.odt"].page == 2 and rows["review.pptx"].page == 3
