"""A paused reader must not freeze the writer (issue 32, item 1).

Real processes and the real store lock: a reading process stops itself with SIGSTOP in the
middle of its read (as Ctrl+Z or a debugger would leave it); the writer must carry on within a
few seconds, keep other readers out while it changes the files, let them in afterwards, and a
reader that has to wait names the paused process, not the writer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from rag.store.lock import STALL_S, StoreLock, lock_holders

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not Path("/proc/locks").exists(),
                                 reason="finding a lock's holders needs Linux /proc/locks")

PAUSED_READER = """
import os, signal, sys
from pathlib import Path
from rag.store.lock import StoreLock
lock = StoreLock(Path(sys.argv[1]))
with lock.shared() as seen:
    print("reading", seen, flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)  # paused in the middle of its read
with lock.shared() as now:
    print("resumed", now, flush=True)
"""

READER = """
import sys, time
from pathlib import Path
from rag.store.lock import StoreLock
t0 = time.monotonic()
with StoreLock(Path(sys.argv[1])).shared(timeout=float(sys.argv[2])) as seen:
    print(f"{time.monotonic() - t0:.3f}", flush=True)
"""


def python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_until(pred, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_the_writer_goes_on_past_a_paused_reader_and_keeps_others_out(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    paused = python(PAUSED_READER, str(data))
    try:
        first = paused.stdout.readline().split()
        assert first[0] == "reading"
        wait_until(lambda: psutil.Process(paused.pid).status() == psutil.STATUS_STOPPED)
        writer = StoreLock(data)
        assert paused.pid in lock_holders(writer.path)
        message = writer._busy_message(30)
        assert "is paused while reading it" in message and f"process {paused.pid}" in message

        t0 = time.monotonic()
        with writer.exclusive():  # waits STALL_S for the readers, then sees who they are
            waited = time.monotonic() - t0
        assert waited < STALL_S + 5, waited
        t0 = time.monotonic()
        with writer.exclusive():  # the same paused reader: no second wait
            again = time.monotonic() - t0
        assert again < 1.0, again

        # While the writer changes the files, a running reader waits; then it gets in.
        inside, leave = threading.Event(), threading.Event()

        def change() -> None:
            with writer.exclusive():
                inside.set()
                leave.wait(30)

        worker = threading.Thread(target=change)
        worker.start()
        assert inside.wait(30)
        other = python(READER, str(data), "20")
        time.sleep(1.0)  # the reader is kept out for as long as the change lasts
        assert other.poll() is None
        leave.set()
        worker.join(30)
        out, err = other.communicate(timeout=60)
        assert other.returncode == 0, err
        assert 0.8 < float(out) < 15, out

        os.kill(paused.pid, signal.SIGCONT)
        out, err = paused.communicate(timeout=60)
        assert paused.returncode == 0, err
        resumed = out.split()
        assert resumed[0] == "resumed" and int(resumed[1]) > int(first[1])  # it sees the change
        writer.close()
    finally:
        if paused.poll() is None:
            os.kill(paused.pid, signal.SIGCONT)
            paused.kill()
