"""Read files in a child process with a time and a memory limit, and stop between pages on cancel.

Why a child: a hostile or broken file can make a parser loop for hours or take gigabytes; in a
child that is a process we can stop, not a thread we can't. The child is kept warm and reused
(starting one costs ~0.3 s), runs `load_document` inside a load/OCR session whose cancel flag is
set by a message from the parent, and reports each page read or recognised. The parent
(`load_isolated`) waits for its messages, checks the user's cancel token and the child's
memory, and stops the child when a limit is passed: the file fails with a plain reason and the
next file gets a fresh child. The child has no network: the kernel refuses it any IPv4/IPv6
socket (rag/offline/sandbox.py).

Frames on the pipes: 4-byte big-endian length + pickle. Parent -> child: ("load", path, paths,
modules, memory limit, settings) and ("cancel",). Child -> parent: ("progress", stage, done, total), ("done", doc),
("error", kind, message). The child exits when its stdin closes (the parent went away) and, on
Linux, when the parent dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path

from rag.base.cancel import CancelToken
from rag.base.errors import LoadError, UnsupportedFormat
from rag.base.types import LoadedDocument
from rag.loaders.base import LoadCancelled, human_size

TIME_LIMIT_S = 120.0  # without any progress: per page for paged formats, per file for the rest
MEMORY_LIMIT = 1536 << 20  # resident bytes of the child
CANCEL_GRACE_S = 0.5  # a cancelled child that hasn't stopped by then is killed
TICK_S = 0.05  # how often the parent checks cancel and memory while it waits
JOB_ENV = ("HEARTH_OCR",)  # settings that may change while a warm child waits: sent per file
PROGRESS_EVERY_S = 0.1  # the child sends at most this many page reports per second (plus the last)
_ERRORS = {"LoadError": LoadError, "UnsupportedFormat": UnsupportedFormat,
           "LoadCancelled": LoadCancelled, "OcrCancelled": LoadCancelled}


def limit_from_env(name: str, default: float) -> float:
    """A limit the user (or a test) set in the environment, else the default."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def _send(fh, msg: tuple) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(struct.pack(">I", len(data)) + data)
    fh.flush()


def _recv(fh) -> tuple | None:
    head = fh.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    data = fh.read(n)
    return pickle.loads(data) if len(data) == n else None


# -- the parent's side ----------------------------------------------------------------------------
class LoadWorker:
    """One warm child process. Used by one thread at a time (the pool hands it out)."""

    def __init__(self) -> None:
        self.proc = _spawn()
        self.inbox: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, name="load-worker-reader", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                msg = _recv(self.proc.stdout)
            except Exception:  # noqa: BLE001 - a torn frame: the child is gone or broken
                msg = None
            self.inbox.put(msg)
            if msg is None:
                return

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, msg: tuple) -> bool:
        try:
            _send(self.proc.stdin, msg)
            return True
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for fh in (self.proc.stdin, self.proc.stdout):
            try:
                fh.close()
            except OSError:
                pass

    def rss(self) -> int:
        try:
            import psutil

            return int(psutil.Process(self.proc.pid).memory_info().rss)
        except Exception:  # noqa: BLE001 - gone between the check and the read
            return 0


_spawn_requests: queue.Queue = queue.Queue()
_spawner: threading.Thread | None = None


def _spawn() -> subprocess.Popen:
    """Start a child from one long-lived thread: on Linux the child dies with the thread that
    started it (PR_SET_PDEATHSIG), and this thread lives as long as the process."""
    global _spawner
    with _idle_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawn_loop, name="load-worker-spawner",
                                        daemon=True)
            _spawner.start()
    box: queue.Queue = queue.Queue(1)
    _spawn_requests.put(box)
    result = box.get()
    if isinstance(result, BaseException):
        raise LoadError(f"could not read: the file reader process did not start ({result})")
    return result


def _spawn_loop() -> None:
    root = str(Path(__file__).resolve().parents[2])
    while True:
        box = _spawn_requests.get()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        try:
            box.put(subprocess.Popen([sys.executable, "-m", "rag.loaders.worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box.put(exc)


_idle: list[LoadWorker] = []
_idle_lock = threading.Lock()
MAX_IDLE = 2


def _acquire() -> LoadWorker:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive:
                return worker
    return LoadWorker()


def _release(worker: LoadWorker) -> None:
    with _idle_lock:
        if worker.alive and len(_idle) < MAX_IDLE:
            _idle.append(worker)
            return
    worker.kill()


@atexit.register
def close_workers() -> None:
    """Stop the warm children (they also exit on their own once this process is gone)."""
    with _idle_lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.kill()


def load_isolated(path: str | Path, cancel: CancelToken | None = None, *,
                  time_limit: float = TIME_LIMIT_S, memory_limit: int = MEMORY_LIMIT
                  ) -> Generator[tuple[str, int, int], None, LoadedDocument]:
    """Read one file in a warm child. Yields (stage, done, total) as pages are read ("pages")
    or recognised ("ocr"), and ("wait", 0, 0) about every 0.25 s otherwise; returns the
    document. Raises LoadError (with the reason a limit gives), UnsupportedFormat, or
    LoadCancelled within ~CANCEL_GRACE_S of `cancel`."""
    from rag.loaders.base import plugin_modules

    worker = _acquire()
    job = ("load", str(path), list(sys.path), plugin_modules(), memory_limit,
           {k: os.environ[k] for k in JOB_ENV if k in os.environ})
    if not worker.send(job):  # a warm child that died meanwhile: one fresh try
        worker.kill()
        worker = _acquire()
        if not worker.send(job):
            worker.kill()
            raise LoadError("could not read: the file reader process did not start")
    healthy = False
    try:
        result = yield from _wait(worker, cancel, time_limit, memory_limit)
        healthy = True
        return result
    except (LoadError, UnsupportedFormat) as exc:
        healthy = getattr(exc, "worker_ok", False)
        raise
    finally:
        if healthy:
            _release(worker)
        else:
            worker.kill()


def read_document(path: str | Path, cancel: CancelToken | None,
                  report: Callable[[str, int, int], None], snapshot: Callable[[], object], *,
                  isolate: bool = True, time_limit: float = TIME_LIMIT_S,
                  memory_limit: int = MEMORY_LIMIT) -> Generator[object, None, LoadedDocument]:
    """The indexer's way to read a file: `report(stage, done, total)` per page; yields
    `snapshot()` at each report and while it waits (isolated), so its caller can show them.
    `isolate=False` reads in this process (cancel and page reports still work)."""
    if not isolate:
        from rag import loaders
        from rag.loaders.base import load_session
        from rag.loaders.ocr import ocr_session

        with load_session(report, cancel), \
                ocr_session(lambda d, t, _p: report("ocr", d, t), cancel):
            return loaders.load_document(path)
    gen = load_isolated(path, cancel, time_limit=time_limit, memory_limit=memory_limit)
    while True:
        try:
            stage, done, total = next(gen)
        except StopIteration as stop:
            return stop.value
        if stage != "wait":
            report(stage, done, total)
        yield snapshot()


def _wait(worker: LoadWorker, cancel: CancelToken | None, time_limit: float, memory_limit: int
          ) -> Generator[tuple[str, int, int], None, LoadedDocument]:
    last_news = last_yield = time.monotonic()
    cancel_sent = 0.0
    while True:
        try:
            msg = worker.inbox.get(timeout=TICK_S)
        except queue.Empty:
            msg = ()
        now = time.monotonic()
        if msg is None:
            code = worker.proc.wait()
            raise LoadError(f"could not read: the reader process stopped on this file (exit "
                            f"status {code}); the file may be damaged")
        if msg and msg[0] == "progress":
            last_news = last_yield = now
            yield ("wait", 0, 0) if msg[1] == "start" else (msg[1], msg[2], msg[3])
            continue
        if msg and msg[0] == "done":
            return msg[1]
        if msg and msg[0] == "error":
            exc = _ERRORS.get(msg[1], LoadError)(msg[2])
            exc.worker_ok = msg[3]  # the child answered and is fit to read the next file
            raise exc
        if cancel is not None and cancel.cancelled:
            if not cancel_sent:
                cancel_sent = now
                worker.send(("cancel",))
            elif now - cancel_sent > CANCEL_GRACE_S:
                raise LoadCancelled("cancelled before this file was read")
            continue
        if now - last_news > time_limit:
            raise LoadError(f"took too long to read (no progress for {time_limit:.0f} s); "
                            "skipped")
        if memory_limit and worker.rss() > memory_limit:
            raise LoadError(f"used too much memory while being read (over "
                            f"{human_size(memory_limit)}); skipped")
        if now - last_yield >= 0.25:
            last_yield = now
            yield "wait", 0, 0


# -- the child's side -----------------------------------------------------------------------------
def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - stdin EOF still ends the child
            pass


def _no_network() -> None:
    """The child opens hostile files and needs no network: the audit hook, and below it a kernel
    filter that refuses every IPv4/IPv6 socket (native code included: OCR's onnxruntime)."""
    from rag.offline import privacy, sandbox

    privacy.install_guard()
    reason = sandbox.deny_network()
    if reason:
        privacy.log_notice(f"the file reader runs without its kernel-level network filter: "
                           f"{reason}")


def _cap_address_space(limit: int) -> None:
    """A backstop for the parent's RSS check (which polls): the address space may grow by
    twice the memory limit during one file, so a runaway allocation fails with MemoryError."""
    try:
        import resource

        import psutil

        base = psutil.Process().memory_info().vms
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = base + 2 * limit
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except Exception:  # noqa: BLE001 - no rlimit here (Windows): the parent's check remains
        pass


class _Reporter:
    def __init__(self, out, lock: threading.Lock) -> None:
        self.out, self.lock, self.last = out, lock, 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == "pages" and 0 < done < total and now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        with self.lock:
            _send(self.out, ("progress", stage, done, total))


def _child_main() -> None:
    _die_with_parent()
    _no_network()
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from a parser must not tear the frames
    sys.stdout = sys.stderr
    jobs: queue.Queue = queue.Queue()
    cancel = CancelToken()
    lock = threading.Lock()

    def read() -> None:
        while True:
            try:
                msg = _recv(sys.stdin.buffer)
            except Exception:  # noqa: BLE001
                msg = None
            if msg is None:
                os._exit(0)  # the parent is gone
            if msg[0] == "cancel":
                cancel.cancel()
            else:
                jobs.put(msg)

    threading.Thread(target=read, daemon=True).start()
    imported: set[str] = set()
    while True:
        _kind, path, paths, modules, limit, env = jobs.get()
        cancel.reset()
        for key in JOB_ENV:
            if key in env:
                os.environ[key] = env[key]
            else:
                os.environ.pop(key, None)
        reply = _load_one(path, paths, modules, limit, imported, cancel, _Reporter(out, lock))
        with lock:
            _send(out, reply)


def _load_one(path: str, paths: list[str], modules: list[str], limit: int,
              imported: set[str], cancel: CancelToken, report: _Reporter) -> tuple:
    import importlib

    from rag import loaders
    from rag.loaders.base import load_session
    from rag.loaders.ocr import ocr_session

    for entry in paths:
        if entry not in sys.path:
            sys.path.append(entry)
    for name in modules:
        if name not in imported:
            importlib.import_module(name)
            imported.add(name)
    if limit:
        _cap_address_space(limit)
    report("start", 0, 0)  # the time limit counts from here, not from the child's start-up
    try:
        with load_session(report, cancel), \
                ocr_session(lambda d, t, _p: report("ocr", d, t), cancel):
            return ("done", loaders.load_document(path))
    except MemoryError:
        return ("error", "LoadError", "used too much memory while being read; skipped", False)
    except (LoadError, UnsupportedFormat) as exc:
        # load_document turns a MemoryError into a LoadError: that child is not reused
        return ("error", type(exc).__name__, str(exc), "memory" not in str(exc))
    except Exception as exc:  # noqa: BLE001 - a loader bug must not end the child
        return ("error", "LoadError", f"could not read: {type(exc).__name__}: {exc}", True)


if __name__ == "__main__":
    _child_main()
