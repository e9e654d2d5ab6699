"""E-books (.epub): each chapter (an item of the book's reading order) is a page, and its
headings are the book's outline.

Why no e-book library: an EPUB is a zip of XHTML files plus a manifest (the OPF) that lists
them in reading order; the standard library reads that, and Hearth's own HTML reader turns each
chapter into text (nothing the book references is fetched). The best-known Python EPUB library
is AGPL, which Hearth does not take on. DRM-protected books are refused with that reason.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page, Section
from rag.loaders.base import register
from rag.loaders.html import OUTLINE_MAX, outline_of, read_html
from rag.loaders.package import open_package, read_part

KIND = "e-book (EPUB)"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_ENC = "{http://www.w3.org/2001/04/xmlenc#}"
_XHTML = ("application/xhtml+xml", "text/html", "application/x-dtbook+xml")


def _xml(data: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise LoadError(f"not a readable {KIND}: {what} is not valid XML ({exc})") from exc


def _encrypted(zf) -> set[str]:  # noqa: ANN001
    """Parts listed as encrypted (DRM; fonts are often only obfuscated, that is harmless)."""
    if "META-INF/encryption.xml" not in zf.namelist():
        return set()
    root = _xml(read_part(zf, "META-INF/encryption.xml", KIND), "encryption.xml")
    return {unquote(ref.get("URI", "")) for ref in root.iter(f"{_ENC}CipherReference")}


@register(".epub")
def load_epub(path: Path) -> LoadedDocument:
    with open_package(path, KIND) as zf:
        container = _xml(read_part(zf, "META-INF/container.xml", KIND), "container.xml")
        rootfile = container.find(f".//{_CONTAINER}rootfile")
        if rootfile is None or not rootfile.get("full-path"):
            raise LoadError(f"not a readable {KIND}: no package document (OPF) is named")
        opf_path = rootfile.get("full-path", "")
        opf = _xml(read_part(zf, opf_path, KIND), opf_path)
        base = posixpath.dirname(opf_path)
        items = {
            item.get("id"): (posixpath.normpath(posixpath.join(base, unquote(item.get("href", "")))),
                             item.get("media-type", ""))
            for item in opf.iter(f"{_OPF}item")
        }
        spine = [ref.get("idref") for ref in opf.iter(f"{_OPF}itemref")
                 if ref.get("linear", "yes") != "no"]
        chapters = [items[i][0] for i in spine if i in items and items[i][1] in _XHTML]
        if not chapters:
            raise LoadError(f"not a readable {KIND}: its reading order lists no chapters")
        locked = _encrypted(zf)
        if any(c in locked for c in chapters):
            raise LoadError("DRM-protected e-book; Hearth can't read it")
        pages: list[Page] = []
        outline: list[Section] = []
        for number, name in enumerate(chapters, 1):
            if name not in zf.namelist():
                continue  # a broken link in the manifest: skip that chapter, keep the book
            _title, text, headings = read_html(read_part(zf, name, KIND))
            if text.strip():
                pages.append(Page(number=number, text=text))
                outline += outline_of(headings, number)[:OUTLINE_MAX - len(outline)]
        title_el = opf.find(f".//{_DC}title")
    title = " ".join((title_el.text or "").split()) if title_el is not None else ""
    if not pages:
        raise LoadError("no text in this e-book")
    return LoadedDocument(path=str(path), title=title or path.stem, pages=pages, outline=outline)
