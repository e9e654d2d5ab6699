"""Watched folders for the GUI: owns a `rag.watch.WatchService` and brings its news to the GUI.

Why a lane of its own (`hearth-watch`): starting watchers walks folders and sets up inotify
watches, and stopping joins the service's worker; neither may run on the GUI thread, and neither
should wait behind an indexing run on the writer lane. The service's worker calls
`Library.index/forget/rename`, which run on the Library's one writer thread, like the GUI's own
changes: one writer.

`on_status` arrives on the service's worker thread; it is re-emitted through a queued signal so
every slot runs on the GUI thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from app.gui.ops import Lane, Operation
from rag.base.errors import HearthError


class WatchControl(QObject):
    status_changed = Signal(object)  # rag.watch.WatchStatus, on the GUI thread
    folders_changed = Signal(list)  # list[rag.watch.WatchedFolder]
    running_changed = Signal(bool)
    _forward = Signal(object)  # emitted on the service's thread, delivered on the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lane = Lane("hearth-watch", self)
        self._service: Any = None  # set and cleared on the lane; read-only elsewhere
        self.status: Any = None  # latest WatchStatus (GUI thread)
        self.folders: list = []  # latest WatchedFolder list (GUI thread)
        self.running = False  # GUI-thread view of "the service is started"
        self.last_status_at = 0.0
        self._listening = False  # False while stopping: late reports are dropped
        self._forward.connect(self._on_status, Qt.ConnectionType.QueuedConnection)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, library: Any) -> Operation:
        """Create the service for `library` and start it (reconciles each folder, then watches)."""

        def job(_op: Operation) -> list:
            from rag.watch import WatchService

            if self._service is None:
                self._service = WatchService(library, on_status=self._forward.emit)
            self._service.start()
            return self._service.folders()

        self._listening = True
        op = self.lane.run("start watching", job, exclusive=True)
        op.succeeded.connect(self._on_started)
        return op

    def _on_started(self, folders: list) -> None:
        self.running = True
        self.running_changed.emit(True)
        self._set_folders(folders)

    def stop(self) -> Operation:
        """Stop watchers and the service's worker (cancels its indexing; the next start catches
        up). The service is dropped: it holds the Library, which may be closed or wiped next."""
        self.running = self._listening = False
        self.running_changed.emit(False)
        return self.lane.run("stop watching", lambda _op: self.stop_service(), exclusive=True)

    def stop_service(self) -> None:
        """On the watch lane: stop and drop the service (a no-op once stopped)."""
        service, self._service = self._service, None
        if service is not None:
            service.stop()

    def shutdown(self, then: Callable[[], None] | None = None) -> None:
        """At window close, before the library closes: the service's worker is asked to stop
        at once; the lane then stops the service, runs `then` (on the lane's thread: it needs
        no event loop) and ends, without blocking this (GUI) thread."""
        self.running = self._listening = False
        service = self._service
        if service is not None:
            service.request_stop()

        def final() -> None:
            try:
                self.stop_service()
            finally:
                if then is not None:
                    then()

        self.lane.stop(final)

    # -- folders ---------------------------------------------------------------------------
    def _require(self) -> Any:
        if self._service is None:
            raise HearthError("Watching is not running yet (the library is still opening).")
        return self._service

    def add(self, path: str) -> Operation:
        """Watch a folder; its files are indexed by the service's worker (progress via status)."""
        def job(_op: Operation) -> list:
            service = self._require()
            service.add_folder(path)
            return service.folders()

        return self._folder_op(f"watch {path}", job)

    def remove(self, path: str, *, forget: bool) -> Operation:
        """Stop watching; `forget` also removes the folder's documents from the library."""
        def job(_op: Operation) -> list:
            service = self._require()
            service.remove_folder(path, forget=forget)
            return service.folders()

        return self._folder_op(f"stop watching {path}", job)

    def keep_out(self, paths: list[str]) -> list[str]:
        """Any thread: paths removed from the library stay out of their watched folders (the
        service's folder list and filter are thread-safe). Returns the paths now kept out."""
        service = self._service
        return service.exclude(paths) if service is not None else []

    def let_in(self, paths: list[str]) -> list[str]:
        """Any thread: undo `keep_out` for paths the user adds to the library again."""
        service = self._service
        return service.include(paths) if service is not None else []

    def set_paused(self, path: str, paused: bool) -> Operation:
        def job(_op: Operation) -> list:
            service = self._require()
            service.set_paused(path, paused)
            return service.folders()

        return self._folder_op("pause" if paused else "resume", job)

    def refresh(self) -> Operation:
        return self._folder_op("list watched folders", lambda _op: self._require().folders())

    def _folder_op(self, name: str, job) -> Operation:
        op = self.lane.run(name, job, exclusive=True)
        op.succeeded.connect(self._set_folders)
        return op

    def _set_folders(self, folders: list) -> None:
        self.folders = list(folders or [])
        self.folders_changed.emit(self.folders)

    # -- status (GUI thread) ---------------------------------------------------------------
    def _on_status(self, status: Any) -> None:
        if not self._listening:  # a late report from a service being stopped
            return
        self.status = status
        self.last_status_at = time.monotonic()
        self.status_changed.emit(status)
        folders = list(getattr(status, "folders", []) or [])
        if [(f.path, f.state, f.notice) for f in folders] != \
                [(f.path, f.state, f.notice) for f in self.folders]:
            self._set_folders(folders)


def status_text(status: Any) -> str:
    """One line for the status bar: what the watcher is doing, with pending/done/current."""
    if status is None:
        return ""
    parts = [status.message or "Watching"]
    if status.pending:
        parts.append(f"{status.pending} pending")
    if status.done:
        parts.append(f"{status.done} handled")
    if status.current:
        parts.append(os.path.basename(status.current))
    return "Sync: " + " · ".join(parts)
