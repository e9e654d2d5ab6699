"""Indexing progress in words, shared by the terminal bar of `hearth index` and the window.

The core (rag/ingest/jobprogress.py) finds and weighs every file before any work, so `fraction` only
grows and `eta_s` comes from the rate so far; this module only says it: one line with the stage,
the file (and its page while it is read or OCR'd), the counts and the time left.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rag.base.types import IndexProgress


def eta_words(seconds: float | None) -> str:
    """'ETA 12 s' / 'ETA 4 min'; empty while there is no estimate yet."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 90:
        return f"ETA {seconds:.0f} s"
    return f"ETA {seconds / 60:.0f} min"


def describe(p: IndexProgress) -> str:
    """One line: what is being done now, then files, chunks and the ETA."""
    if p.stage == "finding files":
        return "Finding files…"
    if p.stage == "loading the embedding model":
        return f"Loading the embedding model… · {p.files_done}/{p.files_total} files"
    name = Path(p.current or "").name
    if p.stage in ("reading", "recognising text (OCR)") and name:
        now = ("Recognising text (OCR) in " if "OCR" in p.stage else "Reading ") + name
        if p.pages_total:
            now += f", page {min(p.pages_done + 1, p.pages_total)} of {p.pages_total}"
    elif p.stage == "embedding":
        now = f"Embedding {p.chunks_done}/{p.chunks_total} chunks"
    elif p.stage in ("done", "cancelled"):
        now = "Done" if p.stage == "done" else "Cancelled"
    else:
        now = name
    parts = [now, f"{p.files_done}/{p.files_total} files"]
    eta = eta_words(p.eta_s) if p.stage not in ("done", "cancelled") else ""
    if eta:
        parts.append(eta)
    return " · ".join(x for x in parts if x)


def done_words(report) -> str:  # noqa: ANN001 - rag.base.types.IndexReport
    """The notice at the end of a job, with its counts."""
    head = "Indexing cancelled" if getattr(report, "cancelled", False) else "Indexing done"
    return (f"{head}: {report.count('indexed')} indexed, {report.count('unchanged')} unchanged, "
            f"{report.count('skipped')} skipped, {report.count('failed')} failed, "
            f"{report.count('removed')} removed in {getattr(report, 'seconds', 0):.1f} s.")


class TerminalProgress:
    """A dependency-free bar on stderr: the whole job's fraction, never moving back."""

    WIDTH = 30

    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._last = 0.0
        self._drawn = False
        self._width = 0
        self._frac = 0.0

    def update(self, p: IndexProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.stage not in ("done", "cancelled"):
            return
        self._last = now
        frac = p.fraction or (p.files_done / p.files_total if p.files_total else 0.0)
        self._frac = max(self._frac, min(1.0, frac))  # a producer without `fraction`: files
        bar = "#" * int(self._frac * self.WIDTH)
        line = f"[{bar:<{self.WIDTH}}] {self._frac * 100:3.0f}% {describe(p)}"[:160]
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
