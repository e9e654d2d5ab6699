"""Does the answer answer *this* question? Checked after the word checks, before "checked" shows.

Why: the word checks (rag/answering/verify.py) pass a true sentence copied from the page that answers
something else ("The capital of Australia is New South Wales [1]" over a table of states; "use
the NA value" for "how do I find the missing values"), and a yes/no judge, even the 1.5B model,
called most of those answers too (docs/benchmarks.md). Three checks, in order:

1. The passage again is not an answer. When the model repeats most of the passage it read word
   for word, it has not picked out what answers the question: on the dev set such repeats held
   the answer 10 times in 21. The passage is on screen already: the repeat is shown, marked, and
   not called checked. (Copying one sentence, an option or a number is picking one out.)
2. The writer's own likelihoods, read twice. The model that wrote the answer reads it again
   after the user's question and after a neutral one ("What does the passage say?"), over the
   same passage. An answer to the question is likelier once the model has read the question; a
   sentence that only restates the page is about as likely either way. Tokens of words the
   question itself contains are left out (an answer that repeats the question gains on those
   for free). Below GAIN_MIN nats per token the answer is not confirmed. The gain speaks for
   short answers only (fewer than QUOTE_MIN_WORDS words: a name, a number, an option): on
   six manuals nobody tuned on, long sentences that restate the question around a wrong detail
   gained 1.0-1.5 as often as right ones. And a short answer's specifics (each of its numbers
   and names, else one of its new words) must stand on the page in a sentence or line that
   also holds a word of the question: "14 Expansion" copied from a chapter heading, or a page
   number, gains like an answer but stands beside nothing that was asked. Nor does a label:
   an equation's "(1.1)" or a section's "2.2.1" names a place in the manual, not a value;
   nor a sentence about the other case ("1.5 bar when the system is cold" for "...when hot?").
   A question that only asks *why* wants a reason, not a name or a number, so the gain does
   not speak for its answer. Last, the answer must hold when asked again: the model reads the
   narrower core of the passage (its best sentence and the two after it, without the lines
   around it) and must give the same numbers and names (else the same new words). An answer
   picked from a neighbouring line ("UTF-8" beside "macintosh") changes or goes.
3. A value for a question that asks for one. Check 2 cannot confirm a copied sentence (after
   "What does the passage say?" the model copies the page's sentences just as readily), so
   "We planted the tomatoes on 12 May" for "When did we plant the tomatoes?" over a one-line
   note gained nothing. When the question asks *when*, *how many/long/often...* or *what
   <measure>*, a sentence of the reply is confirmed on its own if it holds every word of the
   question (its focus: "potatoes", "hot", "Mount Etna" must be in that very sentence, not
   elsewhere on the page) and states such a value that the question does not (a number, a
   date, a frequency). The rest of the reply stays marked: the answer shows as partly checked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.answering.textmatch import (
    MONTHS,
    identifiers,
    loose_terms,
    name_parts,
    normalise_space,
    numbers,
    stem,
    tokens,
    word_key,
)
from rag.answering.verify import heading, sentences, strip_citations

NEUTRAL_QUESTION = "What does the passage say?"
GAIN_MIN = 1.0  # nats per token: chosen on R-intro + R-data, checked on R-admin + R-exts
QUOTE_SHARE = 0.85  # of the passage's 4-word runs repeated by the answer: the passage again
QUOTE_MIN_WORDS = 12  # ...when the answer is this long (a copied name or number is an answer)
NOT_THE_ANSWER = "not confirmed as the answer to your question"
QUOTED = "the passage repeated; not confirmed as the answer to your question"
_WORD = re.compile(r"[\w.]+")


@dataclass
class Confirmation:
    confirmed: bool
    why: str  # "" when confirmed, else the mark the front ends show
    seconds: float
    gain: float | None = None  # mean log-probability gain per new token (None: a quote)
    repeated: float = 0.0  # share of the passage the answer repeats
    # Sentences (spaces and citations normalised) confirmed on their own by check 3.
    kept: set[str] = field(default_factory=set)

    def to_json(self) -> dict:
        return {"confirmed": self.confirmed, "why": self.why,
                "question_gain": None if self.gain is None else round(self.gain, 3),
                "gain_min": GAIN_MIN, "passage_repeated": round(self.repeated, 3),
                "value_sentences": len(self.kept)}


def can_confirm(model: object) -> bool:
    """Models that expose their token probabilities (LlamaChatModel) can be asked."""
    return callable(getattr(model, "reply_logprobs", None))


def _runs(text: str) -> set[tuple[str, ...]]:
    words = tokens(text)
    return {tuple(words[i:i + 4]) for i in range(len(words) - 3)}


def passage_repeated(reply: str, passage: str) -> float:
    """Share of the passage's 4-word runs that the reply repeats (0 when either is shorter)."""
    said, there = _runs(reply), _runs(passage)
    return len(said & there) / len(there) if said and there else 0.0


def is_quote(reply: str, passage: str) -> bool:
    """The reply is the passage again (most of it, word for word), not a part picked out."""
    return len(tokens(reply)) >= QUOTE_MIN_WORDS and \
        passage_repeated(reply, passage) >= QUOTE_SHARE


def new_tokens(pieces: list[str], question: str) -> list[bool]:
    """For each token of the reply, whether its word is new (not one of the question's words)."""
    asked = {stem(m.group().lower().strip(".")) for m in _WORD.finditer(question)}
    text, spans = "", []
    for piece in pieces:
        spans.append((len(text), len(text) + len(piece)))
        text += piece
    words = [(m.start(), m.end(), m.group().lower().strip(".")) for m in _WORD.finditer(text)]
    out = []
    for a, b in spans:
        word = next((w for w in words if w[0] < b and a < w[1]), None)
        out.append(word is None or stem(word[2]) not in asked)
    return out


def question_gain(model, messages: list[dict], neutral: list[dict], reply: str,
                  question: str, cancel=None) -> float | None:  # noqa: ANN001 - a ChatModel
    """Mean log-probability gain per new token of `reply` after `messages` over after `neutral`;
    None when there is nothing to read or the check was stopped. `messages` first: the model has
    just read them, so only the reply's tokens are computed again."""
    reply = reply.strip()
    if not reply:
        return None
    asked = model.reply_logprobs(messages, reply, cancel)
    if cancel is not None and cancel.cancelled:
        return None
    plain = model.reply_logprobs(neutral, reply, cancel)
    if not asked or len(plain) != len(asked) or (cancel is not None and cancel.cancelled):
        return None
    keep = new_tokens([piece for piece, _ in asked], question)
    gains = [a - p for (_, a), (_, p), k in zip(asked, plain, keep, strict=True) if k]
    return sum(gains) / len(gains) if gains else 0.0


def confirm(model, messages: list[dict], build_neutral: Callable[[str], list[dict]],
            reply: str, question: str, passage: str,
            cancel=None, page: str = "",
            again: Callable[[], str | None] | None = None) -> Confirmation | None:  # noqa: ANN001
    """The check for one answer; None when the model can't be asked (or it was stopped).
    `passage`: the text the model read; `page`: the same passages with their line breaks
    (`passage` when not given), where the answer's specifics are looked for; `again`: the
    model's answer over the narrower reading (None: it reads the same)."""
    t0 = time.perf_counter()
    share = passage_repeated(reply, passage)
    if is_quote(reply, passage):
        return _by_value(Confirmation(False, QUOTED, 0.0, None, share), reply, question, t0)
    if not can_confirm(model):
        return None
    gain = question_gain(model, messages, build_neutral(NEUTRAL_QUESTION), reply, question,
                         cancel)
    if gain is None:
        return None
    if gain_confirms(gain, reply, question, page or passage):
        second = again() if again is not None else None
        if cancel is not None and cancel.cancelled:
            return None
        if second is None or same_answer(reply, second, question):
            return Confirmation(True, "", time.perf_counter() - t0, gain, share)
    return _by_value(Confirmation(False, NOT_THE_ANSWER, 0.0, gain, share), reply, question, t0)


def gain_confirms(gain: float, reply: str, question: str, page: str) -> bool:
    """Check 2's verdict: enough gain, on a short answer whose specifics stand on the page
    beside what was asked, to a question that asks for more than a reason."""
    return gain >= GAIN_MIN and len(tokens(reply)) < QUOTE_MIN_WORDS and \
        not reason_only(question) and anchored(reply, question, page)


_WHY = re.compile(r"\bwhy\b", re.I)
# Another ask beside the why; "when" only where it asks ("when would I...", not "when I run").
_OTHER_ASK = re.compile(r"\b(?:how|what|which|where|who|whom|whose)\b|\bwhen\s+(?:do|does|did|"
                        r"is|are|was|were|will|would|should|can|could|must|may|might)\b", re.I)


def reason_only(question: str) -> bool:
    """The question asks why and nothing else ("Why, and by how much?" asks for a value too)."""
    return bool(_WHY.search(question)) and not _OTHER_ASK.search(question)


def _specifics(text: str) -> set[str]:
    """Its numbers and names: what a short answer stands or falls by."""
    return set(identifiers(text)) | numbers(text)


def same_answer(first: str, second: str, question: str) -> bool:
    """`second` gives `first`'s numbers and names (else its words the question lacks)."""
    mine = {s.lower() for s in _specifics(first)}
    if mine:
        return mine <= {s.lower() for s in _specifics(second)}
    new = loose_terms(first) - loose_terms(question) - {"yes", "no"}
    return bool(new) and new <= loose_terms(second)


def _terms(text: str) -> set[str]:
    """Content words (stems without a final "e"), names, the words inside names (`pushBack`:
    push, back) and numbers."""
    return loose_terms(text) | {p.rstrip("e") for p in name_parts(text)} | \
        set(identifiers(text)) | numbers(text)


def _statements(page: str) -> list[str]:
    """The page's sentences, with a line wrapped mid-sentence joined to the one before it, and a
    heading or a bare number (a page number) on its own."""
    blocks: list[str] = []
    alone = True  # the last block may not be continued: a heading, a number, a sentence's end
    for line in page.split("\n"):
        text = line.strip()
        if not text:
            continue
        own = heading(text) or text.isdigit()
        if blocks and not alone and not own:
            blocks[-1] += " " + text
        else:
            blocks.append(text)
        alone = own or text.endswith((".", "!", "?", ":"))
    return [s for block in blocks for s in sentences(block)]


# Words whose opposite on the page means the page speaks of the other case: a value "when the
# system is cold" does not answer "when it is hot".
_OPPOSITES = (("hot", "cold"), ("warm", "cold"), ("before", "after"), ("minimum", "maximum"),
              ("lower", "upper"), ("low", "high"), ("enable", "disable"),
              ("enabled", "disabled"), ("input", "output"), ("start", "stop"),
              ("increase", "decrease"), ("inside", "outside"), ("client", "server"),
              ("older", "newer"), ("import", "export"), ("install", "uninstall"),
              ("upload", "download"))
_OTHER_CASE: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    _OTHER_CASE.setdefault(word_key(_a), set()).add(word_key(_b))
    _OTHER_CASE.setdefault(word_key(_b), set()).add(word_key(_a))


def other_case(asked: set[str], said: set[str]) -> bool:
    """`said` (a sentence's words) has the opposite of an asked word and not the word itself."""
    return any(a not in said and _OTHER_CASE.get(a, set()) & said for a in asked)


# An equation's or a section's number: "(1.1)", "(2.3.4)", "2.2.1 Problem segment".
_LABEL = re.compile(r"\(\d+(?:\.\d+)+\)|^\d+(?:\.\d+)+(?=\s+[A-Z])")


def anchored(reply: str, question: str, passage: str) -> bool:
    """Each of the reply's numbers and names (else one of the words the question lacks) is in a
    sentence or line of `passage` that also holds one of the question's words and does not
    speak of the other case ("cold" where "hot" was asked); a number that is only a label there
    (rag.answering.confirm._LABEL) stands for nothing."""
    asked = loose_terms(question)
    units = [_terms(_LABEL.sub(" ", u)) for u in _statements(passage)]
    units = [u for u in units if not other_case(asked, u)]
    specifics = _specifics(reply)
    if specifics:  # every number and name
        return all(any(a in u and u & asked for u in units) for a in specifics)
    words = loose_terms(reply) - asked - {"yes", "no"}
    return any(a in u and u & asked for a in words for u in units)  # some new word


def _by_value(failed: Confirmation, reply: str, question: str, t0: float) -> Confirmation:
    """Check 3 after checks 1-2 failed: the sentences that state the value asked for."""
    kept = value_sentences(reply, question)
    said = {normalise_space(strip_citations(x)) for x in sentences(reply)} - {""}
    whole = bool(kept) and said <= kept
    return Confirmation(whole, "" if whole else failed.why, time.perf_counter() - t0,
                        failed.gain, failed.repeated, kept)


# Questions that ask for a value: when, how many/much/long/often/far/old..., what/which <measure>.
_MEASURES = ("year|years|date|day|month|time|size|length|width|height|depth|weight|pressure|"
             "temperature|speed|distance|age|price|cost|number|percentage|rate|limit|version|"
             "port|amount|duration|capacity|voltage|frequency")
# "When" only where it asks ("When did...?"), not joining clauses ("...crashes when I...").
_ASKS_VALUE = re.compile(
    r"(?:(?:^|[.?!:]\s+)when|\bhow\s+(?:many|much|long|often|far|old|big|large|small|fast|"
    r"high|tall|deep|heavy|soon|frequently)|\b(?:what|which)(?:\s+\w+){0,2}?\s+(?:"
    + _MEASURES + r"))\b", re.I)
# Words that say when, or how often, without a digit ("may" is mostly the verb).
_DATE_WORDS = frozenset(MONTHS) - {"may"} | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday yesterday today tomorrow noon "
    "midnight".split())
_OFTEN_WORDS = frozenset("once twice every daily weekly monthly yearly annually hourly nightly"
                         .split())
# An age is a number of years (or months...): "the four books by John Chambers" is no answer to
# "How old was John Chambers when...?" (our unanswerable ua-30, written by the 1.5B).
_AGE = re.compile(r"\b(?:years?|months?|weeks?|days?|aged?)\b", re.I)


def _words(text: str) -> set[str]:
    """Each word and name once, matched loosely ("serviced", "service")."""
    return {word_key(t) for t in tokens(text)}


def value_sentences(reply: str, question: str) -> set[str]:
    """The reply's sentences (normalised) that answer a value question: each holds every word
    of the question and states a value the question does not."""
    asked = _ASKS_VALUE.search(question)
    if not asked:
        return set()
    rest = question.replace(asked.group(0).strip(" .?!:"), " ")
    focus = loose_terms(rest)
    if not focus:
        return set()
    given = numbers(question)
    kind = asked.group(0).strip(" .?!:").lower()
    words_of_value = _DATE_WORDS if kind == "when" else _OFTEN_WORDS if kind.startswith(
        ("how often", "how frequently")) else frozenset()
    kept = set()
    for sentence in sentences(reply):
        said = tokens(sentence)
        words = _words(sentence)
        value = bool(numbers(sentence) - given) or any(t in words_of_value for t in said)
        if kind == "how old" and not _AGE.search(sentence):
            value = False
        if value and focus <= words:
            kept.add(normalise_space(strip_citations(sentence)))
    return kept
