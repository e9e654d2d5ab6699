"""Watched folders, re-index and "Delete all my data" in the real window, offscreen, with the real
core: real watchdog observers, the real Library (MiniLM + chromadb) on a tmp data dir. No chat
model is loaded (nothing here asks a question). Waits are polling timeouts, never sleeps.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402
from PySide6.QtCore import Qt, QtMsgType, qInstallMessageHandler  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from makedocs import make_pdf  # noqa: E402

from app.gui.launch import create_window  # noqa: E402
from app.gui.ops import State  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.no_qt_log]
CANARY = "wombat-canary-5521"
QT_MESSAGES: list[str] = []


def _handler(mode, _context, message) -> None:
    if mode != QtMsgType.QtDebugMsg:
        QT_MESSAGES.append(message)


@pytest.fixture(scope="module")
def env(qapp, tmp_path_factory):
    root = tmp_path_factory.mktemp("gui-watch")
    previous = qInstallMessageHandler(_handler)
    window = create_window(root / "data", opener=lambda p, pg: None)
    window.show()
    window.backend.open_library()  # no chat model: only the library and the watcher start
    yield {"root": root, "window": window}
    window.close()
    qInstallMessageHandler(previous)


def _doc(window, path: Path):
    real = str(path.resolve())
    return next((d for d in window.backend.documents if d.path == real), None)


def _listed(window, path: Path) -> bool:
    tree = window.library.tree
    return any(tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == str(path.resolve())
               for i in range(tree.topLevelItemCount()))


def test_watch_a_folder_and_see_a_new_file_indexed(qtbot, env):
    window, root = env["window"], env["root"]
    view = window.library.watched
    qtbot.waitUntil(lambda: window.backend.watch.running, timeout=120_000)
    assert view.watch_button.isEnabled() and view.empty_label.isVisible()
    folder = root / "notes"
    folder.mkdir()
    (folder / "first.txt").write_text("The harbour ferry leaves at 07:40 on weekdays.\n")
    op = view.add_folder(str(folder))
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    assert op.state is State.SUCCEEDED, op.error
    assert view.rows() == [(str(folder.resolve()), "watching")]
    # The folder's existing file is indexed by the watcher's own thread...
    qtbot.waitUntil(lambda: (d := _doc(window, folder / "first.txt")) is not None
                    and d.status == "indexed", timeout=120_000)
    # ...and so is a file created afterwards; the document list follows without any click.
    new = folder / "second.txt"
    new.write_text(f"The lighthouse keeper's cat is called {CANARY}.\n")
    qtbot.waitUntil(lambda: _listed(window, new) and _doc(window, new).status == "indexed",
                    timeout=60_000)
    assert window.library.stack.currentWidget() is window.library.tree
    # Sync progress reached the status area.
    status = window.backend.watch.status
    assert status is not None and status.done >= 2
    assert window.sync_label.text().startswith("Sync: ")
    qtbot.waitUntil(lambda: "Up to date" in window.sync_label.text(), timeout=30_000)


def test_reindex_forces_a_fresh_read_and_keeps_the_document(qtbot, env):
    window, root = env["window"], env["root"]
    path = root / "notes" / "first.txt"
    before = _doc(window, path)
    seen_missing = []
    for i in range(window.library.tree.topLevelItemCount()):
        item = window.library.tree.topLevelItem(i)
        item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == str(path.resolve()))
    op = window.library.reindex_selected()
    assert op is not None
    lib = window.backend._lib
    op.progress.connect(lambda _p: seen_missing.append(lib.manifest.get(before.path) is None))
    qtbot.waitUntil(lambda: op.done, timeout=60_000)
    assert op.state is State.SUCCEEDED, op.error
    assert op.result.count("indexed") == 1 and op.result.count("unchanged") == 0  # forced
    assert seen_missing and not any(seen_missing)  # never forgotten while being re-indexed
    qtbot.waitUntil(lambda: _doc(window, path) is not None, timeout=10_000)
    after = _doc(window, path)
    assert after.id == before.id and after.status == "indexed" and after.chunks == before.chunks


def test_removed_document_in_a_watched_folder_stays_removed(qtbot, env):
    window, root = env["window"], env["root"]
    private = root / "notes" / "private.txt"
    private.write_text("A diary entry the user does not want in the library.\n")
    qtbot.waitUntil(lambda: (d := _doc(window, private)) is not None and d.status == "indexed",
                    timeout=60_000)
    qtbot.waitUntil(lambda: _listed(window, private), timeout=10_000)
    messages: list[str] = []
    window.library.notice.connect(messages.append)
    tree = window.library.tree
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == str(private.resolve()))
    op = window.library.remove_selected(confirm=False)  # the dialog: test_gui_polish
    assert op is not None
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    assert op.state is State.SUCCEEDED, op.error
    assert messages and "stay out of their watched folder" in messages[-1]
    with open(private, "a") as fh:  # an edit would have brought it back before
        fh.write("Another entry.\n")
    control = root / "notes" / "after-removal.txt"
    control.write_text("Written after the diary was edited: indexed after it.\n")
    qtbot.waitUntil(lambda: _doc(window, control) is not None, timeout=60_000)
    assert _doc(window, private) is None and not _listed(window, private)
    folders = window.backend.watch.refresh()
    qtbot.waitUntil(lambda: folders.done, timeout=10_000)
    assert [f.excluded for f in folders.result] == [[str(private.resolve())]]
    row = window.library.watched.list.topLevelItem(0)
    assert "Kept out" in row.toolTip(0) and str(private.resolve()) in row.toolTip(0)


def test_missing_folder_keeps_documents_until_forgotten(qtbot, env):
    window, root = env["window"], env["root"]
    view = window.library.watched
    drive = root / "usb"
    drive.mkdir()
    (drive / "trip.txt").write_text("Packing list: boots, map, compass.\n")
    op = view.add_folder(str(drive))
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    qtbot.waitUntil(lambda: (d := _doc(window, drive / "trip.txt")) is not None
                    and d.status == "indexed", timeout=60_000)
    real = str(drive.resolve())
    drive.rename(root / "usb-unplugged")  # the drive goes away
    qtbot.waitUntil(lambda: (real, "missing") in view.rows(), timeout=30_000)
    assert view.notice_label.isVisible() and "not available" in view.notice_label.text()
    view.select(real)
    assert view.forget_button.isVisible() and view.forget_button.isEnabled()
    assert any(d.path == f"{real}/trip.txt" for d in window.backend.documents)  # kept
    op = view.forget_missing(confirm=False)
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    assert op.state is State.SUCCEEDED, op.error
    qtbot.waitUntil(lambda: not any(d.path.startswith(real + "/")
                                    for d in window.backend.documents), timeout=30_000)
    assert all(p != real for p, _s in view.rows())


def test_stop_watching_can_keep_the_documents(qtbot, env):
    window, root = env["window"], env["root"]
    view = window.library.watched
    folder = str((root / "notes").resolve())
    view.select(folder)
    assert view.remove_button.isEnabled()
    op = view.remove_selected("keep")
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    assert op.state is State.SUCCEEDED, op.error
    assert view.rows() == [] and view.empty_label.isVisible()
    assert _doc(window, root / "notes" / "second.txt") is not None  # documents stay
    refresh = window.backend.watch.refresh()
    qtbot.waitUntil(lambda: refresh.done, timeout=10_000)
    assert refresh.result == []  # the service itself no longer watches it


def test_delete_all_my_data_leaves_no_trace_of_a_canary(qtbot, env):
    window, root = env["window"], env["root"]
    data = window.data_dir
    watched = root / "watched-again"
    watched.mkdir()
    (watched / "canary.txt").write_text(f"Secret note: {CANARY} lives here.\n")
    op = window.library.watched.add_folder(str(watched))
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    make_pdf(root / "extra.pdf", [f"A PDF that mentions {CANARY} too."])
    index_op = window.library.add_paths([str(root / "extra.pdf")])
    qtbot.waitUntil(lambda: index_op.done, timeout=60_000)
    qtbot.waitUntil(lambda: (d := _doc(window, watched / "canary.txt")) is not None
                    and d.status == "indexed", timeout=60_000)
    conv = window.history.create(f"About {CANARY}")
    window.history.add_message(conv.id, "user", f"Where does {CANARY} live?")
    window.history_panel.refresh(select=conv.id)
    assert _files_containing(data, CANARY)  # the test can see it before the wipe

    op = window.delete_all_data(confirm=False)
    qtbot.waitUntil(lambda: op.done, timeout=60_000)
    assert op.state is State.SUCCEEDED, op.error
    qtbot.waitUntil(lambda: window.backend.documents == [] and window.backend.watch.running,
                    timeout=30_000)
    assert window.library.stack.currentWidget() is window.library.empty_label
    assert window.history.list() == [] and window.history_panel.ids() == []
    assert window.library.watched.rows() == []
    assert _files_containing(data, CANARY) == []
    assert (watched / "canary.txt").exists()  # the user's own files are never touched
    # The watcher restarted with no folders: nothing of the old folder comes back.
    refresh = window.backend.watch.refresh()
    qtbot.waitUntil(lambda: refresh.done, timeout=10_000)
    assert refresh.result == []


def test_no_cross_thread_qt_warnings(env):
    words = ("thread", "Cannot create children", "Timers cannot", "QBasicTimer")
    assert [m for m in QT_MESSAGES if any(w in m for w in words)] == []


def _files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            try:
                if needle.encode() in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                continue
    return hits
