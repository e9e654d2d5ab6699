"""Check a model's answer against the evidence it was given, sentence by sentence.

Why: a small model cites [3] for what [1] says, invents citation numbers, echoes the prompt or
emits bare `[1]: [1]` lines. Each answer sentence is compared with every evidence passage
(content words, exact identifiers and numbers, embedding similarity): its citation moves to the
passage that supports it, numbers that don't exist are dropped, and a sentence no passage
supports is marked (a number or name, or a quantity such as "five years", that the passage lacks
counts against it). Output with nothing supported falls back to the evidence itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from rag.answering.evidence import Evidence
from rag.answering.textmatch import (
    MONTHS,
    QUANTITY_REACH,
    content_terms,
    contradicts,
    identifiers,
    loose_terms,
    name_parts,
    normalise_space,
    number_value,
    numbers,
    quantities,
    stem,
    tokens,
)

SUPPORT_THRESHOLD = 0.5  # combined score a sentence needs from one passage
SIM_WEIGHT = 0.5
_CITE = re.compile(r"\s*\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_LINK_DEF = re.compile(r"^\s*\[(\d{1,3})\]\s*:\s*", re.MULTILINE)
_ECHO = re.compile(r"^\s*(?:question|answer|sources?(?: \[\d+\])?|context)\s*:\s*", re.I | re.M)
_SPLIT = re.compile(r"(?<=[.!?])(?:\s*\[[\d,;\s]+\])*\s+(?=\S)|\n+")
_DECLINE = re.compile(
    r"\b(?:do(?:es)?n[o']?t (?:say|mention|contain|provide|specify|cover|answer|include)|"
    r"(?:is|are) not (?:mentioned|provided|specified|covered|given|stated)|no (?:information|mention)|"
    r"(?:cannot|can't|could not|couldn't) (?:find|answer|determine|tell)|not (?:found|available) in)",
    re.I)
_POLARITY = re.compile(r"\b(?:yes|no|not|never|cannot|can't|don't|doesn't|isn't|aren't|won't)\b")
_YES_NO = frozenset({"yes", "no"})  # an answer's "Yes," is backed by what follows it, not by a "yes"
# A name joined by underscores (OPENBLAS_NUM_THREADS, omp_set_num_threads) is one name: its
# parts ("num", "threads") stand in other names too (OMP_NUM_THREADS), so the passage that backs
# it must hold it whole.
_UNDERSCORED = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
# Words that only say what kind of thing a name is: "use the tracemem function" is backed by a
# page saying "Calling tracemem on an object...", which never says "function". They count
# only when nothing else in the sentence is new.
KIND_WORDS = frozenset(stem(w) for w in """
function functions command commands option options argument arguments parameter parameters
variable variables setting settings field fields flag flags directive directives keyword
keywords macro macros method methods switch switches
""".split())
ECHO_RUN = 4  # words in a row shared with the prompt's own text (and no passage): an echo
LOOP_TIMES, LOOP_PERIOD = 3, 8  # up to 8 words said 3 times back to back: a loop
# A section heading on its own ("1.2 Export to text files"): a title the model copied, not an
# answer (rdat-01 of the dev set; "14 Expansion", a chapter of the zsh manual). A section
# number, a capitalised word (after a plain number, a word of four letters or more that is not
# a month: "12 May" and "2 GiB" are answers), no full stop.
_MONTHS = "|".join(m.capitalize() for m in MONTHS)
_HEADING = re.compile(r"^(?:(?:\d+(?:\.\d+)+|[A-Z]\.\d+(?:\.\d+)*)\s+[A-Z][a-z]"
                      r"|\d+\s+(?!(?:" + _MONTHS + r")\b)[A-Z][a-z]{3,})[^.!?]*$")

NOT_IN_DOCUMENTS = "I couldn't find an answer to this in your documents."
NOT_FOUND_MARK = "not found in your documents"
# How far an answer is confirmed, in the words every front end shows (GUI, CLI, JSON, API).
CHECKED, PARTLY, UNCONFIRMED = "checked", "partly checked", "not confirmed"
VERDICT_NOTES = {
    CHECKED: "Checked: each sentence is backed by the passage it cites.",
    PARTLY: "Partly checked: the sentences that cite a passage are backed by it and answer your "
            "question; the marked ones are not.",
    UNCONFIRMED: "Not confirmed: Hearth could not confirm an answer in your documents; read the "
                 "passages shown.",
}
FALLBACK_NOTE = ("I couldn't find an answer that your documents back up, so here are the "
                 "passages closest to your question:")


@dataclass
class Claim:
    text: str
    sources: list[int] = field(default_factory=list)
    supported: bool = False
    score: float = 0.0
    why: str = ""  # why an unsupported sentence is marked ("" = no passage backs its words)

    @property
    def mark(self) -> str:
        """What the front ends print beside an unsupported sentence."""
        return self.why or NOT_FOUND_MARK

    def to_json(self) -> dict:
        out = {"text": self.text, "sources": self.sources, "supported": self.supported}
        if not self.supported:
            out["why"] = self.mark
        return out


@dataclass
class Verified:
    text: str  # the answer as shown: citations corrected, or the evidence fallback
    claims: list[Claim]
    declined: bool = False  # the model said the documents don't answer it
    fallback: str = ""  # why the evidence replaced the model's text ("" = it didn't)

    @property
    def supported_rate(self) -> float:
        return sum(c.supported for c in self.claims) / len(self.claims) if self.claims else 0.0


def cited(sentence: str) -> list[int]:
    nums: list[int] = []
    for m in _CITE.finditer(sentence):
        nums += [int(x) for x in re.split(r"[,;\s]+", m.group(1)) if x.isdigit()]
    return list(dict.fromkeys(nums))


def strip_citations(sentence: str) -> str:
    return _CITE.sub("", sentence).strip()


def clean(text: str, question: str) -> str:
    """Undo the usual small-model noise: `[n]:` link-definition lines, echoed prompt labels."""
    text = _LINK_DEF.sub(lambda m: f"[{m.group(1)}] ", text)
    text = _ECHO.sub("", text)
    q = question.strip()
    if q and q in text:  # an echoed question is not part of the answer
        text = text.replace(q, " ")
    return text.strip()


def sentences(text: str) -> list[str]:
    parts = [p.strip(" \t-*•") for p in _SPLIT.split(text)]
    return [p for p in parts if p]


def restates(sentence: str, question: str, question_terms: set[str]) -> bool:
    """A sentence made only of the question's own words ("64-bit builds run slower than 32-bit
    builds" for "Why might a 64-bit build run slower…?") says nothing the user didn't: it is not
    an answer. A yes/no word the question lacks makes it one ("No, it does not assume…")."""
    terms = loose_terms(sentence)  # "decides" restates "decide"
    if len(terms) < 2 or not terms <= {t.rstrip("e") for t in question_terms}:
        return False
    said = set(_POLARITY.findall(sentence.lower())) - set(_POLARITY.findall(question.lower()))
    return not said


def shingles(text: str, n: int = ECHO_RUN) -> set[tuple[str, ...]]:
    words = tokens(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def heading(sentence: str) -> bool:
    return bool(_HEADING.match(sentence)) and len(sentence.split()) <= 8


def loops(sentence: str) -> bool:
    """The sentence says the same words again and again, back to back ("A.3.1 BLAS A.3.1 BLAS
    A.3.1 BLAS", "--enable-html --enable-html --enable-html"): a small model stuck in a loop,
    whatever the passage says. A name said three times with other words between
    ("$(R_HOME)/bin$(R_ARCH_BIN)/Rscript" twice, then $(R_ARCH_BIN)) is not a loop."""
    words = tokens(sentence)
    content = set(content_terms(sentence))
    for period in range(1, LOOP_PERIOD + 1):
        for i in range(len(words) - LOOP_TIMES * period + 1):
            run = words[i:i + period]
            if all(words[i + k * period:i + (k + 1) * period] == run
                   for k in range(1, LOOP_TIMES)) and any(
                    stem(w) in content or w in content for w in run):
                return True
    return False


def echoes(sentence: str, prompt: set[tuple[str, ...]], passages: set[tuple[str, ...]]) -> bool:
    """The sentence repeats the prompt's instructions or worked example ("…: it also lists names
    that begin with a dot" after an unrelated command): words the passages never say."""
    return bool(prompt) and any(s in prompt and s not in passages for s in shingles(sentence))


def support(sentence: str, passage: str, sim: float, question_terms: set[str],
            question_quantities: frozenset | set = frozenset()) -> float:
    """0..1: how well `passage` backs `sentence` (words it shares, exact identifiers, meaning)."""
    terms = [t for t in content_terms(sentence) if t not in question_terms
             and t not in _YES_NO] or content_terms(sentence)
    terms = [t for t in terms if t not in KIND_WORDS] or terms
    if not terms:
        return 0.0
    have = set(content_terms(passage)) | name_parts(passage)
    stated = numbers(passage)  # "five" on the page backs "5" in the answer, and back
    overlap = sum(t in have or number_value(t) in stated for t in terms) / len(terms)
    flat = normalise_space(passage)
    ids = [i for i in identifiers(sentence) if i not in question_terms]
    ids += _UNDERSCORED.findall(sentence)
    if ids and not all(normalise_space(i) in flat or number_value(i) in stated for i in ids):
        overlap *= 0.5  # a number or name the passage doesn't have: likely invented
    new = quantities(sentence) - question_quantities
    if new and new - quantities(passage, QUANTITY_REACH):
        # "five years" where the passage has "five seconds" and "once a year": both words are
        # there, the fact is not.
        overlap *= 0.5
    return (1 - SIM_WEIGHT) * overlap + SIM_WEIGHT * max(0.0, sim)


def verify(answer_text: str, evidence: list[Evidence], question: str, embedder,
           threshold: float = SUPPORT_THRESHOLD, prompt_text: str = "") -> Verified:
    """Corrected answer text with per-sentence claims; evidence fallback for degenerate output.
    `prompt_text`: the prompt's fixed text (instructions, example); a sentence copying it is an
    echo, not a claim."""
    body = clean(answer_text, question)
    parts = sentences(body)
    q_terms = set(content_terms(question))
    q_quantities = quantities(question)
    prompt_runs = shingles(prompt_text) - shingles(question) if prompt_text else set()
    passage_runs = set().union(*(shingles(e.quote) for e in evidence)) if prompt_runs else set()
    claims: list[Claim] = []
    declined = restated = False
    odd = ""  # a heading or a loop: why the model's text is no answer
    seen: set[str] = set()
    items = []
    for part in parts:
        bare = strip_citations(part)
        key = normalise_space(bare)
        if len(content_terms(bare)) < 2 and not identifiers(bare):
            continue  # "[1]", "Answer.", stray labels: not a statement
        if key in seen:
            continue  # repetition
        seen.add(key)
        if _DECLINE.search(bare):
            declined = True
            continue
        if restates(bare, question, q_terms) or bare.endswith("?"):
            restated = True  # the question again, or a question back: it answers nothing
            continue
        if echoes(bare, prompt_runs, passage_runs):
            continue
        if heading(bare):
            odd = "the model only copied a heading"
            continue
        if loops(bare):
            odd = "the model repeated itself"
            continue
        items.append((part, bare))
    if items and evidence:
        if embedder is not None:
            vecs = embedder.embed([b for _, b in items] + [e.quote for e in evidence])
            sims = (vecs[: len(items)] @ vecs[len(items):].T).tolist()
        else:  # no embedder (a stopped answer): words alone must carry the support
            sims = None
        for i, (part, bare) in enumerate(items):
            scores = [support(bare, e.quote, sims[i][j], q_terms, q_quantities)
                      if sims is not None
                      else support(bare, e.quote, 0.0, q_terms, q_quantities) / (1 - SIM_WEIGHT)
                      for j, e in enumerate(evidence)]
            # A passage that says "not X" where the sentence says X backs nothing.
            scores = [0.0 if sc >= threshold and _contradicted(bare, e.quote) else sc
                      for sc, e in zip(scores, evidence, strict=True)]
            valid = {e.n for e in evidence}
            wanted = [n for n in cited(part) if n in valid]
            ok = [n for n in wanted if scores[n - 1] >= threshold]
            best = max(range(len(evidence)), key=lambda j: scores[j])
            if not ok and scores[best] >= threshold:
                ok = [evidence[best].n]
            claims.append(Claim(bare, ok, bool(ok), round(max(scores), 4)))
    elif items:
        claims = [Claim(bare) for _, bare in items]
    if any(c.supported for c in claims):
        return Verified(render(claims), claims, declined)
    if declined or not evidence:
        return Verified(NOT_IN_DOCUMENTS, claims, True)
    reason = "no statement in the answer is backed by a passage" if claims else (
        "the model wrote no answer" if not body else "the model only restated the question"
        if restated else odd or "the model only echoed the prompt or listed citations")
    return Verified(fallback_text(evidence), claims, False, reason)


def not_the_answer(checked: Verified, why: str, kept: set[str] | frozenset = frozenset()
                   ) -> Verified:
    """Every backed sentence marked `why`: its words are on the page, but a later check
    (rag/answering/confirm.py) found it does not answer the question. No citation stays on it,
    except on the sentences in `kept` (normalised text), which that check confirmed alone."""
    claims = [replace(c, supported=False, sources=[], why=why)
              if c.supported and normalise_space(c.text) not in kept else c
              for c in checked.claims]
    return Verified(render(claims), claims, checked.declined, checked.fallback)


def verdict(claims: list[Claim], fallback: str = "", declined: bool = False) -> str:
    """CHECKED, PARTLY or UNCONFIRMED: what the answer may claim about itself. An answer that fell
    back to the passages, declined, or has no backed sentence is never shown as checked."""
    if fallback or declined or not any(c.supported for c in claims):
        return UNCONFIRMED
    return CHECKED if all(c.supported for c in claims) else PARTLY


def _contradicted(claim: str, passage: str) -> bool:
    """Checked against the passage sentence that shares most words with the claim."""
    terms = set(content_terms(claim))
    best = max(sentences(passage), key=lambda p: len(terms & set(content_terms(p))), default="")
    return contradicts(claim, best)


def render(claims: list[Claim]) -> str:
    """Answer text with each sentence followed by the passages that support it."""
    out = []
    for c in claims:
        out.append(with_citations(c.text, c.sources))
    return " ".join(out)


def with_citations(text: str, numbers: list[int]) -> str:
    """`text [1][2].`: the markers go before the sentence's closing punctuation."""
    text = text.rstrip()
    tail = "".join(f"[{n}]" for n in numbers)
    if not tail:
        return text
    end = len(text.rstrip(".!?:;"))
    return f"{text[:end]} {tail}{text[end:]}"


def fallback_text(evidence: list[Evidence], n: int = 2) -> str:
    quotes = "\n".join(f"> {e.quote} [{e.n}]" for e in evidence[:n])
    return f"{FALLBACK_NOTE}\n\n{quotes}"
