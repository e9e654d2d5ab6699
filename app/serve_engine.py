"""What `hearth serve` runs behind HTTP: one model owner thread and the jobs it executes.

Why one thread: a `Llama` object belongs to the thread that uses it, and a small machine has
room for one generation at a time anyway. Every request becomes a job in one FIFO queue;
the owner runs them in arrival order and hands results back through a `sink` callback (the
HTTP side turns those into an asyncio queue). A job cancelled while it waits is skipped; a
running one stops between tokens (`CancelToken`). The queue is bounded, so a flood gets a
"busy" answer instead of unbounded memory.

No heavy import here: llama_cpp, torch and chromadb load inside the jobs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rag.base.cancel import CancelToken
from rag.base.errors import HearthError

Sink = Callable[[str, Any], None]  # ("item", x) ... then ("end", None) | ("error", exc) | ("cancelled", None)
Work = Callable[[CancelToken], Iterable[Any]]
Execute = Callable[[Callable[[], None], CancelToken], None]


class ServerBusy(HearthError):
    """Too many requests are already waiting (HTTP 429)."""


class RequestError(HearthError):
    """A request Hearth cannot serve as asked (HTTP 4xx); the message is for the caller."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ModelOwner:
    """One dispatcher thread runs every job, in order. `execute(fn, cancel)` runs `fn` where the
    model lives: here by default, or on the GUI's model lane (`app.gui.serve_control`)."""

    def __init__(self, max_pending: int = 128, execute: Execute | None = None,
                 name: str = "hearth-serve-model") -> None:
        self.max_pending = max_pending
        self._execute = execute or (lambda fn, _cancel: fn())
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._live: set[CancelToken] = set()
        self._closed = False
        self.completed = 0  # jobs run to the end
        self.cancelled = 0  # jobs skipped in the queue or stopped by their client
        self.failed = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs waiting or running."""
        with self._lock:
            return self._pending

    def submit(self, work: Work, sink: Sink, cancel: CancelToken) -> None:
        with self._lock:
            if self._closed:
                raise ServerBusy("The server is shutting down.")
            if self._pending >= self.max_pending:
                raise ServerBusy(f"{self._pending} requests are already waiting; "
                                 "try again in a moment.")
            self._pending += 1
            self._live.add(cancel)
        self._queue.put((work, sink, cancel))

    def call(self, fn: Callable[[], Any], timeout: float | None = None) -> Any:
        """Run `fn` on the owner and wait for its result (start-up: load the model)."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def work(_cancel: CancelToken) -> Iterator[Any]:
            yield fn()

        def sink(kind: str, value: Any) -> None:
            if kind == "item":
                box["value"] = value
            elif kind == "error":
                box["error"] = value
            if kind != "item":
                done.set()

        self.submit(work, sink, CancelToken())
        if not done.wait(timeout):
            raise HearthError("The model did not answer in time.")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def cancel_all(self) -> None:
        """Cancel every queued and running job (shutting down): their clients are answered at
        once instead of waiting for the model."""
        with self._lock:
            for token in self._live:
                token.cancel()

    def close(self, final: Callable[[], None] | None = None, timeout: float = 30.0) -> None:
        """Stop taking jobs; run `final` (close the model) on the owner after the queued ones."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.cancel_all()
        self._queue.put(("final", final))
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item[0] == "final":
                if item[1] is not None:
                    try:
                        self._execute(item[1], CancelToken())
                    except Exception:  # noqa: BLE001 - closing must not hang the shutdown
                        pass
                return
            work, sink, cancel = item
            try:
                if cancel.cancelled:
                    self.cancelled += 1
                    _safe(sink, "cancelled", None)
                else:
                    self._execute(lambda w=work, s=sink, c=cancel: self._drain(w, s, c), cancel)
            except Exception as exc:  # noqa: BLE001 - e.g. the GUI lane refused the job
                self.failed += 1
                _safe(sink, "error", exc)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._live.discard(cancel)

    def _drain(self, work: Work, sink: Sink, cancel: CancelToken) -> None:
        try:
            for value in work(cancel):
                _safe(sink, "item", value)
        except Exception as exc:  # noqa: BLE001 - reported to the one client that asked
            self.failed += 1
            _safe(sink, "error", exc)
            return
        if cancel.cancelled:
            self.cancelled += 1
            _safe(sink, "cancelled", None)
        else:
            self.completed += 1
            _safe(sink, "end", None)


def _safe(sink: Sink, kind: str, value: Any) -> None:
    try:
        sink(kind, value)
    except Exception:  # noqa: BLE001 - a client gone (its loop closed) must not stop the owner
        pass


class LibraryEngine:
    """The CLI's engine: a Library this process opened and the model(s) from the settings, as
    `hearth ask` uses them. Every method but `names` runs on the owner thread."""

    def __init__(self, library, settings, model_spec: str | None = None) -> None:
        self.lib = library
        self.settings = settings
        self.model_spec = model_spec
        self.model: Any = None
        self.router: Any = None
        self.model_names: list[str] = []
        self.embedding_model = getattr(library.embedder, "model_id", "")

    def load(self) -> list[str]:
        """Load the chat model (or the routing set) and the embedder; return the model names."""
        getattr(self.lib.embedder, "load", lambda: None)()
        from inference.session import open_session

        self.model, self.router = open_session(self.settings, data_dir=self.lib.data_dir,
                                               pinned=self.model_spec)
        self.model_names = [o.name for o in self.router.options] if self.router is not None \
            else [self.model.name]
        return self.model_names

    def forget_owed(self) -> bool:
        """A forget cut short elsewhere and not finished yet (the library's files may still hold
        the forgotten text until a writer finishes it)."""
        from rag.library import forget_owed

        return forget_owed(self.lib.data_dir) if getattr(self.lib, "data_dir", None) else False

    def library(self, _cancel: CancelToken) -> Any:
        return self.lib

    def chat_model(self) -> tuple[Any, Any]:
        return self.model, self.router

    def close(self) -> None:
        if self.model is not None:
            self.model.close()
            self.model = self.router = None
