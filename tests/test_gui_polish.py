"""First-run polish on the real window, offscreen: the chat keeps half the width, panels give
way, failed files are not offered, plain words for failures, one "Drop documents here", the
Help menu, the icon, the model list at once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # tests/test_gui_xvfb.py: xcb, under Xvfb

import pytest  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from makedocs import make_pdf  # noqa: E402

from app.gui.help_dialog import BUNDLED_MODELS, version  # noqa: E402
from app.gui.icon import SIZES, assets_dir  # noqa: E402
from app.gui.launch import create_window  # noqa: E402
from app.gui.settings_dialog import SettingsDialog  # noqa: E402

LONG = "a-report-with-a-very-long-file-name-that-people-really-do-use-for-their-papers"


@pytest.fixture
def window(qtbot, tmp_path):
    w = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def _chat_share(w) -> float:
    sizes = w.splitter.sizes()
    return sizes[1] / sum(sizes)


def _answer_with_sources(w):
    m = w.chat._add_message("assistant", "The lighthouse was built in 1887 [1].")
    src = {"n": 1, "path": f"/docs/{LONG}.pdf", "page": 2, "score": 0.91,
           "text": "Snippet: the Zephyr lighthouse was built in 1887 by Marta Kowalski."}
    m.set_evidence([{**src, "quote": src["text"]}])
    m.set_sources([src])
    return m


def test_the_window_runs_on_the_platform_asked_for(window):
    """Offscreen in the suite; on a real X server when tests/test_gui_xvfb.py runs this file."""
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.platformName() == os.environ["QT_QPA_PLATFORM"]
    assert window.isVisible()


def test_chat_keeps_half_the_width_at_800x600(qtbot, window):
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400)
    assert min(window.splitter.sizes()) > 0  # a wide window shows all three panels
    message = _answer_with_sources(window)
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.width() == 800)
    assert _chat_share(window) >= 0.5, window.splitter.sizes()
    assert window.splitter.sizes()[0] == 0  # the chats list folded first, the library kept
    assert window.splitter.sizes()[2] > 0
    sources = message.sources
    # laid out: the sources span the chat column (less margins and the vertical scrollbar)
    qtbot.waitUntil(lambda: sources.width() > window.splitter.sizes()[1] * 0.8)
    # Nothing of the answer hides behind a sideways scrollbar; the snippet column is readable.
    assert window.chat.scroll.horizontalScrollBar().maximum() == 0
    assert sources.header().length() <= sources.viewport().width(), (
        sources.header().length(), sources.viewport().width())
    assert sources.header().sectionSize(4) >= 150
    assert sources.header().sectionSize(1) <= sources.viewport().width() // 4
    # Back to a wide window: the folded panel returns; View -> Show chats list also brings it.
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.splitter.sizes()[0] > 0)
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.splitter.sizes()[0] == 0)
    window.splitter.unfold(0)
    assert window.splitter.sizes()[0] > 0 and _chat_share(window) >= 0.5


def test_drop_documents_here_is_said_once(window):
    shown = [lbl for lbl in window.findChildren(QLabel)
             if "Drop documents here" in lbl.text() and lbl.isVisibleTo(window)]
    assert len(shown) == 1 and shown[0] is window.chat.empty_label


def test_help_menu_about_shortcuts_and_data_folder(qtbot, window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    items = [a.text().replace("&", "") for a in menus["Help"].actions() if not a.isSeparator()]
    assert items == ["Keyboard shortcuts", "Open data folder", "About Hearth"]
    about = window.show_about()
    qtbot.addWidget(about)
    text = about.text.text()
    assert version() in text and "no network connections" in text
    assert all(name in text and lic in text for name, _r, lic, _b in BUNDLED_MODELS)
    assert not about.windowIcon().isNull()
    keys = window.show_shortcuts()
    qtbot.addWidget(keys)
    rows = {keys.tree.topLevelItem(i).text(0): keys.tree.topLevelItem(i).text(1)
            for i in range(keys.tree.topLevelItemCount())}
    assert rows["Send"].startswith("Ctrl+Return") and rows["Add files"] == "Ctrl+O"
    assert "Keyboard shortcuts" in rows and len(rows) >= 20
    opened = []
    window.folder_opener = lambda path: opened.append(path) or True
    next(a for a in menus["Help"].actions() if "data folder" in a.text()).trigger()
    assert opened == [window.data_dir]


def test_icon_set_made_from_the_svg(window):
    folder = assets_dir()
    assert folder is not None and QSvgRenderer(str(folder / "hearth.svg")).isValid()
    for size in SIZES:
        image = QImage(str(folder / "icons" / f"hearth-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.pixelColor(size // 2, size // 2).alpha() == 255  # drawn, not blank
    icon = window.windowIcon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} >= set(SIZES)


def test_model_list_shows_bundled_models_at_once(window):
    dialog = SettingsDialog(window.backend, window)
    try:
        rows = {r.name: r for r in dialog.picker.rows()}  # before the discovery job ran
        assert rows["SmolLM2-135M-Instruct"].source == "bundled"
        assert "Looking for more models" in dialog.picker.hint.text()
    finally:
        dialog.close()
        dialog.deleteLater()


@pytest.mark.slow
# Windows of the earlier tests finish closing in the background (Backend.shutdown returns at
# once); a late lane signal of theirs must not be blamed on this test.
@pytest.mark.qt_no_exception_capture
def test_failed_files_are_not_offered_and_say_why_plainly(qtbot, window, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / f"{LONG}.pdf", ["The harbour ferry leaves at 07:40 on weekdays."])
    good = make_pdf(docs / "lighthouse.pdf", ["The Zephyr lighthouse was built in 1887."])
    (docs / "broken.pdf").write_bytes(good.read_bytes()[:300])  # a cut-off download
    window.resize(1400, 900)
    window.start()
    qtbot.waitUntil(lambda: window.backend._lib is not None, timeout=120_000)
    qtbot.waitUntil(lambda: window.backend.watch.status is not None or
                    window.backend.watch.running, timeout=60_000)
    assert not window.sync_label.isVisible()  # nothing watched: no "Watching for changes"
    window.library.add_paths([str(docs)])
    qtbot.waitUntil(lambda: len(window.backend.documents) == 3 and all(
        d.status in ("indexed", "failed") for d in window.backend.documents), timeout=180_000)
    qtbot.waitUntil(lambda: not window.library.indexing, timeout=10_000)
    assert "Ask about your 2 documents" in window.chat.empty_label.text()
    offered = window.scope_choices()  # what Chat -> Limit to documents… lists
    assert sorted(Path(p).name for p in offered) == sorted([f"{LONG}.pdf", "lighthouse.pdf"])
    tree = window.library.tree
    items = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(3)}
    broken = items["broken.pdf"]
    assert broken.text(1) == "Failed"
    assert broken.toolTip(1).startswith("Failed: This PDF is damaged")
    assert "Detail: not a readable PDF" in broken.toolTip(1)
    tree.clearSelection()
    broken.setSelected(True)
    assert "This PDF is damaged" in window.library.reason_label.text()
    # Every column, Chunks included, is inside the visible part of the list at 1400x900.
    header = tree.header()
    assert header.sectionPosition(2) + header.sectionSize(2) <= tree.viewport().width()
    assert header.length() <= tree.viewport().width()



def _record(n: int, name: str, chunks: int):
    from rag.store.manifest import DocumentRecord

    return DocumentRecord(n, f"/docs/{name}", "", "", 1, 0.0, "indexed", "", chunks, 0.0)


def test_the_sort_arrow_tells_the_truth(window):
    from PySide6.QtCore import Qt

    panel = window.library
    panel.set_documents([_record(1, "b.txt", 3), _record(2, "Alpha.pdf", 20),
                         _record(3, "ch10.md", 1), _record(4, "ch2.md", 7)])
    header = panel.tree.header()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == \
        (0, Qt.SortOrder.AscendingOrder)
    names = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert names == ["Alpha.pdf", "b.txt", "ch2.md", "ch10.md"]  # as people read them
    panel.tree.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    chunks = [panel.tree.topLevelItem(i).text(2) for i in range(panel.tree.topLevelItemCount())]
    assert chunks == ["20", "7", "3", "1"]  # numbers as numbers


def test_remove_asks_first_and_cancel_keeps_the_documents(qtbot, window, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    panel = window.library
    window.start()
    qtbot.waitUntil(lambda: window.backend._lib is not None, timeout=60_000)
    note = tmp_path / "keep-me.txt"
    note.write_text("Herons wade in the shallows at dawn.")
    op = panel.add_paths([str(note)])
    qtbot.waitUntil(lambda: op.done and panel.tree.topLevelItemCount() == 1, timeout=120_000)
    asked: list[str] = []

    def answer(choice: str) -> None:
        box = next(w for w in QApplication.topLevelWidgets()
                   if isinstance(w, QMessageBox) and w.objectName() == "confirmRemove")
        asked.append(box.text())
        next(b for b in box.buttons() if b.text().replace("&", "") == choice).click()

    panel.tree.topLevelItem(0).setSelected(True)
    QTimer.singleShot(0, lambda: answer("Cancel"))
    assert panel.remove_selected() is None  # nothing forgotten
    assert asked == ["Remove keep-me.txt from the library?"]
    assert panel.tree.topLevelItemCount() == 1
    QTimer.singleShot(0, lambda: answer("Remove"))
    op = panel.remove_selected()
    assert op is not None and len(asked) == 2
    qtbot.waitUntil(lambda: op.done and panel.tree.topLevelItemCount() == 0, timeout=60_000)
    assert note.exists()  # the file itself stays on disk


def test_windows_fit_the_screen_on_first_start_and_after_a_bigger_one(qtbot, tmp_path):
    """The offscreen screen is 800×800: a fresh window, one whose saved size came from a bigger
    screen, one saved too small to work in, and the source viewer all fit on it."""
    from app.gui.screen_fit import available, fits
    from app.gui.source_viewer import SourceViewer

    data = tmp_path / "data"
    first = create_window(data, opener=lambda p, pg: None)
    qtbot.addWidget(first)
    first.show()
    area = available(first)
    assert fits(first) and first.width() <= area.width() and first.height() <= area.height()
    for saved in ((2000, 1500), (781, 373)):  # a big screen's size; a size too small to use
        first.resize(*saved)
        first.move(0, 0)
        first.save_state()
        again = create_window(data, opener=lambda p, pg: None)
        qtbot.addWidget(again)
        again.show()
        assert fits(again), (saved, again.frameGeometry(), area)
        assert again.width() >= 640 and again.height() >= 480
        again.close()
    viewer = SourceViewer(system_open=lambda _url: False)
    viewer.show()
    assert fits(viewer) and viewer.height() < 900
    viewer.shutdown()
    viewer.close()


def test_a_long_step_shows_its_seconds_so_the_line_moves(window):
    """OCR of one image reports nothing until it ends: the line says how long it has taken."""
    from rag.base.types import IndexProgress

    panel = window.library
    panel.progress_box.setVisible(True)
    step = IndexProgress(files_done=0, files_total=1, current="/docs/scan.png",
                         stage="recognising text (OCR)", fraction=0.05)
    panel._on_progress(None, step)
    assert panel.progress_label.text() == "Recognising text (OCR) in scan.png · 0/1 files"
    assert panel._ticker.isActive()
    panel._step_started -= 7  # seven seconds on this one image (no sleeping in a test)
    panel._tick()
    assert panel.progress_label.text().endswith("· 7 s on this step")
    panel._on_progress(None, IndexProgress(files_done=1, files_total=1, stage="done",
                                           fraction=1.0))
    assert "s on this step" not in panel.progress_label.text()  # the next step: a new clock


def test_an_old_library_says_in_the_window_that_reindexing_helps(qtbot, tmp_path, embedder):
    """A library indexed before section headings were embedded: the library panel says so, and
    its link re-indexes every document, which clears it."""
    from test_headings import make_old_library

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "kettle.pdf", ["Descale the kettle every month with white vinegar."])
    make_old_library(tmp_path / "data", docs, embedder)
    w = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(w)
    w.show()
    w.start()
    panel = w.library
    try:
        qtbot.waitUntil(lambda: panel.notice_label.isVisible(), timeout=120_000)
        assert "earlier Hearth" in panel.notice_label.text()
        assert 'href="reindex">Re-index all documents' in panel.notice_label.text()
        qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 1, timeout=60_000)
        started = []
        w.backend.indexing_started.connect(started.append)
        panel.notice_label.linkActivated.emit("reindex")  # what a click on the link sends
        qtbot.waitUntil(lambda: bool(started) and started[0].done, timeout=120_000)
        assert started[0].result.count("indexed") == 1
        qtbot.waitUntil(lambda: not panel.notice_label.isVisible(), timeout=30_000)
    finally:
        w.close()


def test_file_dialogs_open_where_documents_were_last_taken_from(qtbot, tmp_path, monkeypatch):
    """Not the folder Hearth was started in (the source tree under `make run`): first the
    user's Documents or home, then the folder they last added from, also after a restart."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.chdir(tmp_path)  # started from some unrelated folder
    docs = tmp_path / "papers"
    docs.mkdir()
    asked: list[str] = []

    def choose(_parent, _title, start="", *_a, **_k):  # the OS dialog: the user picks `docs`
        asked.append(start)
        return str(docs)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda _p, _t, start="", *_a, **_k: (asked.append(start), ([], ""))[1])
    data = tmp_path / "data"
    w = create_window(data, opener=lambda p, pg: None)
    qtbot.addWidget(w)
    w.library.add_files_dialog()  # cancelled: nothing remembered
    first = Path(asked[0])
    assert first.is_dir() and first != tmp_path and first in (Path.home(), *Path.home().iterdir())
    w.library.add_folder_dialog()  # the user picks `docs`
    w.library.add_files_dialog()
    assert asked[-1] == str(docs)
    w.save_state()
    w.close()
    again = create_window(data, opener=lambda p, pg: None)
    qtbot.addWidget(again)
    again.library.add_files_dialog()
    assert asked[-1] == str(docs)
