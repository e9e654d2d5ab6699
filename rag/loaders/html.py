"""Saved web pages (.html/.htm): visible text with paragraph breaks, title from <title>.

Why html.parser: it is pure Python and only parses; nothing referenced by the page (images,
scripts, stylesheets, iframes) is ever fetched or run.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import LoadError
from rag.loaders.base import clean_text, read_bytes, register
from rag.loaders.text import BINARY_REASON
from rag.types import LoadedDocument, Page

# Elements whose content is never reading matter.
_NOISE = (
    "head", "script", "style", "noscript", "template", "nav", "iframe", "object", "embed",
    "svg", "canvas", "button", "select", "option", "datalist", "map",
)
# Elements that start a new paragraph.
_BLOCKS = (
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr",
    "pre", "figure", "figcaption", "address", "hr", "details", "summary", "form", "fieldset",
    "caption", "body",
)
# Private-use characters mark breaks while HTML's own whitespace is collapsed.
_PARA, _LINE, _CELL = "\ue000", "\ue001", "\ue002"


def _title(soup) -> str | None:  # noqa: ANN001
    tag = soup.find("title")
    if tag is not None:
        text = " ".join(tag.get_text(" ").split())
        if text:
            return text
    h1 = soup.find("h1")
    if h1 is not None:
        text = " ".join(h1.get_text(" ").split())
        if text:
            return text
    return None


def html_to_text(data: bytes | str) -> tuple[str | None, str]:
    """Return (title, text) for an HTML document given as bytes (charset sniffed) or str."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(data, "html.parser")
    title = _title(soup)
    for name in _NOISE:
        for tag in soup.find_all(name):
            tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before(_PARA)
        tag.append(_PARA)
    for tag in soup.find_all("br"):
        tag.replace_with(_LINE)
    for tag in soup.find_all(["td", "th"]):
        tag.append(_CELL)
    for tag in soup.find_all("pre"):  # keep the line structure of preformatted text
        for node in tag.find_all(string=True):
            node.replace_with(node.replace("\n", _LINE))

    text = soup.get_text()
    text = re.sub(r"\s+", " ", text)  # HTML whitespace is insignificant
    text = re.sub(rf" *{_CELL} *(?=[{_PARA}{_LINE}]|$)", "", text)
    text = text.replace(_CELL, " | ")
    text = re.sub(rf"[ {_PARA}]*{_PARA}[ {_PARA}]*", "\n\n", text)
    text = text.replace(_LINE, "\n")
    return title, clean_text(text, dehyphenate=False)


@register(".html", ".htm", ".xhtml", text_like=True)
def load_html(path: Path) -> LoadedDocument:
    data = read_bytes(path)
    if b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise LoadError(BINARY_REASON)
    try:
        title, text = html_to_text(data)
    except Exception as exc:  # html.parser is forgiving; this is for truly broken input
        raise LoadError(f"not a readable HTML page: {exc}") from exc
    if not text.strip():
        raise LoadError("no text in this HTML page")
    return LoadedDocument(path=str(path), title=title or path.stem, pages=[Page(None, text)])
