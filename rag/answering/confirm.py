"""Does the answer answer *this* question? Checked after the word checks, before "checked" shows.

Why: the word checks (rag/answering/verify.py) pass a true sentence copied from the page that answers
something else ("The capital of Australia is New South Wales [1]" over a table of states; "use
the NA value" for "how do I find the missing values"), and a yes/no judge, even the 1.5B model,
called most of those answers too (docs/benchmarks.md). Two checks, in order:

1. The passage again is not an answer. When the model repeats most of the passage it read word
   for word, it has not picked out what answers the question: on the dev set such repeats held
   the answer 10 times in 21. The passage is on screen already: the repeat is shown, marked, and
   not called checked. (Copying one sentence, an option or a number is picking one out.)
2. The writer's own likelihoods, read twice. The model that wrote the answer reads it again
   after the user's question and after a neutral one ("What does the passage say?"), over the
   same passage. An answer to the question is likelier once the model has read the question; a
   sentence that only restates the page is about as likely either way. Tokens of words the
   question itself contains are left out (an answer that repeats the question gains on those
   for free). Below GAIN_MIN nats per token the answer is not confirmed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from rag.answering.textmatch import stem, tokens

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

    def to_json(self) -> dict:
        return {"confirmed": self.confirmed, "why": self.why,
                "question_gain": None if self.gain is None else round(self.gain, 3),
                "gain_min": GAIN_MIN, "passage_repeated": round(self.repeated, 3)}


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
            cancel=None) -> Confirmation | None:  # noqa: ANN001
    """The check for one answer; None when the model can't be asked (or it was stopped).
    `passage`: the text the model read."""
    t0 = time.perf_counter()
    share = passage_repeated(reply, passage)
    if is_quote(reply, passage):
        return Confirmation(False, QUOTED, time.perf_counter() - t0, None, share)
    if not can_confirm(model):
        return None
    gain = question_gain(model, messages, build_neutral(NEUTRAL_QUESTION), reply, question,
                         cancel)
    if gain is None:
        return None
    ok = gain >= GAIN_MIN
    return Confirmation(ok, "" if ok else NOT_THE_ANSWER, time.perf_counter() - t0, gain, share)
