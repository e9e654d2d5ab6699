"""Builders for real test documents (PDF, DOCX, HTML) shared by every test module.

Why: tests must exercise the loaders on genuine files, not mocks; these helpers make them quickly
in a tmp dir. PDFs are written with fpdf2's core Helvetica font, so text must be latin-1 safe.
"""

from __future__ import annotations

import html
import io
import zipfile
from pathlib import Path


def _latin1(text: str) -> str:
    """Core PDF fonts only cover latin-1; replace anything else instead of crashing the test."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _fpdf(title: str | None):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    if title is not None:
        pdf.set_title(_latin1(title))
    return pdf


def _pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    pdf = _fpdf(title)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        if text:
            pdf.multi_cell(0, 6, _latin1(text))
    return bytes(pdf.output())


def make_pdf(path: str | Path, pages: list[str], title: str | None = None) -> Path:
    """A real PDF with one page per entry of `pages` (empty string -> a page with no text).

    Keep each entry short enough to fit one page (~45 lines), or fpdf2 will spill onto the next.
    """
    path = Path(path)
    path.write_bytes(_pdf_bytes(pages, title))
    return path


def make_sectioned_pdf(path: str | Path, pages: list[list[tuple[str, int, str]]],
                       title: str | None = None) -> Path:
    """A real PDF with an outline (bookmarks): each page is a list of (heading, level, body)
    blocks; a block with a heading starts a section there (its title is printed on the page
    too, as a manual does). An empty heading continues the section before."""
    pdf = _fpdf(title)
    for blocks in pages:
        pdf.add_page()
        for heading, level, body in blocks:
            if heading:
                pdf.set_font("Helvetica", style="B", size=13)
                pdf.start_section(_latin1(heading), level=level)
                pdf.multi_cell(0, 8, _latin1(heading), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", size=11)
            if body:
                pdf.multi_cell(0, 6, _latin1(body), new_x="LMARGIN", new_y="NEXT")
    path = Path(path)
    path.write_bytes(bytes(pdf.output()))
    return path


def _encrypt(path: Path, text: str, user_password: str, owner_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(_pdf_bytes([text])))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    # RC4-128 needs no extra crypto package (AES would require `cryptography`).
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def make_encrypted_pdf(path: str | Path, text: str, user_password: str = "secret") -> Path:
    """A PDF that cannot be opened without `user_password`."""
    return _encrypt(Path(path), text, user_password, owner_password=user_password + "-owner")


def make_owner_only_pdf(path: str | Path, text: str) -> Path:
    """Encrypted with an empty user password: readers open it freely (only permissions limited)."""
    return _encrypt(Path(path), text, user_password="", owner_password="owner-secret")


def make_scanned_pdf(path: str | Path) -> Path:
    """A PDF whose only page holds a drawn rectangle and no text layer, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(120, 120, 120)
    pdf.rect(20, 20, 150, 200, style="F")
    path = Path(path)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_pdf_with_bad_page(path: str | Path, pages: list[str], bad_page: int) -> Path:
    """A real PDF whose page `bad_page` (1-based) has a corrupt LZW content stream, so pypdf's
    text extraction raises on that page only (the other pages stay readable)."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter(clone_from=io.BytesIO(_pdf_bytes(pages)))
    broken = StreamObject()
    broken._data = b"garbage that is not LZW data " * 4  # raw bytes, written as-is
    broken[NameObject("/Filter")] = NameObject("/LZWDecode")
    writer.pages[bad_page - 1][NameObject("/Contents")] = writer._add_object(broken)
    path = Path(path)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def make_corrupt_pdf(path: str | Path) -> Path:
    """Starts like a PDF, then garbage: no xref, no objects."""
    path = Path(path)
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\nthis is not a pdf body\n")
    return path


def make_docx(path: str | Path, paragraphs: list[str], title: str | None = None,
              table: list[list[str]] | None = None) -> Path:
    """A real .docx with the given paragraphs, an optional table, and core-property title."""
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(r) for r in table))
        for r, row in enumerate(table):
            for c, cell_text in enumerate(row):
                grid.cell(r, c).text = cell_text
    if title is not None:
        document.core_properties.title = title
    path = Path(path)
    document.save(str(path))
    return path


def make_html(path: str | Path, title: str, body_paragraphs: list[str]) -> Path:
    """An HTML page with a <title>, the paragraphs, plus script/style/nav noise loaders must drop."""
    paras = "\n".join(f"    <p>{html.escape(p)}</p>" for p in body_paragraphs)
    page = f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{html.escape(title)}</title>
    <style>body {{ color: red; }} .noise-style {{ }}</style>
    <script>var noiseScript = "should not appear";</script>
  </head>
  <body>
    <nav><a href="/home">NavNoise Home</a> <a href="/about">NavNoise About</a></nav>
{paras}
    <img src="http://example.invalid/tracker.png" alt="">
  </body>
</html>
"""
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


def make_epub(path: Path, chapters: list[tuple[str, str]], title: str = "Sea Stories") -> Path:
    """A valid EPUB 3: mimetype first (stored), container, OPF with a spine, XHTML chapters."""
    items = "".join(f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
                    for i in range(len(chapters)))
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:'
                   'opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/book.opf" '
                   'media-type="application/oebps-package+xml"/></rootfiles></container>')
        z.writestr("OEBPS/book.opf",
                   '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"'
                   ' unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                   f'<dc:identifier id="id">x</dc:identifier><dc:title>{title}</dc:title>'
                   f'<dc:language>en</dc:language></metadata><manifest>{items}</manifest>'
                   f'<spine>{spine}</spine></package>', compress_type=zipfile.ZIP_DEFLATED)
        for i, (head, body) in enumerate(chapters):
            z.writestr(f"OEBPS/text/ch{i}.xhtml",
                       '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
                       f'<title>{head}</title></head><body><h1>{head}</h1>{body}</body></html>',
                       compress_type=zipfile.ZIP_DEFLATED)
    return path


def make_odt(path: Path, body: str, title: str = "Pump Manual") -> Path:
    """A valid ODF text package: mimetype first (stored), manifest, content.xml, meta.xml."""
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/" '
          'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml",
                   f'<?xml version="1.0"?><manifest:manifest {ns}><manifest:file-entry '
                   'manifest:full-path="/" manifest:media-type="application/vnd.oasis.'
                   'opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" '
                   'manifest:media-type="text/xml"/></manifest:manifest>')
        z.writestr("content.xml", f'<?xml version="1.0"?><office:document-content {ns} '
                   f'office:version="1.3"><office:body><office:text>{body}</office:text>'
                   '</office:body></office:document-content>', compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("meta.xml", f'<?xml version="1.0"?><office:document-meta {ns}><office:meta>'
                   f'<dc:title>{title}</dc:title></office:meta></office:document-meta>')
    return path
