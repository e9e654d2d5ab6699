"""Names in a question that the library never mentions: a reason to decline before the model runs.

Why: a small model given the closest passages writes a plausible answer from them even when the
question is about something else entirely (asked for Kaplan-Meier curves, it describes `ecdf`
plots), and the verifier can't object because every word it wrote is in a passage. A name the
user asks about (a method, a product, a person: capitalised mid-sentence, or an acronym) that
occurs in no chunk of the library is strong, checkable evidence that the documents don't cover
the question. Ordinary words are not used: questions paraphrase, and the library's wording differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A capitalised word or acronym, with hyphenated or apostrophe parts ("Kaplan-Meier", "GCC's").
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"“(]\s*)$")


def name_terms(question: str) -> list[str]:
    """Capitalised words not at the start of a sentence, and acronyms (two letters or more)."""
    out: list[str] = []
    for m in _NAME.finditer(question):
        word = m.group(0)
        if len(word) < 2 or (word.isupper() is False and len(word) < 3):
            continue
        if _SENTENCE_START.search(question[: m.start()]) and not word.isupper():
            continue  # "How", "Why", "Does" opening a sentence
        if word not in out:
            out.append(word)
    return out


def absent_names(question: str, chunk_counts: Callable[[list[str]], dict[str, int]]
                 ) -> list[str]:
    """The question's names that occur in no chunk (`chunk_counts`: phrase -> chunks with it,
    as the keyword index counts them)."""
    names = name_terms(question)
    if not names:
        return []
    phrases = {n: " ".join(_WORD.findall(n.lower())) for n in names}
    try:
        counts = chunk_counts([p for p in phrases.values() if p])
    except Exception:  # a library without a keyword index (or closing): no evidence either way
        return []
    return [n for n, p in phrases.items() if p and counts.get(p, 1) == 0]


def not_mentioned_text(names: list[str]) -> str:
    quoted = [f"“{n}”" for n in names]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return (f"Your documents don't mention {listed}, so I won't guess an answer. The passages "
            "closest to your question are shown above; add the documents that cover it, or ask "
            "in other words.")
