"""The `ChatModel` interface the answering code talks to; real models live in inference.llama."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from rag.base.errors import HearthError


class ModelError(HearthError):
    """A model file could not be used (missing, corrupt, unsupported): message is for the user."""


@runtime_checkable
class ChatModel(Protocol):
    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes with this model's tokenizer."""

    def count_prompt(self, messages: list[dict]) -> int:
        """Tokens of the full prompt these chat messages render to (template included)."""

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 512,
        temperature: float = 0.2,
        cancel=None,
        prefer: str = "",
    ) -> Iterator[str]:
        """Yield text deltas; stop promptly (between tokens) once `cancel.cancelled` is true.
        `prefer`: text whose words the answer should copy (a grounded answer's passages)."""

    def close(self) -> None: ...
