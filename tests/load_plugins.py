"""Loaders for two hostile made-up formats, registered like any plugin: `.hang` never returns
and `.bloat` takes memory until something stops it. The loader child process imports this
module too (rag.loaders.base.plugin_modules), so the real limits meet a real runaway parser."""

from __future__ import annotations

from pathlib import Path

from rag.loaders.base import register
from rag.types import LoadedDocument


@register(".hang")
def load_hang(path: Path) -> LoadedDocument:
    n = 0
    while True:  # a parser stuck in a loop
        n += 1


@register(".bloat")
def load_bloat(path: Path) -> LoadedDocument:
    hoard = []
    while True:  # a parser building an ever larger tree (pages written, so really resident)
        hoard.append(b"\x01" * (16 << 20))
