"""One writer per library across processes: chromadb's local store is not multi-process safe.

The lock itself is the kernel's flock on `library.lock`, released by the kernel when its holder
dies however it dies; the JSON inside (pid, owner) is only a note for "in use by ...", written
best effort (a full disk must not stop a search) and trusted only while that pid is alive.
"""

from __future__ import annotations

import errno
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
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES) or not self.path.exists():
                raise
            fd = os.open(self.path, os.O_RDONLY)  # read-only media: flock works all the same
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
        self._fd = fd
        note = json.dumps({"pid": os.getpid(), "owner": self.owner, "since": time.time()})
        try:
            os.ftruncate(fd, 0)
            os.write(fd, note.encode())
        except OSError:  # disk full or read-only: the flock alone is the lock
            pass
        private_file(self.path)
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                try:
                    os.ftruncate(self._fd, 0)
                except OSError:
                    pass
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def holder_info(path: Path) -> dict:
    """The note of the process holding the lock, or {} if none does (a killed writer's note
    stays in the file, but its pid is gone)."""
    try:
        info = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(info, dict) or not _alive(info.get("pid")):
        return {}
    return info


def _alive(pid) -> bool:  # noqa: ANN001
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
