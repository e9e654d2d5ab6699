"""Locks: one writer per library across processes, free readers, and a read/write lock in-process.

- `LibraryLock` (`library.lock`): held for its whole life by the one process that writes the
  library. The kernel releases it when its holder dies however it dies; the JSON inside (pid,
  owner) is only a note for "in use by ...", written best effort (a full disk must not stop a
  search) and trusted only while that pid is alive.
- `StoreLock` (`store.lock`): chroma's on-disk store is not safe to read while another process
  writes it (its own docs: PersistentClient is not process-safe; a reader may load a half-written
  HNSW file). The writer holds it exclusively only while it changes the vector files (one batch,
  one delete, the swap of a rebuilt store); a reading process holds it shared only while it opens
  or queries the store, and waits a bounded time for it. Its first bytes count the writer's
  changes, so a long-lived reader knows when to reopen for a fresh view. flock is not fair, so a
  waiting reader holds `store.turn` shared and the writer takes that before each change: a busy
  writer lets waiting readers in instead of starving them. Measured with chroma 1.5.9: a reader
  reopening and querying while another process upserts crashed (SIGSEGV) within seconds without
  this lock; with it, 38 reads in 40 s beside 33 write batches, no error. A reader paused while
  it holds the lock (Ctrl+Z, a debugger) would stop the writer for as long as it stays paused:
  after STALL_S the writer looks at the holders (/proc/locks) and, when all of them are paused,
  goes on without them (still keeping other readers out); the paused one reopens on resume.
- `ReadWriteLock`: threads of one process; readers share, a writer (the store swap) excludes them.

Portable: `fcntl.flock` on POSIX; on Windows `msvcrt.locking` on one byte far past the note
(Windows has no shared mode there, so readers of another process take turns; still correct).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rag.base.errors import HearthError, LibraryInUse
from rag.base.paths import private_file

LOCK_NAME = "library.lock"
STORE_LOCK_NAME = "store.lock"
TURN_NAME = "store.turn"  # fairness: a waiting reader gets its turn before the writer's next change
# How long a reading process waits for the writer's change to end (then it says so).
READ_WAIT_S = float(os.environ.get("HEARTH_READ_WAIT_S", "30"))
# How long the writer waits for readers before it looks at who they are: a reader that is
# paused (Ctrl+Z, a debugger) would otherwise stop indexing for as long as it stays paused.
STALL_S = float(os.environ.get("HEARTH_STALL_S", "3"))
_WIN_OFFSET = 1 << 30  # the byte Windows locks: past any note, so the note stays readable

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int, exclusive: bool) -> bool:
        os.lseek(fd, _WIN_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WIN_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int, exclusive: bool) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _wait_lock(fd: int, exclusive: bool, timeout: float | None) -> bool:
    """Take the lock, waiting up to `timeout` seconds (None: as long as it takes). The other
    holder is another process, so there is no event to wait on: poll at 10-50 ms."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.01
    while not _try_lock(fd, exclusive):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 1.5, 0.05)
    return True


def _open_lock_file(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES) or not path.exists():
            raise
        return os.open(path, os.O_RDONLY)  # read-only media: flock works all the same


class LibraryLock:
    """The writer's lock: `acquire()` raises `LibraryInUse` naming the holder."""

    def __init__(self, data_dir: Path, owner: str) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self.owner = owner
        self._fd: int | None = None

    def acquire(self) -> LibraryLock:
        fd = _open_lock_file(self.path)
        if not _try_lock(fd, exclusive=True):
            holder = holder_info(self.path)
            os.close(fd)
            who = holder.get("owner", "another Hearth process")
            pid = holder.get("pid", "?")
            raise LibraryInUse(
                f"This library is in use by {who} (pid {pid}). Close it first, or use another "
                "library with --data-dir."
            )
        self._fd = fd
        note = json.dumps({"pid": os.getpid(), "owner": self.owner, "since": time.time()})
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, note.encode())
        except OSError:  # disk full or read-only: the lock alone is the lock
            pass
        private_file(self.path)
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, 0)
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None


class StoreLock:
    """Between processes: the writer changes the vector files only while no process reads them."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / STORE_LOCK_NAME
        self._fd: int | None = None
        self._turn: int | None = None
        self._mutex = threading.RLock()  # one fd per process: its threads take turns on it
        self._depth = 0  # nested exclusive() in the holding thread
        self._paused_seen: set[int] = set()  # readers found paused while holding the lock

    def _file(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = _open_lock_file(self.path)
                self._turn = _open_lock_file(self.path.with_name(TURN_NAME))
            except OSError:  # read-only media or a full disk: nobody can write here either
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = None
                return None
            with contextlib.suppress(OSError):
                private_file(self.path)
                private_file(self.path.with_name(TURN_NAME))
        return self._fd

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """The writer: waits for readers' current calls (each is short), then bumps the count."""
        with self._mutex:
            fd = self._file()
            if self._depth:  # this thread already holds it
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            locked = False
            if fd is not None:
                # Readers waiting for their turn hold `store.turn` shared: let them in first
                # (flock is not fair, and a busy writer would otherwise starve them).
                _wait_lock(self._turn, exclusive=True, timeout=None)
                try:
                    locked = self._wait_for_readers(fd)
                finally:
                    if locked:
                        _unlock(self._turn)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                if fd is not None:
                    with contextlib.suppress(OSError):
                        n = _read_count(fd) + 1
                        os.lseek(fd, 0, os.SEEK_SET)
                        os.write(fd, str(n).encode().ljust(20))
                    _unlock(fd if locked else self._turn)

    def _wait_for_readers(self, fd: int) -> bool:
        """Take the lock exclusively once the readers' current calls end: True. False when
        every process still holding it is paused (stopped by Ctrl+Z or a debugger): then the
        writer goes on without it, still holding `store.turn` so no other reader starts
        meanwhile, and bumps the change count, so the paused reader reopens the store when it
        resumes (its interrupted call may return what it read before the change)."""
        pause = 0.01
        look_at = time.monotonic() + STALL_S
        while not _try_lock(fd, exclusive=True):
            holders = None
            if self._paused_seen or time.monotonic() >= look_at:
                holders = lock_holders(self.path) - {os.getpid()}
                if holders and all(_paused(pid) for pid in holders):
                    # once a reader was seen paused, the next change need not wait again
                    if holders <= self._paused_seen or time.monotonic() >= look_at:
                        self._paused_seen = holders
                        return False
            if time.monotonic() >= look_at:
                look_at = time.monotonic() + STALL_S
                self._paused_seen = set()
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        self._paused_seen = set()
        return True

    @contextlib.contextmanager
    def shared(self, timeout: float = READ_WAIT_S) -> Iterator[int]:
        """A reading process: yields the writer's change count (reopen when it moved)."""
        with self._mutex:
            fd = self._file()
            if fd is None:  # no lock file and none can be made: read-only media, no writer
                yield 0
                return
            deadline = time.monotonic() + timeout
            got = _wait_lock(self._turn, exclusive=False, timeout=timeout)
            if got:
                try:
                    got = _wait_lock(fd, exclusive=False,
                                     timeout=max(0.0, deadline - time.monotonic()))
                finally:
                    _unlock(self._turn)
            if not got:
                raise HearthError(self._busy_message(timeout))
            try:
                yield _read_count(fd)
            finally:
                _unlock(fd)

    def _busy_message(self, timeout: float) -> str:
        """Who keeps this reader waiting: a paused reader if one holds the store, else the
        writer named in its note."""
        paused = sorted(pid for pid in lock_holders(self.path) - {os.getpid()} if _paused(pid))
        if paused:
            return (f"The library is busy: {_describe(paused[0])} is paused while reading it. "
                    "Resume it (`fg` in its terminal) or end it, then try again.")
        holder = holder_info(self.path.with_name(LOCK_NAME))
        who = holder.get("owner", "another Hearth process")
        return (f"The library is busy: {who} has been writing to it for over {timeout:.0f} s. "
                "Try again in a moment.")

    def close(self) -> None:
        with self._mutex:
            for fd in (self._fd, self._turn):
                if fd is not None:
                    os.close(fd)
            self._fd = self._turn = None


def _read_count(fd: int) -> int:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 20).decode().strip() or 0)
    except (OSError, ValueError):
        return 0


class ReadWriteLock:
    """Many reader threads or one writer; a waiting writer stops new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._writers_waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # the writer itself reads: it already excludes everyone
                nested = True
            else:
                nested = False
                self._cond.wait_for(lambda: self._writer is None and not self._writers_waiting)
                self._readers += 1
        try:
            yield
        finally:
            if not nested:
                with self._cond:
                    self._readers -= 1
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                nested = True
            else:
                nested = False
                self._writers_waiting += 1
                self._cond.wait_for(lambda: self._writer is None and self._readers == 0)
                self._writers_waiting -= 1
                self._writer = me
        try:
            yield
        finally:
            if not nested:
                with self._cond:
                    self._writer = None
                    self._cond.notify_all()


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
    import psutil  # portable (os.kill(pid, 0) would end a process on Windows)

    try:  # a killed child its parent has not reaped yet is a zombie: gone for our purpose
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's live process
        return True


def lock_holders(path: Path) -> set[int]:
    """Processes holding a flock on `path` (Linux: /proc/locks); empty where unknown."""
    try:
        st = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return set()
    want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = set()
    for line in text.splitlines():
        parts = line.split()
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":  # "->": only waiting
            continue
        if parts[5].lower() == want:
            with contextlib.suppress(ValueError):
                pids.add(int(parts[4]))
    return pids


def _paused(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _describe(pid: int) -> str:
    """'`hearth search` (process 123)': what the user would recognise in their terminal."""
    import psutil

    try:
        args = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        args = []
    words = [a for a in args[1:] if not a.startswith("-")]
    if args and Path(args[0]).name.startswith("hearth"):
        name = "hearth " + (words[0] if words else "")
    elif "app" in args and args.index("app") + 1 < len(args):
        name = "hearth " + args[args.index("app") + 1]
    else:
        name = "another Hearth process"
    return f"`{name.strip()}` (process {pid})"
