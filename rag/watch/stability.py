"""Stability tracker: a file is handed to the indexer only once its size and mtime stop changing.

Why: watchers see a file the moment it is created, long before a copy or download finishes.
Reading it then would index half a document (and index it again when it completes).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from rag.base.paths import is_under

# What a stat says about a file, for change detection: (size, mtime_ns); None = gone.
Signature = tuple[int, int] | None


def signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


@dataclass
class _Seen:
    sig: Signature
    since: float  # monotonic time the signature was first observed unchanged


class StabilityTracker:
    """Remembers the last signature of each path and when it last changed.

    `check(path)` returns "stable" when the signature has not changed for `settle_seconds`,
    "gone" when the file no longer exists, and "changing" otherwise (check again later).
    """

    def __init__(self, settle_seconds: float = 1.0, clock=time.monotonic) -> None:
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def touch(self, path: str) -> None:
        """An event arrived for `path`: its settle period restarts."""
        with self._lock:
            self._seen[path] = _Seen(sig=signature(path), since=self._clock())

    def check(self, path: str) -> str:
        sig = signature(path)
        now = self._clock()
        with self._lock:
            seen = self._seen.get(path)
            if seen is None or seen.sig != sig:
                self._seen[path] = _Seen(sig=sig, since=now)
                return "gone" if sig is None else "changing"
            if sig is None:
                return "gone"
            if now - seen.since >= self.settle_seconds:
                return "stable"
            return "changing"

    def remaining(self, path: str) -> float:
        """Seconds until `path` could next be stable (0 if unknown)."""
        with self._lock:
            seen = self._seen.get(path)
        if seen is None:
            return 0.0
        return max(0.0, self.settle_seconds - (self._clock() - seen.since))

    def forget(self, path: str) -> None:
        with self._lock:
            self._seen.pop(path, None)

    def rename(self, old: str, new: str) -> None:
        with self._lock:
            for key in [k for k in self._seen if is_under(k, old)]:
                self._seen[new + key[len(old):]] = self._seen.pop(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
