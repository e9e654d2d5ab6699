"""A thread-safe cancel flag every long operation checks between steps, and the per-thread
session that hands one (with a progress callback) to code called deep inside other code."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def reset(self) -> None:
        self._event.clear()


NEVER = CancelToken()


class ThreadSession:
    """A (progress, cancel) pair set for a block on this thread and read where the work steps:
    a loader between pages, the OCR between images. Why per thread: the indexer's reading
    thread and a search thread must not see each other's cancel."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def bound(self, progress: Callable | None = None,
              cancel: CancelToken | None = None) -> Iterator[None]:
        previous = getattr(self._local, "value", None)
        self._local.value = (progress, cancel)
        try:
            yield
        finally:
            self._local.value = previous

    @property
    def progress(self) -> Callable | None:
        return (getattr(self._local, "value", None) or (None, None))[0]

    @property
    def cancelled(self) -> bool:
        cancel = (getattr(self._local, "value", None) or (None, None))[1]
        return cancel is not None and bool(getattr(cancel, "cancelled", False))


def wait_for(fn: Callable[[], object], cancel: CancelToken | None, poll_s: float = 0.05) -> None:
    """Run `fn` on a helper thread and wait for it, but stop waiting (raise `Cancelled`) as soon
    as `cancel` is set. Why: loading a model can take seconds and cannot be interrupted, and Stop
    must end an answer at once; `fn` runs on to its end, so it must be a load that later calls
    reuse (idempotent, behind its own lock). Its error, if any, is raised here."""
    from rag.base.errors import Cancelled

    box: dict[str, BaseException] = {}
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="hearth-load", daemon=True).start()
    while not done.wait(poll_s):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("Stopped.")
    if "error" in box:
        raise box["error"]
