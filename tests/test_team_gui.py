"""The window with "Shared library on a server" (a real `chroma run`, a real offscreen window).

The settings group warns about unencrypted remote addresses; a window set to a server indexes
into it and lists the server's documents; a server that is down gives a plain message and the
window stays usable.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from chroma_server import ChromaServer, free_port  # noqa: E402
from test_team_server import write_docs  # noqa: E402

from app.gui.launch import create_window  # noqa: E402
from app.gui.server_settings import ServerGroup  # noqa: E402
from rag.base.settings import Settings  # noqa: E402

pytestmark = pytest.mark.slow


def test_settings_group_warns_for_unencrypted_remote_addresses(qtbot):
    group = ServerGroup(Settings())
    qtbot.addWidget(group)
    assert not group.enabled.isChecked() and group.values()["server_url"] == ""
    group.enabled.setChecked(True)
    group.url.setText("http://10.0.0.5:8000")
    assert group.warning.isVisibleTo(group) and "not encrypted" in group.warning.text()
    group.url.setText("https://library.example.org/")
    assert not group.warning.isVisibleTo(group)
    group.url.setText("http://127.0.0.1:8000")
    assert not group.warning.isVisibleTo(group)
    group.library.setText("papers")
    assert group.values() == {"server_url": "http://127.0.0.1:8000", "server_library": "papers",
                              "server_token_file": "", "server_root": ""}


def _window(tmp_path, url: str, root):
    data = tmp_path / "data"
    data.mkdir()
    Settings(server_url=url, server_library="gui", server_root=str(root)).save(data)
    window = create_window(data, opener=lambda *_: None)
    window.show()
    window.start()
    return window


def close(qtbot, window) -> None:
    """Close, then wait until every background lane has stopped (no thread left running)."""
    with qtbot.waitSignal(window.backend.stopped, timeout=120_000):
        window.close()


def test_window_indexes_into_the_server_library(qtbot, tmp_path):
    srv = ChromaServer(tmp_path / "chroma").start()
    share = tmp_path / "share"
    write_docs(share / "lab", "lab", 2)
    window = _window(tmp_path, srv.url, share)
    try:
        qtbot.waitUntil(lambda: window.backend._lib is not None, timeout=120_000)
        assert getattr(window.backend._lib, "on_server", False)
        window.backend.index([str(share / "lab")])
        qtbot.waitUntil(lambda: len(window.backend.documents) == 2 and all(
            d.status == "indexed" for d in window.backend.documents), timeout=180_000)
        assert sorted(d.path for d in window.backend.documents) == ["lab/lab-0.txt",
                                                                    "lab/lab-1.txt"]
    finally:
        close(qtbot, window)
        srv.stop()


def test_window_with_the_server_down_says_so_and_stays_usable(qtbot, tmp_path):
    window = _window(tmp_path, f"http://127.0.0.1:{free_port()}", tmp_path)
    messages: list[str] = []
    window.backend.library_failed.connect(messages.append)
    try:
        qtbot.waitUntil(lambda: bool(messages) or bool(window.backend._lib_error),
                        timeout=60_000)
        text = messages[0] if messages else window.backend._lib_error
        assert "Cannot reach the library server" in text
        assert window.isVisible() and window.chat.input.isEnabled()
    finally:
        close(qtbot, window)
