"""One writer per library across processes: chromadb's local store is not multi-process safe."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from rag.errors import LibraryInUse
from rag.paths import private_file

LOCK_NAME = "library.lock"


class LibraryLock:
    def __init__(self, data_dir: Path, owner: str) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self.owner = owner
        self._fd: int | None = None

    def acquire(self) -> LibraryLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_info(self.path)
            os.close(fd)
            who = holder.get("owner", "another Hearth process")
            pid = holder.get("pid", "?")
            raise LibraryInUse(
                f"This library is in use by {who} (pid {pid}). Close it first, or use another "
                "library with --data-dir."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "owner": self.owner,
                                 "since": time.time()}).encode())
        private_file(self.path)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def holder_info(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
