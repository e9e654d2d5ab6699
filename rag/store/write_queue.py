"""The single writer of a Library in this process: one thread runs every change, in order.

Why: the GUI, the watcher and the command line all change the same library; chroma and SQLite
writes must not interleave, and a forget must never be undone by an index that read the file
before the forget and commits after it. So every mutation is a job on this one thread, and
readers (search, status, document lists) never come here at all.

Forget wins: `preempt(paths)` marks every queued or running index job that touches those paths
to skip them, cancels the running one at its next cancel check, and the forget is queued
*first*. The preempted index job runs the waiting forget on the spot, then carries on with its
remaining files (`IndexJob` in rag/library.py does this).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any

from rag.base.cancel import CancelToken
from rag.base.errors import HearthError
from rag.base.paths import is_under

log = logging.getLogger(__name__)

_END = object()


class JobToken(CancelToken):
    """Cancelled when the job itself is, or when the caller's token is."""

    def __init__(self, parent: CancelToken | None = None) -> None:
        super().__init__()
        self.parent = parent
        self.preempted = threading.Event()  # a forget wants this job out of its way

    @property
    def cancelled(self) -> bool:
        return (self._event.is_set() or self.preempted.is_set()
                or (self.parent is not None and self.parent.cancelled))

    @property
    def by_caller(self) -> bool:
        """Cancelled for good (the caller or a shutdown), not just preempted by a forget."""
        return self._event.is_set() or (self.parent is not None and self.parent.cancelled)


class Job:
    def __init__(self, fn: Callable[[Job], Any], *, name: str, paths: Iterable[str] = (),
                 cancel: CancelToken | None = None, priority: bool = False,
                 indexes: bool = False) -> None:
        self.fn = fn
        self.indexes = indexes  # an index job: a forget of its paths preempts it
        self.name = name
        self.paths = [str(p) for p in paths]
        self.token = JobToken(cancel)
        self.priority = priority
        self.skip: set[str] = set()  # paths forgotten meanwhile: not to be indexed by this job
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def touches(self, paths: Iterable[str]) -> bool:
        return any(is_under(a, b) or is_under(b, a) for a in self.paths for b in paths)

    def run(self) -> None:
        try:
            self.result = self.fn(self)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            self.error = exc
        finally:
            self.done.set()


class WriteQueue:
    def __init__(self, name: str = "hearth-library-writer") -> None:
        self._cond = threading.Condition()
        self._jobs: deque[Job] = deque()
        self._current: Job | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -- callers ---------------------------------------------------------------------------------
    @property
    def on_writer(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def current(self) -> Job | None:
        return self._current

    def submit(self, job: Job) -> Job:
        with self._cond:
            if self._closed:
                raise HearthError("The library is closed.")
            if job.priority:  # after the other waiting priority jobs, before everything else
                n = sum(1 for j in self._jobs if j.priority)
                self._jobs.insert(n, job)
            else:
                self._jobs.append(job)
            self._cond.notify_all()
        return job

    def call(self, fn: Callable[[Job], Any], *, name: str, paths: Iterable[str] = (),
             cancel: CancelToken | None = None, priority: bool = False) -> Any:
        """Run `fn(job)` on the writer thread and return its result (inline when already there)."""
        job = Job(fn, name=name, paths=paths, cancel=cancel, priority=priority)
        if self.on_writer:
            job.run()
        else:
            self.submit(job).done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def stream(self, gen_fn: Callable[[Job], Generator[Any, None, Any]], *, name: str,
               paths: Iterable[str] = (), cancel: CancelToken | None = None,
               indexes: bool = False) -> Generator[Any, None, Any]:
        """Run a generator job on the writer thread; its items are yielded here, its return value
        returned. Closing this generator early cancels the job and waits for it to stop."""
        if self.on_writer:
            return (yield from gen_fn(Job(gen_fn, name=name, paths=paths, cancel=cancel,
                                          indexes=indexes)))
        items: queue.SimpleQueue = queue.SimpleQueue()

        def body(job: Job) -> Any:
            gen = gen_fn(job)
            try:
                while True:
                    try:
                        items.put(next(gen))
                    except StopIteration as stop:
                        return stop.value
            finally:
                items.put(_END)

        job = self.submit(Job(body, name=name, paths=paths, cancel=cancel, indexes=indexes))
        try:
            while True:
                item = items.get()
                if item is _END:
                    break
                yield item
        finally:
            if not job.done.is_set():  # the consumer stopped early: stop the job too
                job.token.cancel()
                with self._cond:
                    if job in self._jobs:
                        self._jobs.remove(job)
                        job.error = HearthError("cancelled before it started")
                        job.done.set()
                job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def preempt(self, paths: Iterable[str]) -> None:
        """A forget of `paths` is coming: index jobs skip them, the running one yields."""
        paths = [str(p) for p in paths]
        with self._cond:
            jobs = list(self._jobs) + ([self._current] if self._current is not None else [])
        for job in jobs:
            if job.indexes and job.touches(paths):
                job.skip.update(paths)
                if job is self._current:
                    job.token.preempted.set()

    def run_priority(self) -> None:
        """From inside a job on the writer thread: run the waiting priority jobs (forgets) now."""
        assert self.on_writer
        while True:
            with self._cond:
                if not self._jobs or not self._jobs[0].priority:
                    return
                job = self._jobs.popleft()
            job.run()

    def idle(self) -> bool:
        with self._cond:
            return self._current is None and not self._jobs

    def close(self, timeout: float | None = None) -> bool:
        """Cancel what is queued or running, then end the thread. False if it is still busy
        after `timeout` (a job that ignores its cancel token)."""
        with self._cond:
            self._closed = True
            for job in self._jobs:
                job.token.cancel()
            if self._current is not None:
                self._current.token.cancel()
            self._cond.notify_all()
        if self.on_writer:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the writer thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                self._current = job
            try:
                job.run()
            finally:
                with self._cond:
                    self._current = None
