"""OpenDocument text (.odt, LibreOffice Writer): paragraphs, lists and tables in document order;
each part that starts with a top-level heading is a section, and a section is a page. The
headings (text:h, with their outline level) are the document's outline.

Why no library: an .odt is a zip whose content.xml holds the text; the standard library reads
it in one pass, with no dependency to keep up to date. Tables keep one row per line, cells
separated by " | ", so a row's values stay together in a chunk.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Section
from rag.loaders.base import clean_text, numbered_pages, register
from rag.loaders.package import open_package, read_part

KIND = "OpenDocument text file"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_SKIP = {f"{_OFFICE}annotation", f"{_TEXT}note-citation", f"{_TEXT}tracked-changes",
         f"{_TEXT}sequence-decls", f"{_OFFICE}forms"}
_MAX_DEPTH = 60
OUTLINE_MAX = 5000  # headings kept per document, as for a PDF's bookmarks


def _inline(el: ET.Element, depth: int = 0) -> str:
    """A paragraph's text: spaces (text:s), tabs and line breaks as written."""
    out = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag == f"{_TEXT}s":
            out.append(" " * min(int(child.get(f"{_TEXT}c", "1") or 1), 100))
        elif tag == f"{_TEXT}tab":
            out.append("\t")
        elif tag == f"{_TEXT}line-break":
            out.append("\n")
        elif tag in _SKIP or depth > _MAX_DEPTH:
            pass
        elif tag == f"{_TEXT}note":
            body = child.find(f"{_TEXT}note-body")
            if body is not None:
                out.append(" (" + " ".join(_blocks_text(body, depth + 1)) + ")")
        else:
            out.append(_inline(child, depth + 1))
        out.append(child.tail or "")
    return "".join(out)


def _row(row: ET.Element, depth: int) -> str:
    cells = []
    for cell in row:
        if cell.tag == f"{_TABLE}table-cell":
            text = " ".join(_blocks_text(cell, depth + 1))
            cells.append(" ".join(text.split()))
    while cells and not cells[-1]:
        cells.pop()  # spreadsheets-in-documents often end rows with many empty cells
    return " | ".join(cells)


def _blocks(el: ET.Element, out: list[tuple[int, str]], depth: int = 0) -> None:
    """Append (heading level or 0, text) for each block under `el`, in document order."""
    if depth > _MAX_DEPTH:
        return
    for child in el:
        tag = child.tag
        if tag in _SKIP:
            continue
        if tag == f"{_TEXT}h":
            level = int(child.get(f"{_TEXT}outline-level", "1") or 1)
            out.append((level, _inline(child, depth)))
        elif tag == f"{_TEXT}p":
            out.append((0, _inline(child, depth)))
        elif tag == f"{_TABLE}table":
            rows = [_row(r, depth) for r in child.iter(f"{_TABLE}table-row")]
            out.append((0, "\n".join(r for r in rows if r.strip())))
        else:  # lists, list items, sections, frames, text boxes...
            _blocks(child, out, depth + 1)


def _blocks_text(el: ET.Element, depth: int) -> list[str]:
    found: list[tuple[int, str]] = []
    _blocks(el, found, depth)
    return [t for _, t in found if t.strip()]


@register(".odt")
def load_odt(path: Path) -> LoadedDocument:
    with open_package(path, KIND) as zf:
        try:
            root = ET.fromstring(read_part(zf, "content.xml", KIND))
            meta = ET.fromstring(read_part(zf, "meta.xml", KIND)) if "meta.xml" in zf.namelist() \
                else None
        except ET.ParseError as exc:
            raise LoadError(f"not a readable {KIND}: its content is not valid XML ({exc})") from exc
    body = root.find(f"{_OFFICE}body/{_OFFICE}text")
    if body is None:
        raise LoadError(f"not a readable {KIND}: it has no text body (a spreadsheet or drawing?)")
    blocks: list[tuple[int, str]] = []
    _blocks(body, blocks)
    sections: list[list[str]] = [[]]
    heads: list[tuple[int, int, str]] = []  # (section, level, text)
    for level, text in blocks:
        if level == 1 and any(s.strip() for s in sections[-1]):
            sections.append([])
        if text.strip():
            sections[-1].append(text)
            if level and len(heads) < OUTLINE_MAX:
                heads.append((len(sections), level - 1, " ".join(text.split())))
    texts = [clean_text("\n\n".join(s), dehyphenate=False) for s in sections]
    pages = numbered_pages(texts, "no text in this document")
    one = len(texts) == 1  # a lone section is the whole document: page 0 of the outline
    outline = [Section(page=0 if one else n, level=lv, title=t) for n, lv, t in heads]
    title_el = meta.find(f".//{_DC}title") if meta is not None else None
    title = " ".join((title_el.text or "").split()) if title_el is not None else ""
    return LoadedDocument(path=str(path), title=title or path.stem, pages=pages, outline=outline)
