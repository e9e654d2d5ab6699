"""Panels and dialogs without loading the core: accessibility, keyboard reach, settings
persistence, history sidebar actions, scope selection, window state. (The window is real; its
Backend is simply not started, so no model or library is loaded here.)"""

from __future__ import annotations

import json
import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QWidget,
)
from tiny_gguf import write_tiny_gguf  # noqa: E402

from app.gui.launch import create_window  # noqa: E402
from app.gui.library_panel import eta_text  # noqa: E402
from app.gui.scope_dialog import ScopeDialog  # noqa: E402
from app.gui.settings_dialog import BUNDLED_LABEL, SettingsDialog  # noqa: E402
from app.history import History  # noqa: E402
from rag.base.settings import Settings  # noqa: E402

CONTROLS = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit,
            QPlainTextEdit)


@pytest.fixture
def window(qtbot, tmp_path):
    w = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def _controls(root: QWidget) -> list[QWidget]:
    """Controls we created; Qt's own sub-parts (item view headers, a line edit's clear button,
    the menu bar's overflow button) carry their parent's name for assistive tools."""
    return [w for w in root.findChildren(QWidget) if isinstance(w, CONTROLS)
            and not isinstance(w, QHeaderView) and not isinstance(w.parent(), (QMenuBar, QLineEdit))
            and not w.objectName().startswith("qt_")]


def test_every_control_has_an_accessible_name(window):
    unnamed = [type(w).__name__ + ":" + (getattr(w, "text", lambda: "")() or "")
               for w in _controls(window)
               if not w.accessibleName() and not (isinstance(w, QAbstractButton) and w.text())]
    assert unnamed == []


def test_actions_have_keyboard_shortcuts(window):
    shortcuts = {a.text().replace("&", ""): a.shortcut().toString()
                 for a in window.findChildren(type(window.send_action))}
    assert shortcuts["Send"] == "Ctrl+Return" and "Ctrl+Enter" in [
        s.toString() for s in window.send_action.shortcuts()]
    assert shortcuts["Stop"] == "Esc"
    assert shortcuts["New chat"] == "Ctrl+N"
    assert shortcuts["Add files…"] == "Ctrl+O"
    assert all(shortcuts[name] for name in ("Regenerate answer", "Copy last answer",
                                            "Limit to documents…", "Settings…"))
    # Tab moves focus out of the question box instead of inserting a tab.
    assert window.chat.input.tabChangesFocus()


def test_empty_states_tell_the_user_what_to_do(window):
    assert "Drop documents here" in window.chat.empty_label.text()
    assert window.library.stack.currentWidget() is window.library.empty_label
    assert window.history_panel.empty_label.isVisible()


def test_history_sidebar_rename_search_delete_export(window, tmp_path):
    h = window.history
    conv = h.create("First chat")
    h.add_message(conv.id, "user", "What about the ferry timetable?")
    window.history_panel.refresh(select=conv.id)
    window.history_panel.rename_selected("Ferries")
    assert window.history_panel.list.currentItem().text() == "Ferries"
    window.history_panel.search.setText("timetable")
    window.history_panel.refresh()
    assert window.history_panel.ids() == [conv.id]
    window.history_panel.search.setText("nothing like this")
    window.history_panel.refresh()
    assert window.history_panel.ids() == []
    window.history_panel.search.clear()
    window.history_panel.refresh(select=conv.id)
    md = window.history_panel.export_selected("md", str(tmp_path / "c.md"))
    js = window.history_panel.export_selected("json", str(tmp_path / "c.json"))
    assert md.read_text().startswith("# Ferries")
    assert json.loads(js.read_text())["messages"][0]["content"].startswith("What about")
    long_title = "A very long question about ferry timetables " * 4
    window.history_panel.rename_selected(long_title)
    lst = window.history_panel.list
    assert lst.currentItem().toolTip().startswith("A very long question")  # the full title
    assert lst.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert lst.textElideMode() == Qt.TextElideMode.ElideRight
    window.chat.load_conversation(conv.id)
    window.history_panel.delete_selected(confirm=False)
    assert window.history_panel.ids() == [] and window.chat.conversation_id is None


def _settings_dialog(window, qtbot) -> SettingsDialog:
    dialog = SettingsDialog(window.backend, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.picker.models_op.done, timeout=30_000)
    return dialog


def test_settings_dialog_round_trip_is_persisted(window, qtbot):
    dialog = _settings_dialog(window, qtbot)
    assert dialog.model.itemText(0) == BUNDLED_LABEL and dialog.model.currentData() == ""
    dialog.threads.setValue(3)
    dialog.n_ctx.setValue(2048)
    dialog.gpu_layers.setValue(0)
    dialog.temperature.setValue(0.7)
    dialog.top_k.setValue(8)
    new = dialog.result_settings()
    window.backend.settings = new  # same model key: apply only saves and reloads if needed
    window.backend.apply_settings(new)
    loaded = Settings.load(window.data_dir)
    assert (loaded.n_threads, loaded.n_ctx, loaded.n_gpu_layers, loaded.temperature,
            loaded.top_k_sources) == (3, 2048, 0, 0.7, 8)


def test_model_picker_lists_models_with_fit_and_saves_routing(window, qtbot, tmp_path):
    """Real discovery (header reads only): ticking two models enables routing, the choice
    becomes a pin, and a LoRA adapter is kept per model."""
    write_tiny_gguf(tmp_path / "tiny-chat.gguf", name="tiny-chat")
    window.backend.settings.model = ""
    dialog = _settings_dialog(window, qtbot)
    picker = dialog.picker
    assert [type(w).__name__ for w in _controls(dialog) if not w.accessibleName()
            and not (isinstance(w, QAbstractButton) and w.text())] == []
    rows = {r.name: r for r in picker.rows()}
    assert rows["SmolLM2-135M-Instruct"].source == "bundled"
    smol = rows["SmolLM2-135M-Instruct"]
    assert smol.quantization == "Q4_1" and 100e6 < smol.parameters < 200e6
    assert smol.fit in ("fits", "tight", "won't fit") and "GiB" in smol.fit_reason
    assert picker.tree.topLevelItemCount() == len(rows)
    # Adding a model copies it into <data_dir>/models and lists it, selected.
    op = picker.add_model_file(str(tmp_path / "tiny-chat.gguf"))
    qtbot.waitUntil(lambda: op.done, timeout=30_000)
    qtbot.waitUntil(lambda: "tiny-chat" in {r.name for r in picker.rows()}, timeout=30_000)
    assert (window.data_dir / "models" / "tiny-chat.gguf").is_file()
    assert picker.selected_name() == "tiny-chat"
    assert {r.name: r.source for r in picker.rows()}["tiny-chat"] == "hearth"
    assert dialog.model.currentData() == "tiny-chat"  # one model: the choice is the model
    # Two ticked models: routing, with "automatic" first and each enabled model as a pin.
    picker.set_enabled_models(["SmolLM2-135M-Instruct", "tiny-chat"])
    assert picker.routing and dialog.model.currentData() == ""
    assert [dialog.model.itemData(i) for i in range(dialog.model.count())] == [
        "", "SmolLM2-135M-Instruct", "tiny-chat"]
    picker.set_current("tiny-chat")
    picker.set_lora("tiny-chat", str(tmp_path / "adapter.gguf"))
    window.backend.apply_settings(dialog.result_settings())
    window.backend.model_lane.shutdown()  # the reload it started is not under test here
    loaded = Settings.load(window.data_dir)
    assert loaded.enabled_models == ["SmolLM2-135M-Instruct", "tiny-chat"]
    assert loaded.model == "tiny-chat"
    assert loaded.lora_adapters == {"tiny-chat": str(tmp_path / "adapter.gguf")}
    # Reopened, the dialog shows the same state; unticking one ends routing.
    again = _settings_dialog(window, qtbot)
    assert again.picker.routing and again.model.currentData() == "tiny-chat"
    again.picker.tree.setCurrentItem(again.picker._item("tiny-chat"))
    assert again.picker.lora.text() == str(tmp_path / "adapter.gguf")
    again.picker.set_enabled_models(["tiny-chat"])
    assert not again.picker.routing and again.result_settings().enabled_models == ["tiny-chat"]


def test_dropping_a_gguf_adds_a_model_instead_of_indexing(window, qtbot, tmp_path):
    write_tiny_gguf(tmp_path / "dropped-model.gguf", name="dropped")
    added = []
    window.backend.model_added.connect(added.append)
    window.add_dropped([str(tmp_path / "dropped-model.gguf")])
    qtbot.waitUntil(lambda: bool(added), timeout=30_000)
    assert added[0].name == "dropped-model" and added[0].source == "hearth"
    assert (window.data_dir / "models" / "dropped-model.gguf").is_file()
    assert not window.library.indexing  # nothing was sent to the library
    assert "dropped-model" in window.statusBar().currentMessage()
    # A file that is not a model is refused with a message, not indexed either.
    (tmp_path / "fake.gguf").write_bytes(b"not a gguf at all")
    window.add_dropped([str(tmp_path / "fake.gguf")])
    qtbot.waitUntil(lambda: "Could not add fake.gguf" in window.statusBar().currentMessage(),
                    timeout=30_000)
    assert not window.library.indexing


def test_scope_dialog_turns_checks_into_paths(qtbot, tmp_path):
    docs = ["/lib/a/one.pdf", "/lib/a/two.pdf", "/lib/b/three.pdf"]
    dialog = ScopeDialog(docs, selected=[])
    qtbot.addWidget(dialog)
    items = {i.data(0, Qt.ItemDataRole.UserRole): i for i in dialog.items()}
    assert set(items) == {"/lib/a", "/lib/b", *docs}
    items["/lib/a"].setCheckState(0, Qt.CheckState.Checked)
    items["/lib/b/three.pdf"].setCheckState(0, Qt.CheckState.Checked)
    assert dialog.selected_paths() == ["/lib/a", "/lib/b/three.pdf"]


def test_chat_scope_is_saved_with_the_conversation(window):
    window.chat.set_scope(["/lib/a"])
    assert "Searching only: a" in window.chat.scope_label.text()
    conv = window.history.create("Scoped", scope=window.chat.scope)
    window.chat.new_chat()
    assert window.chat.scope == []
    window.chat.load_conversation(conv.id)
    assert window.chat.scope == ["/lib/a"]


def test_geometry_and_splitter_survive_a_restart(qtbot, tmp_path):
    data = tmp_path / "data"
    w = create_window(data)
    qtbot.addWidget(w)
    w.show()
    w.move(0, 0)
    w.resize(790, 640)  # fits the offscreen screen (800×800): it comes back as it was
    w.splitter.setSizes([150, 390, 250])
    sizes = w.splitter.sizes()
    w.close()
    w2 = create_window(data)
    qtbot.addWidget(w2)
    w2.show()
    # The height and the library pane come back as they were, and the chat keeps half the width
    # (the chats list folds away: app/gui/layout.py). A geometry that no longer fits the screen
    # is not restored (test_gui_polish: windows fit the screen).
    assert (w2.width(), w2.height()) == (790, 640)
    restored = w2.splitter.sizes()
    assert restored[2] == sizes[2] and restored[0] == 0 and restored[1] >= sum(restored) / 2
    w2.resize(1300, 640)  # room again: the chats list comes back at its minimum width
    qtbot.waitUntil(lambda: w2.splitter.sizes()[0] > 0)
    assert w2.splitter.sizes()[0] == w2.history_panel.minimumSizeHint().width()
    w2.close()
    with History.open(data) as h:  # the history file was created alongside, private
        assert h.list() == []
    assert oct(os.stat(data / "gui.ini").st_mode & 0o777) == "0o600"


def test_eta_text():
    assert eta_text(0, 10, 5.0) == ""
    assert eta_text(5, 10, 10.0) == "ETA 10 s"
    assert eta_text(1, 100, 60.0) == "ETA 99 min"
