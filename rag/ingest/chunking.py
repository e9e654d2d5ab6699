"""Split pages into chunks the embedder reads whole, measured in its own word-pieces.

MiniLM silently truncates input past 256 word-pieces, so chunks are sized with the embedder's
tokenizer (title prefix included), never by characters. Boundaries prefer sentence ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rag.base.types import Chunk, Page, Section

SENTENCE_END = (".", "!", "?", ";", ":", "\n")


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_tokens: int = 200  # content word-pieces per chunk (before the title prefix)
    overlap_tokens: int = 40
    title_tokens: int = 24  # cap on the title prefix used for embedding
    heading_tokens: int = 24  # cap on the section heading (from the outline) used for embedding
    headings: bool = True  # embed each chunk with the outline's section path in effect there
    min_chunk_chars: int = 20
    # Hard cap whatever the tokenizer says: a 5 MB "word" is one [UNK] word-piece, and became
    # one 5 MB chunk that no prompt could hold. Real 200-piece chunks are ~1,000 characters.
    max_chunk_chars: int = 4000


def embedding_text(title: str, text: str, heading: str = "") -> str:
    """What the embedder sees: the document title and the section heading give every chunk
    its context (a chunk is a fifth of a page; its heading often names what it is about)."""
    return "\n".join(part for part in (title, heading, text) if part)


def clip_title(tokenizer, title: str, max_tokens: int) -> str:
    offsets = tokenizer.token_offsets(title)
    if len(offsets) <= max_tokens:
        return title
    return title[: offsets[max_tokens - 1][1]]


def chunk_pages(pages: Iterable[Page], title: str, tokenizer, cfg: ChunkingConfig | None = None,
                max_tokens: int | None = None, outline: list[Section] | None = None
                ) -> tuple[str, list[Chunk]]:
    """Return (clipped title, chunks). `tokenizer` is an Embedder (count_tokens/token_offsets).
    With an `outline`, each chunk carries the section path in effect at its middle."""
    cfg = cfg or ChunkingConfig()
    pages = list(pages)
    limit = max_tokens or getattr(tokenizer, "max_tokens", 256)
    whole_title = title.strip()
    title = clip_title(tokenizer, title.strip(), cfg.title_tokens) if title else ""
    title_cost = len(tokenizer.token_offsets(title + "\n")) if title else 0
    outline = outline if cfg.headings else None
    heading_cost = cfg.heading_tokens + 1 if outline else 0
    # [CLS] + [SEP] + title and heading prefixes must all fit in the encoder's window.
    budget = max(16, min(cfg.chunk_tokens, limit - 2 - title_cost - heading_cost))
    overlap = min(cfg.overlap_tokens, budget // 2)
    chunks: list[Chunk] = []
    for page in pages:
        for start, end in _spans(page.text, tokenizer, budget, overlap, cfg.max_chunk_chars):
            text = page.text[start:end].strip()
            if len(text) < cfg.min_chunk_chars and chunks:
                continue
            if not text:
                continue
            lead = len(page.text[start:end]) - len(page.text[start:end].lstrip())
            s = start + lead
            chunks.append(Chunk(len(chunks), page.number, s, s + len(text), text))
    if outline:
        chunks = _with_headings(chunks, pages, outline, whole_title, tokenizer,
                                cfg.heading_tokens)
    return title, chunks


_NUMBER = re.compile(r"^(?:[A-Z]|\d+)(?:\.\d+)*\.?\s+(?=\S)")  # "3.5.4. ", "A.1 ", "12 "
HEADING_LEVELS = 2  # the innermost section and its parent: "Filtering / Interfaces"


def _label(title: str) -> str:
    return _NUMBER.sub("", " ".join(title.split()), count=1)


def _offset(text: str, label: str, start: int = 0) -> int:
    """Where the heading starts in its page's text, at or after `start` (the heading before
    it on the same page): a line beginning with it, after any Markdown marks or section
    number; `start` when it can't be found."""
    words = label.split()
    if not words:
        return start
    pattern = (r"(?mi)^[^\S\n]*(?:#{1,6}[^\S\n]*)?(?:[\w.]+[^\S\n]+)?"
               + r"\s+".join(map(re.escape, words[:12])))
    found = re.compile(pattern).search(text, start)
    return found.start() if found else start


def _with_headings(chunks: list[Chunk], pages: list[Page], outline: list[Section],
                   title: str, tokenizer, max_tokens: int) -> list[Chunk]:
    """Pages without numbers (a whole text file) are page 0 of the outline."""
    texts = {p.number or 0: p.text for p in pages}
    events = []
    last: dict[int, int] = {}  # the previous heading's offset on each page
    own = {title.casefold(), _label(title).casefold()}  # the title is embedded already
    for order, sec in enumerate(outline):
        label = _label(sec.title)
        if not label or label.casefold() in own:
            continue
        at = _offset(texts.get(sec.page, ""), label, last.get(sec.page, 0))
        last[sec.page] = at
        events.append((sec.page, at, order, sec.level, label))
    events.sort()
    open_: dict[int, str] = {}
    clipped: dict[str, str] = {}
    i, out = 0, []
    for c in chunks:
        middle = (c.start + c.end) // 2
        page = c.page or 0
        while i < len(events) and (
                events[i][0] < page or (events[i][0] == page and events[i][1] <= middle)):
            _, _, _, level, label = events[i]
            open_ = {k: v for k, v in open_.items() if k < level}
            open_[level] = label
            i += 1
        path = [open_[k] for k in sorted(open_)][-HEADING_LEVELS:]
        heading = " / ".join(path)
        if heading and heading not in clipped:
            fits = len(tokenizer.token_offsets(heading)) <= max_tokens
            clipped[heading] = heading if fits else clip_title(tokenizer, path[-1], max_tokens)
        heading = clipped.get(heading, "")
        out.append(replace(c, heading=heading) if heading else c)
    return out


def _windows(text: str, tokenizer, budget: int, overlap: int) -> list[tuple[int, int]]:
    """Char spans covering `text`, each at most `budget` word-pieces, overlapping by ~`overlap`."""
    offsets = tokenizer.token_offsets(text)
    n = len(offsets)
    if n == 0:
        return []
    if n <= budget:
        return [(offsets[0][0], offsets[-1][1])]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < n:
        j = min(n, i + budget)
        if j < n:
            j = _best_cut(text, offsets, i, j, budget)
        spans.append((offsets[i][0], offsets[j - 1][1]))
        if j >= n:
            break
        nxt = max(i + 1, j - overlap)
        i = _word_start(text, offsets, nxt, j)
    return spans


SEGMENT_CHARS = 100_000  # tokenized a segment at a time: a 64 MB page won't need GBs of offsets


def _spans(text: str, tokenizer, budget: int, overlap: int, cap: int) -> list[tuple[int, int]]:
    """Windows over `text`, tokenizing it in segments cut at line or word breaks."""
    out: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + SEGMENT_CHARS)
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start + SEGMENT_CHARS // 2 else end
        piece = text[start:end]
        out += [(start + a, start + b) for a, b in
                _capped(piece, _windows(piece, tokenizer, budget, overlap), cap)]
        start = end
    return out


def _capped(text: str, spans: list[tuple[int, int]], cap: int) -> list[tuple[int, int]]:
    """Split any span longer than `cap` characters, at the last space in a piece if it has one."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        while end - start > cap:
            cut = text.rfind(" ", start + cap // 2, start + cap)
            cut = cut if cut > start else start + cap
            out.append((start, cut))
            start = cut
        out.append((start, end))
    return out


def _best_cut(text: str, offsets: list, i: int, j: int, budget: int) -> int:
    """Move the end of a window back to a sentence end in its last 35%, if there is one."""
    floor = i + int(budget * 0.65)
    for k in range(j - 1, floor - 1, -1):
        tok_end = offsets[k][1]
        piece = text[offsets[k][0]:tok_end]
        nxt_char = text[tok_end:tok_end + 1]
        if piece and piece[-1] in SENTENCE_END and (not nxt_char or nxt_char.isspace()):
            return k + 1
    return j


def _word_start(text: str, offsets: list, k: int, limit: int) -> int:
    """Step forward to a token that starts a word (not a ##continuation)."""
    while k < limit and k > 0 and offsets[k][0] == offsets[k - 1][1] and text[offsets[k][0] - 1:offsets[k][0]].isalnum():
        k += 1
    return k


# Which chunking made a library's vectors (manifest meta). 1: title + text; 2: title + section
# path + text (issue 29, session 12). The indexer skips unchanged files by their hash, so a
# library made before keeps its vectors until it is re-indexed: the user is told, not surprised
# by hours of re-embedding.
CHUNKING_META = "chunking"
CHUNKING_VERSION = 2


def chunking_version(cfg: ChunkingConfig) -> int:
    return CHUNKING_VERSION if cfg.headings else 1


def stamp_chunking(manifest, cfg: ChunkingConfig) -> None:  # noqa: ANN001 - a Manifest
    """A new library is made with this chunking; one with vectors and no record predates it."""
    if manifest.get_meta(CHUNKING_META) is None:
        version = chunking_version(cfg) if manifest.chunk_count() == 0 else 1
        manifest.set_meta(CHUNKING_META, str(version))


def made_with(manifest) -> int:  # noqa: ANN001
    """The chunking version the library's vectors were made with (1 for an unrecorded library
    that has vectors, this Hearth's for an empty one)."""
    raw = manifest.get_meta(CHUNKING_META)
    if raw is None:
        return 1 if manifest.chunk_count() > 0 else CHUNKING_VERSION
    return int(raw) if raw.isdigit() else 1


def chunking_notice(manifest, cfg: ChunkingConfig) -> str:  # noqa: ANN001
    """A plain notice when re-indexing would give the library what this Hearth embeds."""
    if made_with(manifest) >= chunking_version(cfg) or manifest.chunk_count() == 0:
        return ""  # the record first: counting a big library's chunks is the slow part
    return ("This library was indexed by an earlier Hearth, before section headings were "
            "read: re-indexing it lets search find passages by the section they are in.")
