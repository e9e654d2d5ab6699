"""Prompt text for grounded answers with numbered sources."""

from __future__ import annotations

import re
from dataclasses import replace

from rag.base.types import Hit

SYSTEM = (
    "You are Hearth, a careful assistant that answers questions using ONLY the numbered sources "
    "from the user's own documents. Cite the sources you use with their numbers in square "
    "brackets, like [1] or [2]. If the sources do not contain the answer, say that the documents "
    "do not say. Be concise."
)

NOT_FOUND = (
    "I couldn't find anything about this in your documents, so I won't guess. Try other words, "
    "or add the documents that cover it."
)

EMPTY_LIBRARY = (
    "Your library is empty. Add documents first (drop files or folders on the window, or run "
    "`hearth index PATH`), then ask again."
)


def format_sources(hits: list[Hit]) -> str:
    # No file names in the prompt: small models copy "(file.pdf, page 2)" labels instead of
    # answering. The GUI and JSON map [n] back to file and page.
    return "\n".join(f"Source [{n}]: {h.text}" for n, h in enumerate(hits, 1))


# Measured on the pdfqa-dev questions with Qwen2.5-Coder-0.5B (docs/benchmarks.md): a worked
# example teaches a 0.5B model to copy the exact option or number far better than rules do, and
# a "say the documents don't say" rule made it decline nearly everything; the verifier catches
# unsupported answers instead. Asked to copy the words that answer from ONE passage (a short
# sentence, as in the example), it got the key in 14 of 36 written answers where 3 passages and
# a one-sentence answer got 12 of 39, and its first token came in about 1.5 s instead of 2.2 s
# (same evidence, temperature 0, copy bonus 3). Counting only answers that are not a copy of
# most of the passage, the key rate about doubled (7 of 29 -> 11-15 of 28-34 across variants).
EXAMPLE_ANSWER = "To see them, run ls with the -a option."
EVIDENCE_SYSTEM = (
    "Answer the question from the passage. Copy the exact words of the passage that answer it: "
    "the command, option, function, number or name, with the few words around it.\n\n"
    "Example:\n"
    "Passage:\n"
    "Files whose names begin with a dot are hidden. To list them too, run ls with the -a "
    "option.\n"
    "Question: How can I see the files whose names start with a dot?\n"
    f"Answer: {EXAMPLE_ANSWER}"
)
PROMPT_PASSAGES = 1  # the model reads the best passage; the user sees all of them
# ... and at most this many characters of them: merged passages run to ~720 characters, and
# every 4 characters cost a 2-core CPU about 6 ms before the first token.
PROMPT_CHARS = 1200
_LAST_SENTENCE_END = re.compile(r"[.!?:;](?=\s)")


def prompt_passages(evidence: list, limit: int = PROMPT_CHARS,
                    count: int = PROMPT_PASSAGES) -> list:
    """The best passages, in order, within `limit` characters; the one that would overflow is
    cut at a sentence end (kept only if a useful part remains). The first is always kept.
    Each passage is cut to its focus (the sentence before the best-matching one, that one and
    the three after it): a whole passage gives the small model too much to copy from (pdfqa-dev,
    same evidence: key in written answers 14/36 -> 18/39 for the best sentence first, first
    token 2.2 -> 1.6 s), the narrowest cut leaves out the key (docs/benchmarks.md, session 16)."""
    out, left = [], limit
    for e in evidence[:count]:
        e = replace(e, quote=e.focus) if e.focus else e
        if len(e.quote) <= left or not out:
            out.append(e)
            left -= len(e.quote)
            continue
        ends = [m.end() for m in _LAST_SENTENCE_END.finditer(e.quote, 0, left)]
        if ends and ends[-1] >= 120:
            out.append(replace(e, quote=e.quote[:ends[-1]]))
        break
    return out


def format_evidence(evidence: list) -> str:
    return "\n".join(f"[{e.n}] {e.quote}" for e in evidence)


def passage_text(evidence: list) -> str:
    """The passages as the model reads them (and as its copy bias sees them). One passage goes
    without a number to copy: the verifier attaches the citation."""
    return evidence[0].quote if len(evidence) == 1 else format_evidence(evidence)


def build_evidence_messages(question: str, evidence: list, history: list[dict]) -> list[dict]:
    """The selected passages (not whole chunks), then the question: a short prompt keeps a small
    model on the question and makes the first token come sooner."""
    if not evidence:
        return build_messages(question, [], history)
    label = "Passage" if len(evidence) == 1 else "Passages"
    user = f"{label}:\n{passage_text(evidence)}\nQuestion: {question}"
    return [{"role": "system", "content": EVIDENCE_SYSTEM}, *history,
            {"role": "user", "content": user}]


def build_messages(question: str, hits: list[Hit], history: list[dict]) -> list[dict]:
    """Question first, sources, then the question again: measured on SmolLM2-135M, this order
    gets a direct one-sentence answer where "sources first" got the sources echoed back."""
    if hits:
        user = (f"Question: {question}\n\n{format_sources(hits)}\n\n"
                f"Answer the question \"{question}\" in one sentence using the sources, "
                "then cite like [1].")
    else:
        user = f"Question: {question}"
    return [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": user}]
