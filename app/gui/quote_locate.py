"""Find a quoted passage in a page's text, tolerant of how the text was extracted.

Why not `str.find`: the quote comes from the index (cleaned text: spaces collapsed, hyphenated
line breaks joined, maybe an OCR mark in front) while the page text comes from the renderer's
own character list (line breaks, hyphens, generated spaces). Both are compared as letters and
digits only, lower-cased; a quote that still differs (a different extractor's word order, OCR
errors) is matched by its longest common runs. Qt-free, so it is tested on its own.
"""

from __future__ import annotations

from difflib import SequenceMatcher

MIN_QUOTE = 3  # letters/digits: shorter quotes would match anywhere
MIN_RUN = 12  # shortest common run kept when the quote is only matched in pieces
ANCHOR = 40


def normalise(text: str) -> tuple[str, list[int]]:
    """Letters and digits of `text`, lower-cased, with each one's index in `text`."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isalnum():
            chars.append(ch.lower())
            where.append(i)
    return "".join(chars), where


def _merge(spans: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s - out[-1][1] <= gap:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def locate(page_text: str, quote: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of `page_text` that show `quote`; [] when it isn't there.

    One span when the quote is found whole (or by its first and last words); several when only
    pieces of it match (each at least MIN_RUN letters long).
    """
    page, pmap = normalise(page_text)
    want, _ = normalise(quote)
    if len(want) < MIN_QUOTE or not page:
        return []

    def span(i: int, n: int) -> tuple[int, int]:
        return pmap[i], pmap[i + n - 1] + 1

    i = page.find(want)
    if i >= 0:
        return [span(i, len(want))]
    if len(want) > 2 * ANCHOR:
        head, tail = want[:ANCHOR], want[-ANCHOR:]
        i = page.find(head)
        j = page.find(tail, i + ANCHOR) if i >= 0 else -1
        if i >= 0 and j >= 0 and (j + ANCHOR - i) <= 2 * len(want):
            return [span(i, j + ANCHOR - i)]
    matcher = SequenceMatcher(None, page, want, autojunk=False)
    runs = [span(b.a, b.size) for b in matcher.get_matching_blocks() if b.size >= MIN_RUN]
    if not runs and len(want) < MIN_RUN:
        return []
    return _merge(runs, gap=8)
