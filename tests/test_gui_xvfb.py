"""The window's own checks (issue 31) again on a real X server: Xvfb with an 800×600 screen and
Qt's xcb platform, as on a small Linux desktop, not Qt's offscreen stand-in. Each file runs in a
child `pytest` under `xvfb-run`; the child's first test proves which platform it ran on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

XVFB = shutil.which("xvfb-run")
ROOT = Path(__file__).resolve().parent.parent
FILES = ["tests/test_gui_polish.py", "tests/test_source_viewer.py", "tests/test_gui_ops.py",
         "tests/test_gui_app.py",
         "tests/test_index_progress.py::test_window_shows_ocr_pages_and_the_done_notice"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    XVFB is None, reason="xvfb-run is not installed (make sysdeps installs xvfb best effort)")]


def _xcb_loads() -> str:
    """Why Qt's xcb plugin can't start here (a missing libxcb-* package), or ''."""
    probe = subprocess.run(
        [XVFB, "-a", "-s", "-screen 0 800x600x24", sys.executable, "-c",
         "from PySide6.QtWidgets import QApplication; QApplication([]); print('ok')"],
        env={**os.environ, "QT_QPA_PLATFORM": "xcb"}, capture_output=True, text=True,
        timeout=120)
    return "" if "ok" in probe.stdout else (probe.stderr.strip().splitlines() or ["?"])[-1]


@pytest.mark.parametrize("path", FILES)
def test_window_checks_pass_on_a_real_x_server(path):
    why = _xcb_loads()
    if why:
        pytest.skip(f"Qt's xcb platform does not start under Xvfb here: {why}")
    run = subprocess.run(
        [XVFB, "-a", "-s", "-screen 0 800x600x24", sys.executable, "-m", "pytest", "-q",
         "-p", "no:cacheprovider", "-rs", path],
        cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "xcb"}, capture_output=True, text=True,
        timeout=900)
    tail = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    assert " passed" in run.stdout and " failed" not in run.stdout, tail
    print(f"\n{path} under Xvfb (xcb, 800x600): {run.stdout.strip().splitlines()[-1]}")
