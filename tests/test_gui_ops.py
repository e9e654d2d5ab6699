"""The operations layer (app/gui/ops.py) on real QThreads: ordering, interleaving, batching,
cancel and errors. Jobs here are plain functions: this module tests the thread hand-off itself;
the real core goes through it in tests/test_gui_app.py."""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QThread  # noqa: E402

from app.gui.ops import Lane, State  # noqa: E402
from rag.base.errors import HearthError  # noqa: E402


@pytest.fixture
def lane(qapp):
    lane = Lane("test-lane")
    yield lane
    assert lane.shutdown(timeout_ms=5000)


def test_job_runs_off_the_gui_thread_and_result_arrives_on_it(qtbot, lane, qapp):
    seen = {}

    def job(_op):
        seen["thread"] = threading.get_ident()
        return 42

    op = lane.run("answer", job)
    with qtbot.waitSignal(op.finished, timeout=5000):
        pass
    assert op.state is State.SUCCEEDED and op.result == 42
    assert seen["thread"] != threading.get_ident()
    assert QThread.currentThread() is qapp.thread()


def test_errors_become_messages(qtbot, lane):
    failures: list[str] = []
    op1 = lane.run("user error", lambda _op: (_ for _ in ()).throw(HearthError("No such file.")))
    op1.failed.connect(failures.append)
    op2 = lane.run("bug", lambda _op: 1 / 0)
    op2.failed.connect(failures.append)
    qtbot.waitUntil(lambda: op1.done and op2.done, timeout=5000)
    assert failures[0] == "No such file."
    assert failures[1].startswith("Unexpected error (ZeroDivisionError)")


def test_streamed_text_is_batched_and_complete(qtbot, lane):
    chunks: list[str] = []

    def job(op):
        for i in range(400):
            op.emit_text(f"{i} ")
            time.sleep(0.0005)
        return "done"

    op = lane.run("stream", job)
    op.text.connect(chunks.append)
    with qtbot.waitSignal(op.finished, timeout=10000):
        pass
    assert "".join(chunks) == "".join(f"{i} " for i in range(400))
    assert len(chunks) < 100  # far fewer GUI updates than tokens


def test_cancel_stops_a_generator_job_promptly(qtbot, lane):
    steps = []

    def job(op):
        for i in range(10_000):
            steps.append(i)
            time.sleep(0.01)
            yield i
        return "finished"

    op = lane.run("index", job, exclusive=True)
    qtbot.waitUntil(lambda: len(steps) > 5, timeout=5000)
    t0 = time.monotonic()
    op.cancel()
    with qtbot.waitSignal(op.cancelled, timeout=2000):
        pass
    assert time.monotonic() - t0 < 0.5
    assert op.state is State.CANCELLED and len(steps) < 10_000


def test_cancel_of_a_queued_job_ends_it_at_once_and_the_job_never_runs(qtbot, lane):
    """An answer queued behind a model load: Stop must not wait for the load to finish."""
    release = threading.Event()
    ran: list[str] = []
    loading = lane.run("load model", lambda _op: release.wait(10))
    queued = lane.run("answer", lambda _op: ran.append("answer"))
    events: list[str] = []
    queued.cancelled.connect(lambda: events.append("cancelled"))
    queued.finished.connect(lambda: events.append("finished"))
    t0 = time.monotonic()
    queued.cancel()
    assert events == ["cancelled", "finished"]  # at once, on the GUI thread
    assert queued.done and queued.state is State.CANCELLED and time.monotonic() - t0 < 0.5
    assert not loading.done
    release.set()
    qtbot.waitUntil(lambda: loading.done, timeout=5000)
    qtbot.waitUntil(lambda: not lane.busy, timeout=5000)
    assert loading.state is State.SUCCEEDED
    assert ran == [] and events == ["cancelled", "finished"]  # skipped, and reported only once


def test_waiting_for_a_load_gives_up_at_once_when_cancelled():
    """`wait_for` (used before the first search) stops waiting on cancel; the load runs on."""
    from rag.base.cancel import CancelToken, wait_for
    from rag.base.errors import Cancelled

    token, release, finished = CancelToken(), threading.Event(), threading.Event()

    def load():
        release.wait(10)
        finished.set()

    threading.Timer(0.1, token.cancel).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        wait_for(load, token)
    assert time.monotonic() - t0 < 0.5 and not finished.is_set()
    release.set()
    assert finished.wait(5)
    with pytest.raises(ZeroDivisionError):  # a load's own error reaches the caller
        wait_for(lambda: 1 / 0, CancelToken())


def test_reads_interleave_with_a_long_exclusive_job_but_writes_queue(qtbot, lane):
    log: list[str] = []
    read_ran = threading.Event()

    def long_write(op):
        for i in range(30):
            log.append(f"w{i}")
            if i == 3:
                read_ran.wait(5)  # no timing luck: the read must get in between two steps
            yield i

    def second_write(op):
        log.append("second-write")
        yield 0

    write = lane.run("write", long_write, exclusive=True)
    qtbot.waitUntil(lambda: len(log) > 2, timeout=5000)
    queued = lane.run("write 2", second_write, exclusive=True)
    read = lane.run("read", lambda _op: (log.append("read"), read_ran.set(), len(log))[-1])
    # 30 queued steps: seconds when the machine is busy (a 5 s wait failed once at load 12)
    qtbot.waitUntil(lambda: write.done and queued.done and read.done, timeout=30_000)
    assert log.index("read") < log.index("w29")  # the read did not wait for the whole write
    assert log.index("second-write") > log.index("w29")  # the second write did


def test_call_blocks_a_worker_until_the_other_lane_answers(qtbot, lane, qapp):
    other = Lane("other-lane")
    try:
        where = {}

        def inner():
            where["inner"] = threading.get_ident()
            return "from writer"

        def outer(_op):
            where["outer"] = threading.get_ident()
            return lane.call(inner)

        op = other.run("ask", outer)
        with qtbot.waitSignal(op.finished, timeout=5000):
            pass
        assert op.result == "from writer"
        assert where["inner"] != where["outer"]
    finally:
        assert other.shutdown(timeout_ms=5000)


def test_progress_is_coalesced_to_the_latest(qtbot, lane):
    seen = []

    def job(op):
        for i in range(200):
            op.report(i)
        time.sleep(0.1)

    op = lane.run("progress", job)
    op.progress.connect(seen.append)
    with qtbot.waitSignal(op.finished, timeout=5000):
        pass
    assert seen and seen[-1] == 199 and len(seen) < 10
