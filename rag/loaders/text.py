"""Plain-text formats (.txt, .md, .rst, .csv, .log, ...): one `Page(None, text)` per file.

Why careful decoding: people's notes come in UTF-8, UTF-16 (Windows Notepad) and old cp1252;
a binary file renamed to .txt must be refused rather than indexed as garbage.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page, Section
from rag.loaders.base import clean_plain_text, read_bytes, register

TEXT_SUFFIXES = (".txt", ".text", ".log", ".csv", ".tsv", ".rst")
MARKDOWN_SUFFIXES = (".md", ".markdown")

_BOMS = (  # longest first: the UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters that never appear in real text (tab, newlines, form feed and ESC allowed);
# C1 controls show up when binary bytes are decoded as latin-1.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]")
_SAMPLE_CHARS = 256 * 1024
_MAX_CONTROL_RATIO = 0.05

BINARY_REASON = "looks like a binary file, not text"


def _looks_binary(text: str) -> bool:
    sample = text[:_SAMPLE_CHARS]
    if "\x00" in sample:
        return True
    bad = len(_CONTROL.findall(sample))
    return bad > max(2, int(len(sample) * _MAX_CONTROL_RATIO))


def decode_text(data: bytes) -> str:
    """Bytes -> str: BOM-marked UTF-8/16/32, else UTF-8, else cp1252/latin-1 if it looks like text.

    Raises LoadError for binary data.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(f"not valid {encoding.upper()} text ({exc.reason})") from exc
            if _looks_binary(text):
                raise LoadError(BINARY_REASON)
            return text
    if b"\x00" in data:
        raise LoadError(BINARY_REASON)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # never fails; C1 controls then count as binary
    if _looks_binary(text):
        raise LoadError(BINARY_REASON)
    return text


_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
OUTLINE_MAX = 5000  # headings kept per file, as for a PDF's bookmarks
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.IGNORECASE)


def markdown_title(text: str) -> str | None:
    """Front-matter `title:`, else the first `# heading` (or `Title\\n===`) outside code fences."""
    lines = text.split("\n")
    start = 0
    if lines and lines[0].strip() == "---":
        for i in range(1, min(len(lines), 200)):
            if lines[i].strip() in ("---", "..."):
                for line in lines[1:i]:
                    m = _FRONT_TITLE.match(line)
                    if m:
                        return m.group(1).strip("\"'") or None
                start = i + 1
                break
    in_fence = False
    for i in range(start, len(lines)):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _ATX_H1.match(line)
        if m:
            return m.group(1).strip() or None
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r" {0,3}=+[ \t]*", nxt):
            return line.strip()
    return None


def markdown_outline(text: str) -> list[Section]:
    """The `#` headings outside code fences, in order (page 0: a text file has no pages)."""
    out: list[Section] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else _ATX.match(line)
        if m and m.group(2).strip():
            out.append(Section(page=0, level=len(m.group(1)) - 1, title=m.group(2).strip()))
            if len(out) >= OUTLINE_MAX:
                break
    return out


def rst_title(text: str) -> str | None:
    """reStructuredText: the first line underlined with a run of one punctuation character."""
    lines = text.split("\n")
    for i in range(len(lines) - 1):
        line, under = lines[i].strip(), lines[i + 1].strip()
        if (
            line
            and len(under) >= len(line)
            and len(set(under)) == 1
            and not under[0].isalnum()
            and not set(line) <= set(under)
        ):
            return line
    return None


def _load(path: Path, title_of, outline_of=None) -> LoadedDocument:  # noqa: ANN001
    text = clean_plain_text(decode_text(read_bytes(path)))
    if not text.strip():
        raise LoadError("empty file")
    title = (title_of(text) if title_of else None) or path.stem
    return LoadedDocument(path=str(path), title=title, pages=[Page(number=None, text=text)],
                          outline=outline_of(text) if outline_of else [])


@register(*TEXT_SUFFIXES, text_like=True)
def load_text(path: Path) -> LoadedDocument:
    return _load(path, rst_title if path.suffix.lower() == ".rst" else None)


@register(*MARKDOWN_SUFFIXES, text_like=True)
def load_markdown(path: Path) -> LoadedDocument:
    return _load(path, markdown_title, markdown_outline)
