"""Saved web pages (.html/.htm): visible text with paragraph breaks, title from <title>, and
the <h1>-<h6> headings as the page's outline (embedded with each chunk, as a PDF's bookmarks).

Why html.parser: it is pure Python and only parses; nothing referenced by the page (images,
scripts, stylesheets, iframes) is ever fetched or run. Why no tree: one pass over the tags keeps
time linear in the page whatever its nesting (building a BeautifulSoup tree took minutes on
100,000 nested <div>s).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page, Section
from rag.loaders.base import clean_text, read_bytes, register
from rag.loaders.text import BINARY_REASON

# Elements whose content is never reading matter.
_NOISE = frozenset((
    "head", "script", "style", "noscript", "template", "nav", "iframe", "object", "embed",
    "svg", "canvas", "button", "select", "option", "datalist", "map",
))
# Elements that start a new paragraph.
_BLOCKS = frozenset((
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr",
    "pre", "figure", "figcaption", "address", "hr", "details", "summary", "form", "fieldset",
    "caption", "body",
))
# The only elements whose nesting we follow: the stack stays as shallow as these are.
_TRACKED = _NOISE | {"pre", "title", "h1"}
_HEADINGS = {f"h{n}": n - 1 for n in range(1, 7)}  # tag -> outline level (0 = top)
OUTLINE_MAX = 5000  # headings kept per page, as for a PDF's bookmarks
HEADING_CHARS = 300  # of a heading's text: the embedder reads at most 24 word-pieces of it
# Private-use characters mark breaks while HTML's own whitespace is collapsed.
_PARA, _LINE, _CELL = "\ue000", "\ue001", "\ue002"


class _TextExtractor(HTMLParser):
    """Visible text with break marks, the first <title> and <h1> texts, and every visible
    heading as (level, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.open: dict[str, int] = {}  # tag -> how many are on the stack (O(1) lookups)
        self.noise = self.pre = 0
        self.title: list[str] = []
        self.h1: list[str] = []
        self._title_done = self._h1_done = False
        self.headings: list[tuple[int, str]] = []
        self._heading: tuple[str, list[str]] | None = None  # the open <hN> and its text

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag == "br":
            if not self.noise:
                self.out.append(_LINE)
            return
        if tag in _BLOCKS and not self.noise:
            self.out.append(_PARA)
        if tag in _HEADINGS and not self.noise and self._heading is None:
            self._heading = (tag, [])
        if tag in _TRACKED:
            self.stack.append(tag)
            self._count(tag, 1)

    def handle_startendtag(self, tag: str, attrs) -> None:  # noqa: ANN001
        self.handle_starttag(tag, attrs)
        if tag != "br":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and self._heading[0] == tag:
            words = " ".join("".join(self._heading[1]).split())
            if words and len(self.headings) < OUTLINE_MAX:
                self.headings.append((_HEADINGS[tag], words))
            self._heading = None
        if self.open.get(tag):  # close it and anything left open inside it (each popped once)
            was_noise = self.noise
            while True:
                top = self.stack.pop()
                self._count(top, -1)
                if top == tag:
                    break
            if tag == "title" and self.title:
                self._title_done = True
            if tag == "h1" and self.h1:
                self._h1_done = True
            if was_noise:
                return
        if not self.noise:
            if tag in ("td", "th"):
                self.out.append(_CELL)
            elif tag in _BLOCKS:
                self.out.append(_PARA)

    def _count(self, tag: str, step: int) -> None:
        self.open[tag] = self.open.get(tag, 0) + step
        if tag in _NOISE:
            self.noise += step
        elif tag == "pre":
            self.pre += step

    def handle_data(self, data: str) -> None:
        if not self._title_done and self.open.get("title"):
            self.title.append(data)
        if not self._h1_done and self.open.get("h1"):
            self.h1.append(data)
        if not self.noise:
            self.out.append(data.replace("\n", _LINE) if self.pre else data)
            if self._heading is not None and sum(map(len, self._heading[1])) < HEADING_CHARS:
                self._heading[1].append(data)  # an unclosed <h2> must not copy the whole page


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    from bs4.dammit import UnicodeDammit  # BOM, <meta charset>, then a guess: linear in size

    return UnicodeDammit(data, is_html=True).unicode_markup or data.decode("utf-8", "replace")


def html_to_text(data: bytes | str) -> tuple[str | None, str]:
    """Return (title, text) for an HTML document given as bytes (charset sniffed) or str."""
    title, text, _ = read_html(data)
    return title, text


def read_html(data: bytes | str) -> tuple[str | None, str, list[tuple[int, str]]]:
    """(title, text, headings as (level, text)) of an HTML document."""
    parser = _TextExtractor()
    parser.feed(_decode(data))
    parser.close()
    title = None
    for parts in (parser.title, parser.h1):
        words = " ".join("".join(parts).split())
        if words:
            title = words
            break
    text = "".join(parser.out)
    text = re.sub(r"\s+", " ", text)  # HTML whitespace is insignificant
    text = re.sub(rf" *{_CELL} *(?=[{_PARA}{_LINE}]|$)", "", text)
    text = text.replace(_CELL, " | ")
    text = re.sub(rf"[ {_PARA}]*{_PARA}[ {_PARA}]*", "\n\n", text)
    text = text.replace(_LINE, "\n")
    return title, clean_text(text, dehyphenate=False), parser.headings


def outline_of(headings: list[tuple[int, str]], page: int) -> list[Section]:
    return [Section(page=page, level=level, title=title) for level, title in headings]


@register(".html", ".htm", ".xhtml", text_like=True)
def load_html(path: Path) -> LoadedDocument:
    data = read_bytes(path)
    if b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise LoadError(BINARY_REASON)
    try:
        title, text, headings = read_html(data)
    except Exception as exc:  # html.parser is forgiving; this is for truly broken input
        raise LoadError(f"not a readable HTML page: {exc}") from exc
    if not text.strip():
        raise LoadError("no text in this HTML page")
    return LoadedDocument(path=str(path), title=title or path.stem, pages=[Page(None, text)],
                          outline=outline_of(headings, 0))
