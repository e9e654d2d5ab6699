"""Operations: how widgets hand slow work to worker threads and get progress, results and errors.

In the spirit of Anki's QueryOp/CollectionOp: a widget asks for an `Operation`, connects to its
signals and never touches threads, the core or exceptions itself.

- A `Lane` is one long-lived QThread with one worker object. The *writer* lane owns the Library
  (every call to it happens there: one writer, and sqlite/chroma handles stay on one thread);
  the *model* lane owns the Llama object (load and generate on one thread).
- A job is `fn(op)`. A plain function runs to completion. A generator function is *stepped*: each
  `next()` is one queued event, so quick read jobs (search, document list) submitted meanwhile
  interleave between steps instead of waiting for a whole indexing run. `exclusive=True` jobs
  (writes) never interleave with each other: they queue.
- Workers report through thread-safe buffers (`report` keeps only the latest progress, `emit_text`
  concatenates streamed text, `emit_event` queues discrete events). A QTimer on the GUI thread
  drains them every `flush_ms`, so a fast token stream costs ~25 GUI updates a second, not one per
  token. Completion crosses threads through one queued signal.
- Cancel sets the op's `CancelToken` (the core checks it between tokens/batches); threads are
  never terminated. An op still waiting in its lane's queue (behind a model load, say) ends at
  once: its job is skipped when its turn comes.
"""

from __future__ import annotations

import enum
import inspect
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from rag.base.cancel import CancelToken
from rag.base.errors import Cancelled, HearthError

log = logging.getLogger(__name__)

FLUSH_MS = 40


class State(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


def user_message(exc: BaseException) -> str:
    """Words for the user: our own errors carry them; anything else gets a generic prefix."""
    if isinstance(exc, HearthError):
        return str(exc) or type(exc).__name__
    return f"Unexpected error ({type(exc).__name__}): {exc}"


class Operation(QObject):
    """One unit of background work, observed from the GUI thread through its signals."""

    progress = Signal(object)  # latest progress object (coalesced)
    text = Signal(str)  # streamed text since the last flush
    event = Signal(object)  # discrete events, in order
    succeeded = Signal(object)  # the job's return value
    failed = Signal(str)  # a message for the user
    cancelled = Signal()
    finished = Signal()  # always last

    def __init__(
        self,
        name: str,
        fn: Callable[[Operation], Any],
        *,
        exclusive: bool = False,
        flush_ms: int = FLUSH_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.name = name
        self.fn = fn
        self.exclusive = exclusive
        self.cancel_token = CancelToken()
        self.state = State.PENDING
        self.result: Any = None
        self.error = ""
        self.started_at = 0.0
        self.ended_at = 0.0
        self._lock = threading.Lock()
        self._latest: Any = None
        self._latest_new = False
        self._queue: list[tuple[str, Any]] = []
        self._outcome: tuple[State, Any, str] | None = None
        self._begun = False  # the lane's thread has taken it (set there, under _lock)
        self._completed = False
        self._timer = QTimer(self)
        self._timer.setInterval(flush_ms)
        self._timer.timeout.connect(self.flush)

    # -- called from the worker thread -----------------------------------------------------
    def report(self, progress: Any) -> None:
        with self._lock:
            self._latest = progress
            self._latest_new = True

    def emit_text(self, delta: str) -> None:
        if not delta:
            return
        with self._lock:
            if self._queue and self._queue[-1][0] == "text":
                self._queue[-1] = ("text", self._queue[-1][1] + delta)
            else:
                self._queue.append(("text", delta))

    def emit_event(self, obj: Any) -> None:
        with self._lock:
            self._queue.append(("event", obj))

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_token.cancelled

    # -- called from the GUI thread --------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop; `cancelled` fires once the worker has noticed (< 0.5 s), or at
        once when the job has not begun: it may be queued behind seconds of other work."""
        with self._lock:
            self.cancel_token.cancel()
            waiting = not self._begun and self.state is State.RUNNING
            if waiting:
                self._begun = True  # the lane will find it cancelled and skip it
        if waiting and QThread.currentThread() is self.thread():
            self._outcome = (State.CANCELLED, None, "")
            self._complete()

    def _take(self) -> bool:
        """On the lane's thread: begin this op, unless a cancel already ended it."""
        with self._lock:
            if self._begun or self.cancel_token.cancelled:
                return False
            self._begun = True
            return True

    @property
    def done(self) -> bool:
        return self.state in (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    @property
    def elapsed(self) -> float:
        if not self.started_at:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at

    @Slot()
    def flush(self) -> None:
        with self._lock:
            latest, new = self._latest, self._latest_new
            self._latest_new = False
            queue, self._queue = self._queue, []
        if new:
            self.progress.emit(latest)
        for kind, payload in queue:
            if kind == "text":
                self.text.emit(payload)
            else:
                self.event.emit(payload)

    def _started(self) -> None:
        self.state = State.RUNNING
        self.started_at = time.monotonic()
        self._timer.start()

    def _complete(self) -> None:
        if self._completed:  # ended by cancel() before it began; the lane reports it again
            return
        self._completed = True
        self._timer.stop()
        self.flush()
        assert self._outcome is not None
        self.state, self.result, self.error = self._outcome
        self.ended_at = time.monotonic()
        if self.state is State.SUCCEEDED:
            self.succeeded.emit(self.result)
        elif self.state is State.CANCELLED:
            self.cancelled.emit()
        else:
            self.failed.emit(self.error)
        self.finished.emit()


class _Runner(QObject):
    """Lives in the lane's thread; runs jobs and steps generator jobs one event at a time."""

    completed = Signal(object)  # Operation, delivered to the Lane on the GUI thread
    _step_later = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._active: tuple[Operation, Any] | None = None  # the exclusive job in progress
        self._waiting: deque[Operation] = deque()
        self._step_later.connect(self._step, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def run(self, op: Operation) -> None:
        if op.exclusive and self._active is not None:
            self._waiting.append(op)
            return
        self._begin(op)

    def _begin(self, op: Operation) -> None:
        if not op._take():
            self._finish(op, State.CANCELLED, None, "")
            return
        try:
            if inspect.isgeneratorfunction(op.fn):
                gen = op.fn(op)
                if op.exclusive:
                    self._active = (op, gen)
                self._step_later.emit((op, gen))
                return
            result = op.fn(op)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI
            self._fail(op, exc)
            return
        state = State.CANCELLED if op.is_cancelled else State.SUCCEEDED
        self._finish(op, state, result, "")

    @Slot(object)
    def _step(self, pair: tuple[Operation, Any]) -> None:
        op, gen = pair
        try:
            if op.is_cancelled:
                gen.close()
                self._finish(op, State.CANCELLED, None, "")
                return
            item = next(gen)
        except StopIteration as stop:
            state = State.CANCELLED if op.is_cancelled else State.SUCCEEDED
            self._finish(op, state, stop.value, "")
            return
        except BaseException as exc:  # noqa: BLE001
            self._fail(op, exc)
            return
        if item is not None:
            op.report(item)
        self._step_later.emit(pair)

    def _fail(self, op: Operation, exc: BaseException) -> None:
        if isinstance(exc, Cancelled) or op.is_cancelled:
            self._finish(op, State.CANCELLED, None, "")
            return
        if not isinstance(exc, HearthError):
            log.error("operation %s failed:\n%s", op.name, traceback.format_exc())
        self._finish(op, State.FAILED, None, user_message(exc))

    def _finish(self, op: Operation, state: State, result: Any, error: str) -> None:
        op._outcome = (state, result, error)
        if self._active is not None and self._active[0] is op:
            self._active = None
        self.completed.emit(op)
        if self._active is None and self._waiting:
            self._begin(self._waiting.popleft())


class Lane(QObject):
    """A named worker thread that runs Operations in submission order."""

    _submit = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._submit.connect(self._runner.run, Qt.ConnectionType.QueuedConnection)
        self._runner.completed.connect(self._on_completed, Qt.ConnectionType.QueuedConnection)
        self._live: set[Operation] = set()
        self._internal: set[Operation] = set()  # call() jobs, kept alive until completed
        self._thread.start()

    def submit(self, op: Operation) -> Operation:
        self._live.add(op)
        op._started()
        self._submit.emit(op)
        return op

    def run(
        self, name: str, fn: Callable[[Operation], Any], *, exclusive: bool = False
    ) -> Operation:
        return self.submit(Operation(name, fn, exclusive=exclusive))

    def call(self, fn: Callable[[], Any], cancel: CancelToken | None = None) -> Any:
        """Run `fn` on this lane and block the *calling worker thread* until it returns.

        For cross-lane reads (the model lane asking the writer lane to search). Never call it
        from the GUI thread.
        """
        done = threading.Event()
        box: dict[str, Any] = {}

        def job(_op: Operation) -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001
                box["error"] = exc
            finally:
                done.set()

        op = Operation(f"{self.name}.call", job)
        op.internal = True
        op.moveToThread(self.thread())  # completion is handled on the GUI thread
        self._internal.add(op)
        self._submit.emit(op)
        while not done.wait(0.05):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("Stopped.")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    @property
    def busy(self) -> bool:
        return any(not op.done for op in self._live)

    @property
    def live(self) -> list[Operation]:
        """The operations queued or running here, oldest first (a copy)."""
        return list(self._live)

    def cancel_all(self) -> None:
        for op in self.live:
            op.cancel()

    @property
    def finished(self) -> Signal:
        """The lane's thread has ended (after its stop operation ran)."""
        return self._thread.finished

    def wait(self, timeout_ms: int) -> bool:
        """Block until the lane's thread has ended (at exit, with no event loop left)."""
        return bool(self._thread.wait(timeout_ms))

    def stop_op(self, final: Callable[[], Any] | None = None) -> Operation:
        """The operation that ends this lane: cancels its work, runs `final` last, quits its
        thread. Make it on the GUI thread; `hand_over` may then queue it from any thread."""
        self.cancel_all()

        def last(_op: Operation) -> None:
            try:
                if final is not None:
                    final()
            finally:
                QThread.currentThread().quit()

        op = Operation(f"{self.name}.shutdown", last, exclusive=True)
        op.internal = True
        self._internal.add(op)
        return op

    def hand_over(self, op: Operation) -> None:
        """Queue an operation made by `stop_op` on the lane's thread (a queued signal: any
        thread may call this, a lane ending its own work included)."""
        self._submit.emit(op)

    def stop(self, final: Callable[[], Any] | None = None) -> None:
        """`shutdown` without the wait."""
        self.hand_over(self.stop_op(final))

    @Slot(object)
    def _on_completed(self, op: Operation) -> None:
        if getattr(op, "internal", False):  # submitted by call(): nobody watches its signals
            self._internal.discard(op)
            return
        self._live.discard(op)
        op._complete()

    def shutdown(self, final: Callable[[], Any] | None = None, timeout_ms: int = 10000) -> bool:
        """Cancel everything, run `final` last on this lane, then stop the thread.

        Threads are never terminated: a job that ignores its cancel token makes this return
        False after `timeout_ms` instead.
        """
        self.stop(final)
        finished = self.wait(timeout_ms)
        if not finished:
            log.error("worker thread %s did not stop within %d ms", self.name, timeout_ms)
        return finished
