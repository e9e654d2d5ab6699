"""A dependency-free terminal progress bar for `hearth index`."""

from __future__ import annotations

import sys
import time

from rag.types import IndexProgress


class TerminalProgress:
    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, p: IndexProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.files_done < p.files_total:
            return
        self._last = now
        total = max(p.files_total, 1)
        frac = min(1.0, p.files_done / total)
        bar = "#" * int(frac * 30)
        rate = p.chunks_done / max(now - self.t0, 1e-6)
        name = p.current.rsplit("/", 1)[-1][:28]
        self.stream.write(f"\r[{bar:<30}] {p.files_done}/{p.files_total} files, "
                          f"{p.chunks_done}/{p.chunks_total} chunks ({rate:.0f}/s) {name:<28}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
