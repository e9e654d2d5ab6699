"""Loaders for hostile made-up formats, registered like any plugin: `.hang` never returns,
`.bloat` takes memory until something stops it and `.phone` tries the network from native code.
The loader child process imports this module too (rag.loaders.base.plugin_modules), so the real
limits meet a real runaway parser."""

from __future__ import annotations

from pathlib import Path

from rag.base.types import LoadedDocument, Page
from rag.loaders.base import register


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


@register(".phone")
def load_phone(path: Path) -> LoadedDocument:
    """A parser that tries to reach the network from native code, as a hostile file's payload or
    a library's telemetry thread would (libc directly, past Python's audit hook); the page says
    what the kernel answered to each try."""
    import ctypes
    import socket

    libc = ctypes.CDLL(None, use_errno=True)
    answers = []
    for name, family, kind in (("udp", socket.AF_INET, socket.SOCK_DGRAM),
                               ("tcp", socket.AF_INET, socket.SOCK_STREAM),
                               ("tcp6", socket.AF_INET6, socket.SOCK_STREAM)):
        fd = libc.socket(int(family), int(kind), 0)
        if fd >= 0:
            libc.close(fd)
            answers.append(f"{name}=opened")
        else:
            answers.append(f"{name}=errno{ctypes.get_errno()}")
    return LoadedDocument(str(path), path.stem, [Page(None, " ".join(answers))])
