"""`WatchService`: keeps a Library in sync with its watched folders (Qt-free, callback based).

Threads: one watchdog observer per folder (producers) and one worker thread, the single index
writer for watch events. Every Library write happens on the worker (or, when the service is not
running, on the caller's thread), so watch events never race each other.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.base.cancel import CancelToken
from rag.base.errors import HearthError
from rag.base.paths import is_under
from rag.base.types import IndexProgress
from rag.watch.filters import PathFilter
from rag.watch.folders import (
    IDLE,
    MISSING,
    PAUSED,
    FolderStore,
    WatchedFolder,
    device_of,
    normalize,
)
from rag.watch.observer import FolderWatcher, native_observer
from rag.watch.queue import ChangeQueue
from rag.watch.reconcile import plan_folder
from rag.watch.writer import SyncWriter

log = logging.getLogger(__name__)


@dataclass
class WatchStatus:
    """What the GUI status area / CLI shows. `pending`: changes waiting; `done`: files handled."""

    pending: int
    done: int
    current: str
    message: str
    folders: list[WatchedFolder] = field(default_factory=list)


def _missing_notice(path: str) -> str:
    return (f"{path} is not available (deleted, renamed or on an unplugged drive). Watching is "
            "paused and its documents are kept until it comes back or you remove it.")


def is_present(folder: WatchedFolder) -> bool:
    if not os.path.isdir(folder.path):
        return False
    # Same path on another device = the drive is unmounted and we see the bare mount point.
    return folder.device is None or device_of(folder.path) == folder.device


def describe(store: FolderStore, states: dict[str, tuple[str, str]] | None = None
             ) -> list[WatchedFolder]:
    """Watched folders with live states where known, else what can be told from the disk."""
    out = []
    for f in store.list():
        if states and f.path in states:
            f.state, f.notice = states[f.path]
        elif f.paused:
            f.state = PAUSED
        elif not is_present(f):
            f.state, f.notice = MISSING, _missing_notice(f.path)
        else:
            f.state = IDLE
        out.append(f)
    return out


class WatchService:
    def __init__(self, library, *, on_status: Callable[[WatchStatus], None] | None = None,
                 settle_seconds: float = 1.0, debounce_seconds: float = 0.5,
                 polling_interval: float = 2.0, health_interval: float = 1.0,
                 native_factory: Callable = native_observer) -> None:
        self.lib = library
        self.data_dir = normalize(getattr(library, "data_dir", None)
                                  or library.status()["data_dir"])
        self.on_status = on_status
        self.polling_interval = polling_interval
        self.health_interval = health_interval
        self._native_factory = native_factory
        self.store = FolderStore(self.data_dir)
        self.filter = PathFilter([f.path for f in self.store.list()], exclude=[self.data_dir],
                                 removed=self.store.excluded())
        self.queue = ChangeQueue(debounce_seconds=debounce_seconds, settle_seconds=settle_seconds)
        self.writer = SyncWriter(library, self.filter, requeue=self._requeue,
                                 root_present=self._root_present, progress=self._on_progress,
                                 settle_seconds=settle_seconds)
        self._lock = threading.RLock()
        self._watchers: dict[str, FolderWatcher] = {}
        self._states: dict[str, tuple[str, str]] = {}
        self._jobs: deque[Callable[[], None]] = deque()
        self._thread: threading.Thread | None = None
        self._old_thread: threading.Thread | None = None  # a worker a timed-out stop left
        self._warm: threading.Thread | None = None
        self.warmed = threading.Event()  # the embedder is loaded and the store open
        self.stop_timeout = 30.0
        self._tls = threading.local()
        self._stopping = threading.Event()
        self._cancel = CancelToken()
        self._busy = False
        self._inflight = 0
        self._current = ""
        self._message = ""
        self._last_emit = 0.0

    # -- public API --------------------------------------------------------------------------
    def start(self) -> None:
        """Start watching every folder; each is reconciled first (on the worker thread). The
        embedder loads at once in the background, so the first new file does not wait for it."""
        with self._lock:
            if self.running:
                return
            old = self._old_thread
        if old is not None:  # a stop that timed out: its worker must end before a new one starts
            old.join(self.stop_timeout)
            if old.is_alive():
                raise HearthError("Watching is still stopping (a file is being indexed); "
                                  "try again in a moment.")
        with self._lock:
            self._old_thread = None
            self._stopping = threading.Event()
            self._cancel = CancelToken()  # a fresh token: an old worker stays cancelled
            self._warm = threading.Thread(target=self._warm_up, name="hearth-watch-warm",
                                          daemon=True, args=(self._stopping,))
            self._warm.start()
            for folder in self.store.list():
                self._activate(folder)
            self._thread = threading.Thread(target=self._run, name="hearth-watch", daemon=True,
                                            args=(self._stopping, self._cancel))
            self._thread.start()
        self._emit("Watching for changes", force=True)

    def _warm_up(self, stopping: threading.Event) -> None:
        warm = getattr(self.lib, "warm", None)
        if warm is None:
            return
        self._emit("Loading the embedding model", force=True)
        try:
            warm()
        except Exception:  # noqa: BLE001 - the first index reports the real problem
            log.exception("watch: loading the embedder failed")
            return
        self.warmed.set()
        if not stopping.is_set():  # after Stop, "Ready" would be news from a session that ended
            self._emit("Ready (the embedding model is loaded)", force=True)

    def request_stop(self) -> None:
        """Ask the worker to stop (cancels indexing in progress) without waiting for it."""
        self._stopping.set()
        self._cancel.cancel()
        self.queue.poke()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop watchers and the worker (cancels indexing in progress; reconciliation at the next
        start picks up anything left). Waits at most `timeout` seconds (default
        `stop_timeout`) for the worker; False if it is still finishing a file then."""
        self.request_stop()
        with self._lock:
            watchers, self._watchers = list(self._watchers.values()), {}
            self._states.clear()
        for watcher in watchers:
            watcher.stop()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(self.stop_timeout if timeout is None else timeout)
        if thread.is_alive():
            self._old_thread = thread
            return False
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add_folder(self, path: str | os.PathLike) -> WatchedFolder:
        """Persist, watch and index a folder. Running: indexing happens on the worker (returns at
        once; see `wait_idle`). Not running: indexes now, on the caller's thread."""
        p = normalize(path)
        if is_under(p, self.data_dir):
            raise HearthError("The library's own data folder cannot be watched.")
        folder, absorbed = self.store.add(p)
        self._sync_roots()
        with self._lock:
            for other in absorbed:
                self._deactivate(other)
            if self.running:
                self._deactivate(folder.path)
                self._activate(folder)
                self._emit(f"Added {folder.path}", force=True)
                return folder
        self._reconcile(folder.path, CancelToken())
        return folder

    def remove_folder(self, path: str | os.PathLike, *, forget: bool = True) -> None:
        """Stop watching a folder; with `forget`, also remove its documents from the library (the
        user's confirmation for a missing folder)."""
        p = normalize(path)
        if not self.store.remove(p):
            raise HearthError(f"{p} is not a watched folder.")
        self._sync_roots()
        with self._lock:
            self._deactivate(p)
            self._states.pop(p, None)
            if forget and self.running:
                self._post(lambda: self._forget_folder(p))
                return
        if forget:
            self._forget_folder(p)

    def exclude(self, paths: list[str]) -> list[str]:
        """Keep files/folders the user removed from the library out of their watched folders:
        an edit, a restart or a reconciliation no longer brings them back."""
        done = self.store.exclude(paths)
        if done:
            self._sync_roots()
            for p in done:
                self.queue.discard_under(p)
        return done

    def include(self, paths: list[str]) -> list[str]:
        """Undo `exclude` (the user added these paths to the library again)."""
        dropped = self.store.include(paths)
        if dropped:
            self._sync_roots()
        return dropped

    def set_paused(self, path: str | os.PathLike, paused: bool) -> None:
        """Pause (nothing indexed or forgotten) or resume (reconciled, then watched) a folder."""
        p = normalize(path)
        if self.store.get(p) is None:
            raise HearthError(f"{p} is not a watched folder.")
        self.store.update(p, paused=paused)
        with self._lock:
            self._deactivate(p)
            if self.running:
                self._activate(self.store.get(p))
        self._emit("Paused " + p if paused else "Resumed " + p, force=True)

    def folders(self) -> list[WatchedFolder]:
        """Each watched folder with its state ("watching"|"polling"|"paused"|"missing"|"idle")."""
        with self._lock:
            states = dict(self._states)
        return describe(self.store, states)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued and the writer is idle (False if `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = not self._busy and not self._jobs and self.queue.pending() == 0
            if idle:
                return True
            time.sleep(0.02)
        return False

    def status(self) -> WatchStatus:
        with self._lock:
            pending = self.queue.pending() + len(self._jobs) + self._inflight
            return WatchStatus(pending=pending, done=sum(self.writer.stats.values()),
                               current=self._current, message=self._message,
                               folders=self.folders())

    # -- folder lifecycle (called with self._lock held) ----------------------------------------
    def _activate(self, folder: WatchedFolder) -> None:
        if folder.paused:
            self._states[folder.path] = (PAUSED, "")
            return
        if not self._present(folder):
            self._states[folder.path] = (MISSING, _missing_notice(folder.path))
            return
        if folder.device is None:
            self.store.update(folder.path, device=device_of(folder.path))
        watcher = FolderWatcher(folder.path, self.queue, self.filter,
                                polling_interval=self.polling_interval,
                                native_factory=self._native_factory)
        try:
            watcher.start()
        except OSError as exc:
            self._states[folder.path] = (MISSING, f"Cannot watch {folder.path}: "
                                                  f"{exc.strerror or exc}")
            return
        self._watchers[folder.path] = watcher
        self._states[folder.path] = (watcher.mode, watcher.notice)
        # Watch first, then reconcile: a change made during the scan is still seen.
        self._post(lambda: self._reconcile(folder.path))

    def _deactivate(self, path: str) -> None:
        watcher = self._watchers.pop(path, None)
        if watcher is not None:
            watcher.stop()
        self.queue.discard_under(path)

    def _check_folders(self) -> None:
        """Pause folders that vanished; resume (reconcile + watch) those that came back."""
        for folder in self.store.list():
            if folder.paused:
                continue
            with self._lock:
                if getattr(self._tls, "stopping", self._stopping).is_set():
                    return
                state = self._states.get(folder.path, (IDLE, ""))[0]
                watcher = self._watchers.get(folder.path)
                present = self._present(folder)
                if not present and state != MISSING:
                    self._deactivate(folder.path)
                    self._states[folder.path] = (MISSING, _missing_notice(folder.path))
                    self._emit(f"{folder.path} is missing; watching paused", force=True)
                elif present and (state == MISSING or watcher is None or not watcher.alive()):
                    self._deactivate(folder.path)
                    self._activate(folder)
                    self._emit(f"{folder.path} is back; catching up", force=True)

    def _present(self, folder: WatchedFolder) -> bool:
        return is_present(folder)

    def _root_of(self, path: str) -> WatchedFolder | None:
        best = None
        for f in self.store.list():
            if is_under(path, f.path) and \
                    (best is None or len(f.path) > len(best.path)):
                best = f
        return best

    def _root_present(self, path: str) -> bool:
        root = self._root_of(path)
        if root is None:
            return True
        return not root.paused and self._present(root)

    def _sync_roots(self) -> None:
        self.filter.roots = [os.path.normpath(f.path) for f in self.store.list()]
        self.filter.removed = self.store.excluded()

    # -- worker --------------------------------------------------------------------------------
    def _post(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._jobs.append(job)
        self.queue.poke()

    def _requeue(self, path: str, is_dir: bool) -> None:
        (self.queue.scan if is_dir else self.queue.upsert)(path)

    def _reconcile(self, folder: str, cancel: CancelToken | None = None) -> None:
        if not os.path.isdir(folder):
            return
        self._message = f"Checking {folder} for changes"
        self._emit(self._message, force=True)
        plan = plan_folder(self.lib, folder, self.filter)
        cancel = cancel or getattr(self._tls, "cancel", None) or self._cancel
        self.writer.apply_plan(plan, cancel, settle=self.running)

    def _forget_folder(self, path: str) -> None:
        self._message = f"Removing documents of {path}"
        self._emit(self._message, force=True)
        self.writer.forget_all([path])

    def _run(self, stopping: threading.Event, cancel: CancelToken) -> None:
        self._tls.stopping, self._tls.cancel = stopping, cancel  # this worker's own, for good
        next_health = time.monotonic() + self.health_interval
        while not stopping.is_set():
            try:
                if time.monotonic() >= next_health:
                    self._check_folders()
                    next_health = time.monotonic() + self.health_interval
                worked = self._work_once(cancel)
            except Exception as exc:  # the writer thread must survive one bad file or event
                log.exception("watch: sync step failed")
                worked = False
                self._emit(f"Sync problem: {exc}", force=True)
            if not worked and not stopping.is_set():
                due = self.queue.next_due()
                wait = self.health_interval if due == float("inf") else min(max(due, 0.02), 0.2)
                self.queue.wait(min(wait, max(0.0, next_health - time.monotonic()) + 0.01))

    def _work_once(self, cancel: CancelToken) -> bool:
        with self._lock:
            job = self._jobs.popleft() if self._jobs else None
            self._busy = True
        try:
            if job is not None:
                job()
            else:
                batch = self.queue.take_ready()
                if not batch:
                    return False
                self._message = f"Syncing {len(batch)} change(s)"
                self._emit(self._message, force=True)
                self.writer.apply_batch(batch, cancel)
        finally:
            with self._lock:
                self._busy = False
                self._inflight = 0
                self._current = ""
        idle = self.queue.pending() == 0 and not self._jobs
        self._emit("Up to date" if idle else "Waiting for files to settle", force=True)
        return True

    # -- status --------------------------------------------------------------------------------
    def _on_progress(self, progress: IndexProgress) -> None:
        self._inflight = max(0, progress.files_total - progress.files_done)
        self._current = progress.current
        self._emit(f"Indexing {progress.files_done}/{progress.files_total}")

    def _emit(self, message: str, *, force: bool = False) -> None:
        self._message = message
        if self.on_status is None:
            return
        now = time.monotonic()
        if not force and now - self._last_emit < 0.1:
            return
        self._last_emit = now
        try:
            self.on_status(self.status())
        except Exception:  # a front end's bug must not stop syncing
            log.exception("watch: on_status callback failed")
