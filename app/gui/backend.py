"""The named operations the widgets may ask for; the only GUI module that calls the core.

Why one place: widgets stay ignorant of threads and of the core's API. Every Library call runs on
the writer lane (one writer; its handles stay on one thread); every model call runs on the model
lane (one owner thread for the Llama object). The answering job on the model lane reaches the
Library through `_LibraryOnWriter`, which hops each call to the writer lane.

Heavy core modules are imported inside the jobs, never at import time: the window must be on
screen before torch, chromadb or llama_cpp load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.gui.ops import Lane, Operation
from rag.cancel import CancelToken
from rag.errors import HearthError
from rag.settings import Settings

MODEL_KEYS = ("model", "n_threads", "n_ctx", "n_gpu_layers", "lora_adapters")


class _LibraryOnWriter:
    """Stands in for the Library on another lane: `lib.search(...)`, `lib.manifest.counts()`...
    each call runs on the writer lane and blocks the calling worker until it returns."""

    def __init__(self, lane: Lane, get_lib: Callable[[], Any], cancel: CancelToken,
                 path: tuple[str, ...] = ()) -> None:
        self._lane, self._get_lib, self._cancel, self._path = lane, get_lib, cancel, path

    def __getattr__(self, name: str) -> _LibraryOnWriter:
        if name.startswith("__"):
            raise AttributeError(name)
        return _LibraryOnWriter(self._lane, self._get_lib, self._cancel, self._path + (name,))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            target = self._get_lib()
            for name in self._path:
                target = getattr(target, name)
            return target(*args, **kwargs)

        return self._lane.call(run, cancel=self._cancel)


class Backend(QObject):
    """Owns the two lanes, the Library (writer lane) and the chat model (model lane)."""

    library_opened = Signal(dict)  # lib.status()
    library_failed = Signal(str)
    documents_changed = Signal(list)  # list[DocumentRecord]
    model_loaded = Signal(str)  # model name
    model_failed = Signal(str)
    model_loading = Signal(str)  # what is being loaded
    indexing_started = Signal(object)  # Operation

    def __init__(self, data_dir: Path, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.writer = Lane("hearth-writer", self)
        self.model_lane = Lane("hearth-model", self)
        self._lib: Any = None  # only touched on the writer lane
        self._lib_error = ""
        self._model: Any = None  # only touched on the model lane
        self._model_key: tuple | None = None
        self.model_name = ""
        self.library_paths: set[str] = set()  # GUI-thread copy, refreshed with the documents
        self.documents: list = []
        self._last_refresh = 0.0

    # -- library -----------------------------------------------------------------------------
    def open_library(self) -> Operation:
        """Open the library (taking the writer lock), then resume indexing a crash left undone."""

        def job(op: Operation) -> dict:
            from rag.library import Library

            try:
                self._lib = Library.open(self.data_dir, owner="hearth gui")
            except HearthError as exc:
                self._lib_error = str(exc)
                raise
            return self._lib.status()

        op = self.writer.run("open library", job, exclusive=True)
        op.succeeded.connect(self._on_opened)
        op.failed.connect(self.library_failed)
        return op

    def _on_opened(self, status: dict) -> None:
        self.library_opened.emit(status)
        self.refresh_documents()
        by_status = status.get("by_status", {})
        if by_status.get("pending") or by_status.get("indexing"):
            self.resume()

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
        op = self.writer.run("list documents", lambda _op: self._require_lib().documents())
        op.succeeded.connect(self._set_documents)
        return op

    def _set_documents(self, docs: list) -> None:
        self.documents = list(docs)
        self.library_paths = {d.path for d in docs}
        self.documents_changed.emit(self.documents)

    def index(self, paths: list[str]) -> Operation:
        """Index files/folders (recursive); progress objects are `rag.types.IndexProgress`."""
        paths = [str(Path(p)) for p in paths]

        def job(op: Operation):
            lib = self._require_lib()
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
        def job(_op: Operation) -> int:
            lib = self._require_lib()
            return sum(lib.forget(p) for p in paths)

        op = self.writer.run("remove", job, exclusive=True)
        op.finished.connect(self.refresh_documents)
        return op

    def reindex(self, paths: list[str]) -> Operation:
        """Drop the documents' text and vectors, then index them again from disk."""

        def job(op: Operation):
            lib = self._require_lib()
            for p in paths:
                lib.forget(p)
            existing = [p for p in paths if Path(p).exists()]
            report = yield from lib.iter_index(existing, cancel=op.cancel_token)
            return report

        op = self.writer.run("re-index", job, exclusive=True)
        op.progress.connect(self._maybe_refresh)
        op.finished.connect(self.refresh_documents)
        self.indexing_started.emit(op)
        return op

    # -- model -------------------------------------------------------------------------------
    def _wanted_key(self) -> tuple:
        s = self.settings
        return (s.model, s.n_threads, s.n_ctx, s.n_gpu_layers, tuple(sorted(s.lora_adapters.items())))

    def _ensure_model(self, op: Operation | None = None) -> Any:
        """On the model lane: (re)load the chat model if the settings changed since last time."""
        key = self._wanted_key()
        if self._model is not None and self._model_key == key:
            return self._model
        if self._model is not None:
            self._model.close()
            self._model = None
        from inference.models import load_model

        self._model = load_model(self.settings.model or None, self.settings, data_dir=self.data_dir)
        self._model_key = key
        return self._model

    def load_model(self) -> Operation:
        label = self.settings.model or "the bundled model"
        self.model_loading.emit(label)
        op = self.model_lane.run("load model", lambda o: self._ensure_model(o).name)
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
            from rag.answer import answer_stream

            model = self._ensure_model(op)
            lib = _LibraryOnWriter(self.writer, self._require_lib, op.cancel_token)
            final = None
            for ev in answer_stream(
                lib, model, question,
                k=settings.top_k_sources, paths=paths or None, history=history or None,
                cancel=op.cancel_token, temperature=settings.temperature,
                max_tokens=settings.max_answer_tokens,
            ):
                kind = getattr(ev, "kind", "")
                if kind == "token":
                    op.emit_text(ev.text)
                elif kind == "sources":
                    op.emit_event(ev)
                elif kind == "done":
                    final = ev.answer
            return final

        op = self.model_lane.run("answer", job)
        op.succeeded.connect(lambda ans: self._on_model_loaded(getattr(ans, "model", "") or ""))
        return op

    # -- shutdown ----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel running work, release the model and the library on their own threads."""
        for lane in (self.model_lane, self.writer):
            for op in list(lane._live):
                op.cancel()
        self.model_lane.shutdown(final=self._close_model)
        self.writer.shutdown(final=self._close_lib, timeout_ms=20000)

    def _close_model(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None

    def _close_lib(self) -> None:
        if self._lib is not None:
            self._lib.close()
            self._lib = None
