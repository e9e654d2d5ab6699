"""Things that arrive while you watch: the Settings model list fills in model by model while the
search of other tools' folders is still running, and an answer says what stage it is at
("Searching your documents…", "Reading 2 passages…", "Writing…").

Real discovery over real (tiny) GGUF files in fake GPT4All/LM Studio/llama.cpp folders, the real
Settings dialog offscreen. To see the list *while* the search runs, the header read of the last
model waits on an event the test sets: a gate around the real reader, nothing replaced.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from makedocs import make_pdf  # noqa: E402
from tiny_gguf import write_tiny_gguf  # noqa: E402

import inference.discovery as discovery  # noqa: E402
from app.gui.launch import create_window  # noqa: E402
from app.gui.ops import State  # noqa: E402
from app.gui.settings_dialog import SettingsDialog  # noqa: E402
from inference.bundled import BUNDLED_NAME  # noqa: E402
from inference.discovery import DiscoveryRoots, iter_models  # noqa: E402
from rag.base.cancel import CancelToken  # noqa: E402

EARLY = "lmstudio-community/Tiny-GGUF/tiny-early-Q4_K_M"  # LM Studio: searched before llama.cpp
LATE = "zz-late-Q4_K_M"  # llama.cpp cache: searched last; its header read waits on the gate


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake home with models in other tools' folders; the real user's folders stay unread."""
    home = tmp_path / "home"
    write_tiny_gguf(tmp_path / "data" / "models" / "mine.gguf", name="mine")
    write_tiny_gguf(home / ".lmstudio" / "models" / f"{EARLY}.gguf", name="early")
    write_tiny_gguf(home / ".cache" / "llama.cpp" / f"{LATE}.gguf", name="late")
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE",
                "OLLAMA_MODELS", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def gate(monkeypatch):
    """Hold the search at the last model's header until the test opens the gate."""
    opened, reached = threading.Event(), threading.Event()
    real = discovery.read_gguf_info

    def gated(path):
        if Path(path).name == f"{LATE}.gguf":
            reached.set()
            opened.wait(60)
        return real(path)

    monkeypatch.setattr(discovery, "read_gguf_info", gated)
    yield opened, reached
    opened.set()  # never leave the io lane waiting


def _names(picker) -> list[str]:
    tree = picker.tree
    return [tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
            for i in range(tree.topLevelItemCount())]


def test_iter_models_yields_before_later_folders_are_searched(tmp_path):
    roots = DiscoveryRoots(hearth=[tmp_path / "models"], llamacpp=[tmp_path / "cache"])
    write_tiny_gguf(tmp_path / "models" / "first.gguf")
    models = iter_models(tmp_path, roots)
    early = []
    for entry in models:  # up to Hearth's own model; the llama.cpp cache is not searched yet
        early.append(entry.name)
        if entry.name == "first":
            break
    assert early[0] == BUNDLED_NAME and early[-1] == "first"
    write_tiny_gguf(tmp_path / "cache" / "later.gguf")  # appears after the search began
    assert [e.name for e in models] == ["later"]


def test_iter_models_stops_when_cancelled(tmp_path):
    for n in range(3):
        write_tiny_gguf(tmp_path / "models" / f"m{n}.gguf")
    cancel = CancelToken()
    roots = DiscoveryRoots(hearth=[tmp_path / "models"], include_bundled=False)
    models = iter_models(tmp_path, roots, cancel=cancel)
    assert next(models).name == "m0"
    cancel.cancel()
    assert list(models) == []


def test_model_list_fills_in_while_the_search_runs(qtbot, tmp_path, home, gate):
    opened, reached = gate
    window = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(window)
    dialog = SettingsDialog(window.backend, window)
    qtbot.addWidget(dialog)
    picker, op = dialog.picker, dialog.picker.models_op
    # At once, before the search has reported anything: the bundled and Hearth's own models.
    assert BUNDLED_NAME in _names(picker) and "mine" in _names(picker)
    assert "Looking for more models" in picker.hint.text() and not op.done
    picker.set_enabled_models([BUNDLED_NAME])  # the user ticks one while the search runs
    # LM Studio's model arrives while the search is still held at the llama.cpp cache.
    qtbot.waitUntil(lambda: EARLY in _names(picker), timeout=60_000)
    assert not op.done and reached.wait(60) and not opened.is_set()
    assert LATE not in _names(picker)
    assert "found so far" in picker.hint.text()
    early = next(r for r in picker.rows() if r.name == EARLY)
    assert early.source == "lmstudio" and early.fit  # complete row: header read, fit verdict
    assert picker.model.findData(EARLY) >= 0  # offered under "Answer with" at once
    opened.set()
    qtbot.waitUntil(lambda: op.done, timeout=60_000)
    assert op.state is State.SUCCEEDED, op.error
    names = _names(picker)
    assert names.index(BUNDLED_NAME) < names.index("mine") < names.index(EARLY) < names.index(LATE)
    assert len(names) == len(set(names)) == len(op.result)
    assert picker.hint.text().startswith(f"Found {len(names)} models on this computer.")
    assert picker.values()["enabled_models"] == [BUNDLED_NAME]  # the tick survived
    assert all(r.fit != "checking…" for r in picker.rows())
    # The answering model before its first use (where installed) says why it shows "?".
    assert all(r.fit_reason.startswith("Not read yet") for r in picker.rows()
               if not Path(r.path).exists())


def test_closing_settings_stops_the_search(qtbot, tmp_path, home, gate):
    opened, reached = gate
    window = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(window)
    dialog = SettingsDialog(window.backend, window)
    op = dialog.picker.models_op
    assert reached.wait(60)  # the search is in the llama.cpp cache
    dialog.close()
    dialog.deleteLater()
    qtbot.waitUntil(lambda: op.is_cancelled, timeout=10_000)  # the picker went: search stopped
    opened.set()
    qtbot.waitUntil(lambda: op.done, timeout=60_000)
    assert op.state is State.CANCELLED


@pytest.mark.slow
@pytest.mark.qt_no_exception_capture
def test_answer_shows_its_stage(qtbot, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "lighthouse.pdf", [
        "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned "
        "whale oil until 1921, when the lighthouse was electrified."])
    window = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.backend._lib is not None, timeout=120_000)
    index = window.library.add_paths([str(docs)])
    qtbot.waitUntil(lambda: index.done, timeout=180_000)
    window.chat.input.setPlainText("Who built the Zephyr lighthouse?")
    window.send_action.trigger()
    op, widget = window.chat.op, window.chat.messages()[-1]
    stages = [widget.status.text()]

    def record(*_args) -> None:
        if widget.status.text() != stages[-1]:
            stages.append(widget.status.text())

    op.event.connect(record)  # after the chat panel's own slots: sees the line they set
    op.text.connect(record)
    qtbot.waitUntil(lambda: op.done, timeout=240_000)
    assert op.state is State.SUCCEEDED, op.error
    print(f"\nstage line: {' → '.join(stages + [widget.status.text()])}")
    assert stages[0] == "Searching your documents…"
    reading = [s for s in stages if re.fullmatch(r"Reading [1-9]\d* passages?…", s)]
    assert reading and stages.index(reading[0]) == 1, stages
    if "Writing…" in stages:  # the model streamed words (a fallback shows passages only)
        assert stages.index("Writing…") > 1
    final = widget.status.text()
    assert final not in ("Searching your documents…", "Writing…") and op.result.model in final
    # the status says how far the answer was confirmed, in the verifier's own word
    assert final.split(" · ")[1] == op.result.verdict, final
    assert widget.status.toolTip().startswith(op.result.verdict.capitalize() + ":")


def test_settings_fit_the_screen_and_the_hint_is_not_squeezed(qtbot, tmp_path, home):
    window = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(window)
    dialog = SettingsDialog(window.backend, window)
    qtbot.addWidget(dialog)
    dialog.show()
    op = dialog.picker.models_op
    qtbot.waitUntil(lambda: op.done, timeout=60_000)
    screen = dialog.screen().availableGeometry()
    assert dialog.height() <= screen.height() and dialog.width() <= screen.width()
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    assert save.isVisible() and dialog.rect().contains(save.mapTo(dialog, save.rect().bottomRight()))
    hint = dialog.picker.hint  # two lines after the search: laid out with room for both
    qtbot.waitUntil(lambda: hint.height() >= hint.heightForWidth(hint.width()), timeout=5_000)
    assert hint.geometry().top() >= dialog.picker.tree.geometry().bottom()
    # Routing between two models, the long-named one selected: nothing widens past the dialog.
    picker = dialog.picker
    picker.set_enabled_models([BUNDLED_NAME, EARLY])
    picker.tree.setCurrentItem(picker._item(EARLY))
    add = picker.add_button
    qtbot.waitUntil(lambda: dialog.scroll.horizontalScrollBar().maximum() == 0 and
                    dialog.scroll.viewport().rect().contains(
                        add.mapTo(dialog.scroll.viewport(), add.rect().bottomRight())),
                    timeout=5_000)
