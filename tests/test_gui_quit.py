"""Quit and cancel in the real window (offscreen, real Library, real MiniLM, real files).

Closing the window while a folder is being indexed and the watcher runs must hand the GUI
thread back at once (< 0.5 s), stop the background work cleanly (no thread terminated), release
the library, and leave nothing that restarts by itself at the next launch.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from hostile import canary, note  # noqa: E402

from app.gui.launch import create_window  # noqa: E402
from app.gui.ops import State  # noqa: E402

pytestmark = pytest.mark.slow


def test_quit_while_indexing_returns_at_once(qtbot, tmp_path):
    from rag.library import Library

    docs, watched = tmp_path / "docs", tmp_path / "watched"
    docs.mkdir()
    watched.mkdir()
    for i in range(120):
        note(docs / f"n{i:03}.txt", canary())
    data = tmp_path / "data"
    window = create_window(data, opener=lambda p, pg: None)
    window.show()
    backend = window.backend
    with qtbot.waitSignal(backend.library_opened, timeout=120_000):
        backend.open_library()
    qtbot.waitUntil(lambda: backend.watch.running, timeout=60_000)
    with qtbot.waitSignal(backend.watch.folders_changed, timeout=60_000):
        backend.watch.add(str(watched))
    op = backend.index([str(docs)])
    seen: list = []
    op.progress.connect(seen.append)
    qtbot.waitUntil(lambda: any(getattr(p, "files_done", 0) >= 1 for p in seen), timeout=300_000)
    assert not op.done

    t0 = time.perf_counter()
    window.close()
    took = time.perf_counter() - t0
    print(f"\nwindow.close() returned in {took * 1000:.0f} ms while indexing")
    assert not window.isVisible()
    assert took < 0.5, took
    t1 = time.perf_counter()
    with qtbot.waitSignal(backend.stopped, timeout=120_000):
        pass
    print(f"background work stopped {time.perf_counter() - t1:.2f} s later")
    qtbot.waitUntil(lambda: op.done, timeout=10_000)
    assert op.state is State.CANCELLED
    for lane in (backend.writer, backend.model_lane, backend.io_lane, backend.reads,
                 backend.watch.lane):
        assert lane._thread.isFinished(), lane.name
    with Library.open(data, owner="the next launch") as lib:  # the lock was released
        assert lib.unfinished() == []  # nothing restarts by itself
        assert all(d.status != "indexing" for d in lib.documents())
