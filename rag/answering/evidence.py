"""Evidence first: the few sentences or lines of the retrieved chunks that answer the question.

Why: a small model given five whole chunks echoes, wanders or stays silent; the exact passage,
shown at once with its file and page, is useful even when the model fails. The same passages
become the model's whole context (a short prompt: faster first token, less to get lost in).

Splitting keeps PDF layout and code in mind: a wrapped prose line joins its paragraph and the
paragraph splits into sentences; short lines, code and table rows stay lines of their own.
Scoring = embedder similarity to the question + keyword overlap (rarer question words count more)
+ a small bonus for the chunk's retrieval rank. The best unit is quoted with a neighbour unit;
passages are then ordered by that score plus the whole quote's similarity to the question.
The user sees the whole passage; the model reads its focus, the best unit with the one before
it and the three after it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rag.answering.textmatch import content_terms
from rag.base.types import Hit

MAX_UNIT_CHARS = 360
MAX_QUOTE_CHARS = 480
# What the model reads: the unit before the best one, the best one and the three after it
# (docs/benchmarks.md, session 16: the key in the model's input 25 -> 30 of 44 on pdfqa-dev,
# 28 -> 35 of 84 on the tune manuals). Its core, the best unit and the two after it, is what
# the answer must also come from when asked again (`again` in rag.answering.answer).
FOCUS_BEFORE = 1
FOCUS_AFTER = 3
CORE_AFTER = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z(\"'`])")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|cf|vs|Fig|fig|No|no|Sec|sec|resp|approx|Dr|Mr|Ms)\.$")
_CODE = re.compile(r"(<-|->|[{};]\s*$|^\s*[$>#%]\s|==|!=|::|\w\(.*\)|^\s*\\\w|<<|^\s{2,}\S|\t)")


@dataclass
class Unit:
    hit: int  # index into the hits list
    start: int  # char span within the hit's text
    end: int
    text: str


@dataclass
class Evidence:
    n: int
    path: str
    page: int | None
    quote: str
    score: float
    hit: int = 0  # which retrieved chunk it came from (index into the hits)
    chunk_id: str = ""
    start: int = 0  # char span of the quote within that chunk's text
    end: int = 0
    focus: str = ""  # the best-matching unit with what is around it: what the model reads
    core: str = ""  # the best-matching unit and the two after it: the narrower reading

    def to_json(self) -> dict:
        return {"n": self.n, "path": self.path, "page": self.page, "quote": self.quote}


def _is_code_or_row(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    letters = sum(c.isalpha() for c in stripped)
    if len(stripped) >= 8 and letters / len(stripped) < 0.55:
        return True
    return bool(_CODE.search(line))


def _sentences(text: str, base: int) -> list[tuple[int, int]]:
    """Sentence spans of a prose paragraph (offsets relative to the chunk)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if _ABBREV.search(text[start:m.start() + 1]):
            continue
        spans.append((start, m.start() + 1))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while e - s > MAX_UNIT_CHARS:  # a run-on "sentence": cut at a space
            cut = text.rfind(" ", s, s + MAX_UNIT_CHARS)
            cut = cut if cut > s + 40 else s + MAX_UNIT_CHARS
            out.append((base + s, base + cut))
            s = cut + 1
        if text[s:e].strip():
            out.append((base + s, base + e))
    return out


def split_units(text: str) -> list[tuple[int, int]]:
    """Char spans of sentences (prose) and lines (code, table rows, headings, list items)."""
    units: list[tuple[int, int]] = []
    para_start: int | None = None
    para_end = 0
    pos = 0

    def flush() -> None:
        nonlocal para_start
        if para_start is not None:
            units.extend(_sentences(text[para_start:para_end], para_start))
            para_start = None

    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        standalone = _is_code_or_row(line) or (len(stripped) < 40 and not stripped.endswith(","))
        if standalone:
            flush()
            lead = len(line) - len(line.lstrip())
            units.append((start + lead, start + lead + len(stripped)))
            continue
        if para_start is None:
            para_start = start + len(line) - len(line.lstrip())
        para_end = end
    flush()
    return [(s, e) for s, e in units if text[s:e].strip()]


def _flat(text: str) -> str:
    return re.sub(r"[ \t]*\n[ \t]*", " ", text).strip()


def units_of(hits: list[Hit]) -> list[Unit]:
    out = []
    for i, h in enumerate(hits):
        for s, e in split_units(h.text):
            out.append(Unit(i, s, e, h.text[s:e]))
    return out


def keyword_overlap(question_terms: list[str], units: list[Unit]) -> list[float]:
    """Share of the question's words found in each unit, rarer words (across units) weighing more."""
    unit_terms = [set(content_terms(u.text)) for u in units]
    n = max(1, len(units))
    weights = {}
    for t in question_terms:
        df = sum(1 for ts in unit_terms if t in ts)
        weights[t] = math.log(1 + n / (1 + df))
    total = sum(weights.values()) or 1.0
    return [sum(w for t, w in weights.items() if t in ts) / total for ts in unit_terms]


def select_evidence(question: str, hits: list[Hit], embedder, *, max_passages: int = 4,
                    keyword_weight: float = 0.5, rank_weight: float = 0.1,
                    max_per_chunk: int = 2, quote_chars: int = MAX_QUOTE_CHARS
                    ) -> list[Evidence]:
    """The passages that best answer `question`, best first, numbered 1..n."""
    units = units_of(hits)
    if not units:
        return []
    import numpy as np

    vecs = embedder.embed([question] + [_flat(u.text) for u in units])
    sims = vecs[1:] @ vecs[0]
    kw = keyword_overlap(content_terms(question), units)
    top = max((h.score for h in hits), default=1.0) or 1.0
    scores = [float(sims[i]) + keyword_weight * kw[i] + rank_weight * (hits[u.hit].score / top)
              for i, u in enumerate(units)]
    order = np.argsort(-np.asarray(scores), kind="stable")
    chosen: list[list[int]] = []  # [anchor, first unit, last unit]
    per_chunk: dict[int, int] = {}
    covered: set[int] = set()
    for i in order:
        i = int(i)
        u = units[i]
        if i in covered or per_chunk.get(u.hit, 0) >= max_per_chunk:
            continue
        first, last = _window(units, i, quote_chars)
        # Windows of one chunk that touch are one passage, not two near-copies: merge them
        # while the union stays readable, else keep only the new part.
        near = next((c for c in chosen if units[c[0]].hit == u.hit
                     and first <= c[2] + 1 and last >= c[1] - 1), None)
        if near is not None:
            lo, hi = min(first, near[1]), max(last, near[2])
            if units[hi].end - units[lo].start <= quote_chars * 3 // 2:
                near[1], near[2] = lo, hi
                covered.update(range(lo, hi + 1))
                continue
            first = near[2] + 1 if i > near[2] else first
            last = near[1] - 1 if i < near[1] else last
        chosen.append([i, first, last])
        per_chunk[u.hit] = per_chunk.get(u.hit, 0) + 1
        covered.update(range(first, last + 1))
        if len(chosen) >= 2 * max_passages:
            break
    quotes = [_flat(hits[units[i].hit].text[units[f].start:units[la].end]) for i, f, la in chosen]
    # Order by the best unit's score plus the whole passage's similarity to the question: the
    # answer often sits in the text around the best-matching sentence, and the model reads
    # passage [1] most closely. Twice as many candidates as passages are ordered this way
    # (pdfqa-dev: the key in passage [1] 28 -> 33 of 44, in the top 3 37 -> 37).
    sims_q = [float(v) for v in embedder.embed(quotes) @ vecs[0]]
    ranked = sorted(zip(chosen, quotes, sims_q, strict=True),
                    key=lambda c: -(scores[c[0][0]] + c[2]))[:max_passages]
    out = []
    for n, ((i, first, last), quote, sim) in enumerate(ranked, 1):
        h = hits[units[i].hit]
        lo = max(first, i - FOCUS_BEFORE)
        focus = _flat(h.text[units[lo].start:units[min(last, i + FOCUS_AFTER)].end])
        core = _flat(h.text[units[i].start:units[min(last, i + CORE_AFTER)].end])
        out.append(Evidence(n, h.path, h.page, quote, scores[i] + sim, units[i].hit,
                            h.chunk_id, units[first].start, units[last].end, focus, core))
    return out


def _window(units: list[Unit], i: int, limit: int) -> tuple[int, int]:
    """The unit, a short lead-in before it, and what follows it (same chunk) up to `limit`
    characters: in manuals the specifics (the option, the number, the code) tend to come right
    after the sentence that matches the question best."""
    u = units[i]
    first = last = i
    if i > 0 and units[i - 1].hit == u.hit and units[i - 1].end - units[i - 1].start < 160 \
            and u.end - units[i - 1].start <= limit:
        first = i - 1
    while last + 1 < len(units) and units[last + 1].hit == u.hit \
            and units[last + 1].end - units[first].start <= limit:
        last += 1
    return first, last
