"""The named operations the widgets may ask for; the only GUI module that calls the core.

Why one place: widgets stay ignorant of threads and of the core's API. Changes to the library
(index, forget, wipe) are operations on the writer lane; the Library runs each on its own single
writer thread (`rag.store.write_queue`), which the watch service's changes share, so there is one
writer. Reads never queue behind them: searches run on the model lane (answering) and document
lists on the reads lane, straight on the Library (its own read connection). Every model call runs
on the model lane (one owner thread per Llama object); discovery and model copies run on the io
lane. Quit never blocks the GUI thread: everything is cancelled, the lanes stop in the background
and the application ends once they have (it does not quit with its last window meanwhile).

Heavy core modules are imported inside the jobs, never at import time: the window must be on
screen before torch, chromadb or llama_cpp load.
"""

from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from app.gui.library_reads import _LibraryOnWriter, _LibraryReads  # noqa: F401 (serve_control)
from app.gui.ops import Lane, Operation
from app.gui.watch_control import WatchControl
from rag.base.cancel import wait_for
from rag.base.errors import HearthError
from rag.base.settings import Settings
from rag.loaders.ocr import set_enabled as set_ocr

MODEL_KEYS = ("model", "n_threads", "n_ctx", "n_gpu_layers", "lora_adapters")


_CLOSING: dict[str, threading.Event] = {}  # data dir -> set once its library has closed


class Backend(QObject):
    """Owns the two lanes, the Library (writer lane) and the chat model (model lane)."""

    library_opened = Signal(dict)  # lib.status()
    library_notices = Signal(list)  # how the vectors were made, when re-indexing would help
    library_failed = Signal(str)
    documents_changed = Signal(list)  # list[DocumentRecord]
    model_loaded = Signal(str)  # model name
    model_failed = Signal(str)
    model_loading = Signal(str)  # what is being loaded
    indexing_started = Signal(object)  # Operation
    model_added = Signal(object)  # inference.discovery.ModelEntry
    stopped = Signal()  # after shutdown(): every lane has ended, the library is closed
    _lane_done = Signal(str)  # a lane's thread ended (emitted there, delivered here)

    def __init__(self, data_dir: Path, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.settings = settings
        set_ocr(settings.ocr)  # scanned pages and images: read by OCR, or skipped with a reason
        self.writer = Lane("hearth-writer", self)
        self.model_lane = Lane("hearth-model", self)
        self.io_lane = Lane("hearth-io", self)  # model discovery and copies: slow, no core state
        self.reads = Lane("hearth-reads", self)  # document lists: never behind a write
        self._quit_after: bool | None = None  # the app's quit-on-last-window, while stopping
        self._stopping: set[str] = set()  # lanes still stopping after shutdown()
        self.watch = WatchControl(self)
        self.watch.status_changed.connect(self._on_watch_status)
        self._watch_done = -1
        self._watch_refresh = QTimer(self, singleShot=True, interval=300)
        self._watch_refresh.timeout.connect(self.refresh_documents)
        self._lib: Any = None  # only touched on the writer lane
        self._lib_error = ""
        self._model: Any = None  # only touched on the model lane (a ChatModel or a ModelSet)
        self._router: Any = None  # the ModelSet when two or more models are enabled
        self._model_key: tuple | None = None
        self.model_name = ""
        self.library_paths: set[str] = set()  # GUI-thread copy, refreshed with the documents
        self.documents: list = []
        self.notices: list[str] = []  # GUI-thread copy of lib.notices()
        self._last_refresh = 0.0

    # -- library -----------------------------------------------------------------------------
    def open_library(self) -> Operation:
        """Open the library (taking the writer lock), then resume indexing a crash left undone."""

        def job(op: Operation) -> dict:
            from rag.library import Library

            closing = _CLOSING.get(str(self.data_dir))
            if closing is not None:  # a window of this library is still closing in background
                closing.wait(60)
            try:
                if self.settings.server_url:  # a team library on a Chroma server (docs/team.md)
                    from rag.server.team import open_team

                    s = self.settings
                    self._lib = open_team(s.server_url, self.data_dir, library=s.server_library,
                                          token_file=s.server_token_file or None,
                                          root=s.server_root or None)
                else:
                    self._lib = Library.open(self.data_dir, owner="hearth gui")
            except HearthError as exc:
                self._lib_error = str(exc)
                raise
            # What a crash left half-done (a job the user cancelled is not restarted).
            unfinished = getattr(self._lib, "unfinished", list)()
            return {**self._lib.status(), "unfinished": len(unfinished)}

        op = self.writer.run("open library", job, exclusive=True)
        op.succeeded.connect(self._on_opened)
        op.failed.connect(self.library_failed)
        return op

    def _on_opened(self, status: dict) -> None:
        self.library_opened.emit(status)
        self.refresh_documents()
        if status.get("unfinished"):
            # Watching starts after the resume, so the two never index the same file at once.
            self.resume().finished.connect(self._start_watching)
        else:
            self._start_watching()

    def _start_watching(self) -> None:
        if self._lib is not None and not getattr(self._lib, "on_server", False):
            self.watch.start(self._lib)

    def _on_watch_status(self, status: Any) -> None:
        """The watcher writes to the library on its own thread: when it has handled files (or
        gone idle), refresh the document list, at most every 300 ms."""
        done = int(getattr(status, "done", 0))
        if done != self._watch_done or not getattr(status, "pending", 0):
            self._watch_done = done
            if not self._watch_refresh.isActive():
                self._watch_refresh.start()

    def resume(self) -> Operation:
        def job(op: Operation) -> Any:
            return self._require_lib().resume(progress=op.report, cancel=op.cancel_token)

        op = self.writer.run("resume indexing", job, exclusive=True)
        op.finished.connect(self.refresh_documents)
        self.indexing_started.emit(op)
        return op

    def _require_lib(self) -> Any:
        if self._lib is None:
            raise HearthError(self._lib_error or "The library is not open yet.")
        return self._lib

    def refresh_documents(self) -> Operation:
        self._last_refresh = time.monotonic()
        def job(_op: Operation) -> tuple[list, list[str]]:
            lib = self._require_lib()
            return lib.documents(), getattr(lib, "notices", list)()

        op = self.reads.run("list documents", job)
        op.succeeded.connect(self._set_documents)
        return op

    def _set_documents(self, result: tuple[list, list[str]]) -> None:
        docs, notices = result
        if notices != self.notices:
            self.notices = list(notices)
            self.library_notices.emit(self.notices)
        self.documents = list(docs)
        self.library_paths = {d.path for d in docs}
        self.documents_changed.emit(self.documents)

    def index(self, paths: list[str]) -> Operation:
        """Index files/folders (recursive); progress objects are `rag.base.types.IndexProgress`."""
        paths = [str(Path(p)) for p in paths]

        def job(op: Operation):
            lib = self._require_lib()
            self.watch.let_in(paths)  # added again by hand: watched folders may track them
            report = yield from lib.iter_index(paths, cancel=op.cancel_token)
            return report

        op = self.writer.run(f"index {len(paths)} item(s)", job, exclusive=True)
        op.progress.connect(self._maybe_refresh)
        op.finished.connect(self.refresh_documents)
        self.indexing_started.emit(op)
        return op

    def _maybe_refresh(self, _progress: object) -> None:
        """Keep the document list's statuses moving during long indexing runs (≤ 1 per 2 s)."""
        if time.monotonic() - self._last_refresh > 2.0:
            self.refresh_documents()

    def forget(self, paths: list[str]) -> Operation:
        """Not exclusive on the lane: it runs between the steps of indexing in progress, and the
        Library makes that indexing yield to it (forget wins), then go on without these paths."""

        def job(_op: Operation) -> int:
            lib = self._require_lib()
            self.watch.keep_out(paths)  # first, so no watch event can bring them back
            return lib.forget_many(paths)

        # A server library has no write queue of its own: there the forget waits its turn.
        op = self.writer.run("remove", job, exclusive=bool(getattr(self._lib, "on_server", False)))
        op.finished.connect(self.refresh_documents)
        return op

    def reindex(self, paths: list[str]) -> Operation:
        """Read the documents again from disk even if unchanged (`force`): each keeps its old
        text and vectors until the new ones replace them, so it never vanishes from search."""

        def job(op: Operation):
            lib = self._require_lib()
            gone = [p for p in paths if not Path(p).exists()]
            if gone:
                lib.forget_many(gone)
            existing = [p for p in paths if Path(p).exists()]
            report = yield from lib.iter_index(existing, cancel=op.cancel_token, force=True)
            return report

        op = self.writer.run("re-index", job, exclusive=True)
        op.progress.connect(self._maybe_refresh)
        op.finished.connect(self.refresh_documents)
        self.indexing_started.emit(op)
        return op

    # -- model -------------------------------------------------------------------------------
    def _wanted_key(self) -> tuple:
        from inference.session import routes

        s = self.settings
        routing = tuple(s.enabled_models) if routes(s) else ()
        return (s.model, routing, s.n_threads, s.n_ctx, s.n_gpu_layers,
                tuple(sorted(s.lora_adapters.items())))

    def _ensure_model(self, op: Operation | None = None) -> tuple[Any, Any]:
        """On the model lane: (model, router), (re)built if the settings changed since last time.

        Two or more enabled models -> one `ModelSet`, used as both the model and the router
        (it picks a model per question and loads it on first use, on this lane); `settings.model`
        then pins one. With nothing chosen, Hearth's own pair when installed (the 1.5B writes,
        the 0.5B checks: inference.session.pair). Otherwise the single model `settings.model`.
        """
        key = self._wanted_key()
        if self._model is not None and self._model_key == key:
            return self._model, self._router
        self._close_model()
        from inference.session import open_session

        self._model, self._router = open_session(self.settings, data_dir=self.data_dir,
                                                 pinned=self.settings.model or None)
        self._model_key = key
        return self._model, self._router

    def _load_job(self, op: Operation) -> str:
        model, router = self._ensure_model(op)
        if router is None:
            return model.name
        # Warm the model most questions will use (the pinned one, else the one the router
        # prefers) and the one that checks its answers, if another.
        first = router.model(router.usual())
        router.checker(first)
        names = ", ".join(o.name for o in router.options)
        return f"{router.pinned} (pinned)" if router.pinned else f"auto ({names})"

    def load_model(self) -> Operation:
        from inference.session import routes

        s = self.settings
        label = f"{len(s.enabled_models)} models" if routes(s) else s.model or "the default model"
        self.model_loading.emit(label)
        op = self.model_lane.run("load model", self._load_job)
        op.succeeded.connect(self._on_model_loaded)
        op.failed.connect(self.model_failed)
        return op

    def _on_model_loaded(self, name: str) -> None:
        self.model_name = name
        self.model_loaded.emit(name)

    def apply_settings(self, settings: Settings) -> None:
        """Save new settings; a model-related change reloads the model in the background."""
        old_key = self._wanted_key()
        self.settings = settings
        settings.save(self.data_dir)
        set_ocr(settings.ocr)
        if self._wanted_key() != old_key:
            self.load_model()

    # -- answering ---------------------------------------------------------------------------
    def ask(
        self, question: str, *, history: list[dict] | None = None, paths: list[str] | None = None
    ) -> Operation:
        """Answer on the model lane. Emits `event` with the sources first, `text` deltas, and
        succeeds with the final `Answer`."""
        settings = self.settings

        def job(op: Operation) -> Any:
            from rag.answering.answer import answer_stream

            model, router = self._ensure_model(op)
            # The first question may come while the embedder loads (seconds, in the watcher's
            # warm-up or here): wait for it on the side, so Stop ends the answer at once.
            ready = getattr(self._require_lib(), "ready_to_search", None)
            if ready is not None:
                wait_for(ready, op.cancel_token)
            lib = _LibraryReads(self._require_lib, op.cancel_token)
            final = None
            for ev in answer_stream(
                lib, model, question,
                k=settings.top_k_sources, paths=paths or None, history=history or None,
                cancel=op.cancel_token, temperature=settings.temperature,
                max_tokens=settings.max_answer_tokens, router=router,
            ):
                kind = getattr(ev, "kind", "")
                if kind == "token":
                    op.emit_text(ev.text)
                elif kind in ("evidence", "sources"):
                    op.emit_event(ev)
                elif kind == "done":
                    final = ev.answer
            return final

        op = self.model_lane.run("answer", job)
        op.succeeded.connect(lambda ans: self._on_model_loaded(getattr(ans, "model", "") or ""))
        return op

    # -- models ------------------------------------------------------------------------------
    def list_models(self) -> Operation:
        """Picker rows (`model_catalog.ModelRow`, fit verdicts) off the GUI; each is an event too."""
        s = self.settings
        extra = tuple(v for v in (s.model, *s.enabled_models) if v.endswith(".gguf"))

        def job(op: Operation) -> list:
            from app.gui.model_catalog import list_models

            return list_models(self.data_dir, s.n_ctx, extra, op.emit_event, op.cancel_token)

        return self.io_lane.run("list models", job)

    def add_model(self, path: str) -> Operation:
        """Validate a .gguf and copy it into `<data_dir>/models` (inference.discovery.add_model)."""

        def job(_op: Operation) -> Any:
            from inference.discovery import add_model

            return add_model(path, self.data_dir)

        op = self.io_lane.run(f"add model {Path(path).name}", job)
        op.succeeded.connect(self.model_added)
        return op

    # -- deleting everything -----------------------------------------------------------------
    def wipe(self) -> Operation:
        """Delete every document, vector and chunk of text, and the watched-folder list.

        Watching stops first (on its own lane, before the wipe) and restarts, empty, after it.
        Indexing in progress is cancelled. The files on disk are never touched.
        """
        self.writer.cancel_all()
        self.watch.stop()  # stops reports at once; the job waits below for the actual stop

        def job(_op: Operation) -> dict:
            from rag.watch.folders import FILENAME as WATCHED

            self.watch.lane.call(self.watch.stop_service)  # no-op once stop() has run
            lib = self._require_lib()
            lib.wipe()
            (self.data_dir / WATCHED).unlink(missing_ok=True)
            return lib.status()

        op = self.writer.run("delete all data", job, exclusive=True)
        op.finished.connect(self.refresh_documents)
        op.finished.connect(self._start_watching)
        return op

    # -- shutdown ----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel running work and stop everything in the background; returns at once.

        Order: the watcher stops first (it writes to the library), then the library closes on
        the writer lane (handed over by the watch lane's last step, so no event loop is needed),
        the model on the model lane. The application keeps running, with no window, until they
        have (it does not quit with its last window meanwhile); if the process exits first, it
        waits for them at exit. Threads are never terminated. `stopped` is emitted at the end.
        """
        self._watch_refresh.stop()
        for lane in (self.model_lane, self.writer, self.io_lane, self.reads):
            lane.cancel_all()
        # A stopped answer ends at its next token: give it 0.3 s, so the window can still
        # deliver its completion (and save it) before it closes the chat history.
        answers = [op for op in self.model_lane.live if not op.done]
        deadline = time.monotonic() + 0.3
        while any(op._outcome is None for op in answers) and time.monotonic() < deadline:
            time.sleep(0.005)
        _CLOSING[str(self.data_dir)] = threading.Event()
        app = QCoreApplication.instance()
        if app is not None and hasattr(app, "quitOnLastWindowClosed"):
            self._quit_after = app.quitOnLastWindowClosed()
            app.setQuitOnLastWindowClosed(False)  # quit once the lanes have stopped, not now
        lanes = (self.watch.lane, self.io_lane, self.reads, self.model_lane, self.writer)
        self._stopping = {lane.name for lane in lanes}
        for lane in lanes:
            lane.finished.connect(lambda name=lane.name: self._report_lane_done(name))
        self._lane_done.connect(self._on_lane_done)
        close_lib = self.writer.stop_op(self._close_lib)
        self.watch.shutdown(then=lambda: self.writer.hand_over(close_lib))
        for lane, final in ((self.io_lane, None), (self.reads, None),
                            (self.model_lane, self._close_model)):
            lane.stop(final)
        atexit.register(self._wait_at_exit)

    def _report_lane_done(self, name: str) -> None:
        """From the lane's thread as it ends; the window (and this object) may be gone by then
        (a test or a script deleted it): nobody is left to tell."""
        try:
            self._lane_done.emit(name)
        except RuntimeError:  # "Signal source has been deleted"
            pass

    def _wait_at_exit(self) -> None:
        """The process is ending without an event loop (a script closed the window): wait for
        the lanes here, where blocking hurts nobody, so no thread is destroyed while running."""
        for lane in (self.watch.lane, self.io_lane, self.reads, self.model_lane, self.writer):
            lane.wait(60_000)

    def _on_lane_done(self, name: str) -> None:
        self._stopping.discard(name)
        if self._stopping:
            return
        atexit.unregister(self._wait_at_exit)
        _CLOSING[str(self.data_dir)].set()
        self.stopped.emit()
        app = QCoreApplication.instance()
        if self._quit_after is not None and app is not None:
            app.setQuitOnLastWindowClosed(self._quit_after)
            if self._quit_after and not any(w.isVisible() for w in app.topLevelWidgets()):
                app.quit()
            self._quit_after = None

    def _close_model(self) -> None:
        if self._model is not None:
            self._model.close()
        self._model = self._router = None

    def _close_lib(self) -> None:
        if self._lib is not None:
            self._lib.close()
            self._lib = None

