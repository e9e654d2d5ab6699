"""The Settings toggle: the window serves the same API from its own library and model, through
its own lanes, and stops when switched off. Real window (offscreen), real models and library."""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import httpx  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QtMsgType, qInstallMessageHandler  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from makedocs import make_pdf  # noqa: E402

from app.gui import serve_control  # noqa: E402
from app.gui.launch import create_window  # noqa: E402
from app.gui.settings_dialog import SettingsDialog  # noqa: E402
from app.serve_run import read_config, token_path  # noqa: E402

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_thread(fn):
    """Run a blocking HTTP call off the GUI thread (the lanes need the Qt event loop)."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            box["error"] = exc

    threading.Thread(target=run, daemon=True).start()
    return box


def test_settings_toggle_serves_the_window_library_then_stops(qtbot, tmp_path):
    messages: list[str] = []
    previous = qInstallMessageHandler(
        lambda mode, _ctx, msg: messages.append(msg) if mode != QtMsgType.QtDebugMsg else None)
    try:
        run_toggle(qtbot, tmp_path)
    finally:
        qInstallMessageHandler(previous)
    # API jobs enter the lanes from a plain Python thread: Qt must not complain about it.
    words = ("thread", "Cannot create children", "Timers cannot", "QBasicTimer")
    assert [m for m in messages if any(w in m for w in words)] == []


def run_toggle(qtbot, tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "lighthouse.pdf", [
        "Coastal history. Harbour towns traded fish and salt.",
        "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski."])
    window = create_window(tmp_path / "data", opener=lambda *a: None)
    qtbot.addWidget(window)
    window.show()
    window.start()
    backend = window.backend
    qtbot.waitUntil(lambda: backend._lib is not None, timeout=120_000)
    op = backend.index([str(docs)])
    qtbot.waitUntil(lambda: op.done, timeout=180_000)

    port = free_port()
    dialog = SettingsDialog(backend, window)
    qtbot.addWidget(dialog)
    assert not dialog.api.enabled.isChecked()
    dialog.api.enabled.setChecked(True)
    dialog.api.port.setValue(port)
    dialog.accept()
    assert f"127.0.0.1:{port}" in dialog.api_message
    assert read_config(backend.data_dir) == {"enabled": True, "port": port}
    url = f"http://127.0.0.1:{port}/v1"
    auth = {"Authorization": f"Bearer {token_path(backend.data_dir).read_text().strip()}"}
    try:
        box = in_thread(lambda: httpx.post(url + "/chat/completions", headers=auth, timeout=120,
                                           json={"model": "hearth", "max_tokens": 16,
                                                 "messages": [{"role": "user", "content":
                                                               "Who built the Zephyr lighthouse?"}]}))
        qtbot.waitUntil(lambda: bool(box), timeout=120_000)
        assert "error" not in box, box
        reply = box["value"].json()
        assert box["value"].status_code == 200, reply
        assert Path(reply["sources"][0]["path"]).name == "lighthouse.pdf"
        assert reply["sources"][0]["page"] == 2 and reply["choices"][0]["message"]["content"]
        assert httpx.get(url + "/models").status_code == 401
        reopened = SettingsDialog(backend, window)  # shows the running server
        qtbot.addWidget(reopened)
        assert reopened.api.enabled.isChecked() and url in reopened.api.state.text()
        reopened.api.enabled.setChecked(False)
        reopened.accept()
        assert reopened.api_message == "Local API stopped."
    finally:
        serve_control.stop(backend)
    assert serve_control.running(backend) is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/models", headers=auth, timeout=5)
    window.close()
