"""Prompt text for grounded answers with numbered sources."""

from __future__ import annotations

import os

from rag.types import Hit

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


def source_label(hit: Hit) -> str:
    name = os.path.basename(hit.path)
    return f"{name}, page {hit.page}" if hit.page else name


def format_sources(hits: list[Hit]) -> str:
    return "\n\n".join(f"[{n}] ({source_label(h)})\n{h.text}" for n, h in enumerate(hits, 1))


def build_messages(question: str, hits: list[Hit], history: list[dict]) -> list[dict]:
    user = (f"Sources:\n{format_sources(hits)}\n\nQuestion: {question}\n"
            "Answer using the sources above and cite them like [1]."
            if hits else f"Question: {question}")
    return [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": user}]
