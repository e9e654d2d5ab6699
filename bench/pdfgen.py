"""Hand-written PDFs whose words are separated by position only, never by a space character.

Why: that is how justified text often comes out of TeX and office tools (the gap between two
words is a TJ offset or a new text position), and it is where extractors differ: one that
compares the gap with the font's space glyph glues words together when the font's space is
wider than the gap. fpdf2 (used by tests/makedocs.py) always writes real spaces, so it can't
show this. Every glyph is declared 500/1000 em wide, so the geometry is exact for any reader.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

FONT_SIZE = 10
GLYPH = 500  # thousandths of an em, for every character (declared in /Widths)
GAP = 200  # word gap in thousandths of an em: narrower than the font's own space glyph
LINE_CHARS = 90
LINES_PER_PAGE = 40

WORDS = ("file", "names", "and", "their", "attributes", "may", "be", "hidden", "remain",
         "process", "open", "list", "memory", "package", "library", "compile", "install",
         "option", "function", "value", "matrix", "vector", "frame", "table", "read", "write",
         "string", "number", "error", "warning", "stack", "thread", "socket", "server",
         "client", "header", "source", "object", "method", "class", "index", "search",
         "answer", "question", "page", "document", "chapter", "section", "example", "figure")


def sample_text(n_words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def _lines(text: str) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    width = 0
    for word in text.split():
        if lines[-1] and width + 1 + len(word) > LINE_CHARS:
            lines.append([])
            width = 0
        width += len(word) + (1 if lines[-1] else 0)
        lines[-1].append(word)
    return [ln for ln in lines if ln]


def _escape(word: str) -> bytes:
    return word.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def _page_stream(lines: list[list[str]], style: str) -> bytes:
    out = [b"BT /F1 %d Tf" % FONT_SIZE]
    y = 760
    step = (GLYPH + GAP) * FONT_SIZE / 1000
    for words in lines:
        if style == "tj":  # one TJ per line, words apart by a negative offset only
            gap = b" -%d " % GAP
            out.append(b"1 0 0 1 50 %d Tm [%s] TJ" % (y, gap.join(b"(" + _escape(w) + b")"
                                                                 for w in words)))
        elif style == "tm":  # every word placed on its own
            x = 50.0
            for w in words:
                out.append(b"1 0 0 1 %.2f %d Tm (%s) Tj" % (x, y, _escape(w)))
                x += len(w) * GLYPH * FONT_SIZE / 1000 + step - GLYPH * FONT_SIZE / 1000
        else:
            raise ValueError(style)
        y -= 18
    out.append(b"ET")
    return b"\n".join(out)


def positioned_pdf(path: str | Path, pages: list[str], style: str = "tj") -> Path:
    """Write a PDF with one page per entry; its words are set apart by position only
    (`style` "tj": TJ offsets; "tm": one text matrix per word). Lines wrap at 90 characters."""
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n)).encode()
    font_id = 3 + 2 * n
    widths = b" ".join([b"%d" % GLYPH] * 95)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n)]
    for i, text in enumerate(pages):
        stream = _page_stream(_lines(text)[:LINES_PER_PAGE], style)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                    b"<< /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, 4 + 2 * i))
        objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding "
                b"/WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [%s] >>" % widths)
    buf = io.BytesIO()
    buf.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(buf.tell())
        buf.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = buf.tell()
    buf.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        buf.write(b"%010d 00000 n \n" % off)
    buf.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objs) + 1, xref))
    path = Path(path)
    path.write_bytes(buf.getvalue())
    return path
