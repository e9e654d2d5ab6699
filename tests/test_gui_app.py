"""The desktop app end to end, offscreen, with the real core: real PDFs dropped on the window,
the real Library (MiniLM + chromadb) on a tmp data dir, the real bundled SmolLM2.

Only the system file viewer is replaced (by a recorder), so clicking a citation can be checked
without launching one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # xcb under Xvfb: tests/test_gui_xvfb.py

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QtMsgType, QUrl, qInstallMessageHandler  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from makedocs import make_pdf  # noqa: E402

from app.gui.evidence_view import display_markdown  # noqa: E402
from app.gui.heartbeat import Heartbeat  # noqa: E402
from app.gui.launch import create_window  # noqa: E402
from app.gui.ops import State  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.no_qt_log]

LIGHTHOUSE = [
    "Coastal history. Many harbour towns grew near the sea and traded fish and salt.",
    "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned whale "
    "oil until 1921, when the lighthouse was electrified.",
    # Long sentences: the model copies the passage it reads, so Stop needs a long one to cut.
    "Keepers' routine. Every evening the keepers climbed the one hundred and twelve steps of the "
    "tower, trimmed the wick, polished the great brass lens until it shone, wound the clockwork "
    "that turned the lamp, and wrote the wind, the sea and every passing ship into the log book. "
    "Every morning they shut the lamp down, drew the linen curtains around the lens to keep the "
    "sun from starting a fire, carried fresh oil up from the store at the foot of the tower, "
    "cleaned the soot from the lantern glass, and painted whatever the salt had eaten overnight.",
]
BREAD = ["Sourdough bread needs a starter of flour and water, fed daily for a week. "
         "Bake the loaf at 230 degrees Celsius for forty minutes."]
QT_MESSAGES: list[tuple[str, str]] = []


def _handler(mode, _context, message) -> None:
    if mode != QtMsgType.QtDebugMsg:
        QT_MESSAGES.append((str(mode), message))


def cross_thread_warnings() -> list[str]:
    words = ("thread", "Cannot create children", "Timers cannot", "QBasicTimer")
    return [m for _mode, m in QT_MESSAGES if any(w in m for w in words)]


@pytest.fixture(scope="module")
def env(qapp, tmp_path_factory):
    root = tmp_path_factory.mktemp("gui")
    docs = root / "docs"
    (docs / "kitchen").mkdir(parents=True)
    make_pdf(docs / "lighthouse.pdf", LIGHTHOUSE)
    make_pdf(docs / "kitchen" / "bread.pdf", BREAD)
    previous = qInstallMessageHandler(_handler)
    yield {"root": root, "docs": docs, "data": root / "data", "opened": []}
    qInstallMessageHandler(previous)


def _open_window(env):
    window = create_window(env["data"], opener=lambda p, pg: env["opened"].append((p, pg)))
    window.show()
    window.start()
    return window


@pytest.fixture(scope="module")
def window(env):
    w = _open_window(env)
    env["window"] = w
    yield w
    if env.get("window") is not None:
        env["window"].close()


def drop(target, paths: list[Path]) -> bool:
    """A real drag-enter + drop with file:// URLs, as a file manager would send."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, event)
    return enter.isAccepted() and event.isAccepted()


def ask(qtbot, window, question: str, timeout: int = 120_000):
    window.chat.input.setPlainText(question)
    QTest.keyClick(window.chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    if window.chat.op is None or window.chat.op.done:  # shortcut not delivered: use the action
        window.send_action.trigger()
    op = window.chat.op
    assert op is not None
    return op


def test_empty_state_then_drop_folder_indexes_documents(qtbot, window, env):
    qtbot.waitUntil(lambda: window.backend._lib is not None, timeout=120_000)
    assert window.library.stack.currentWidget() is window.library.empty_label
    assert "Drop documents here" in window.chat.empty_label.text()
    # Drop the folder onto the conversation area, not the window frame: "anywhere" works.
    assert drop(window.chat.scroll.viewport(), [env["docs"]])
    qtbot.waitUntil(lambda: window.library.progress_box.isVisible() or
                    len(window.backend.documents) == 2, timeout=10_000)
    qtbot.waitUntil(lambda: len(window.backend.documents) == 2 and
                    all(d.status == "indexed" for d in window.backend.documents), timeout=180_000)
    qtbot.waitUntil(lambda: not window.library.indexing, timeout=10_000)
    assert window.library.tree.topLevelItemCount() == 2
    assert "2 documents" in window.library.counts_label.text()
    assert not window.library.progress_box.isVisible()
    assert "Ask about your 2 documents" in window.chat.empty_label.text()


def test_ask_streams_text_and_shows_sources(qtbot, window, env):
    texts: list[str] = []
    op = ask(qtbot, window, "Who built the Zephyr lighthouse?")
    op.text.connect(texts.append)
    qtbot.waitUntil(lambda: op.done, timeout=180_000)
    assert op.state is State.SUCCEEDED, op.error
    answer_widget = window.chat.messages()[-1]
    assert answer_widget.role == "assistant"
    assert texts, "no streamed text arrived"
    assert answer_widget.text() and answer_widget.text() == display_markdown(op.result)
    sources = answer_widget.sources.sources()
    assert sources and answer_widget.sources.isVisible()
    lighthouse = str((env["docs"] / "lighthouse.pdf").resolve())
    assert any(s["path"] == lighthouse and s["page"] == 2 for s in sources), sources
    assert answer_widget.sources.topLevelItemCount() == len(sources)
    shown = [float(answer_widget.sources.topLevelItem(i).text(3)) for i in range(len(sources))]
    assert all(0.0 < v <= 1.0 for v in shown) and shown == sorted(shown, reverse=True)
    assert "0 to 1" in answer_widget.sources.headerItem().toolTip(3)
    # The turn is saved and listed in the sidebar.
    cid = window.chat.conversation_id
    assert cid is not None and cid in window.history_panel.ids()
    assert [m.role for m in window.history.messages(cid)] == ["user", "assistant"]


def test_passages_show_before_the_first_word_and_the_answer_is_never_empty(qtbot, window, env):
    timeline: list[str] = []
    op = ask(qtbot, window, "When was the Zephyr lighthouse electrified?")
    op.event.connect(lambda ev: timeline.append(getattr(ev, "kind", "")))
    op.text.connect(lambda _t: timeline.append("text"))
    widget = window.chat.messages()[-1]
    qtbot.waitUntil(lambda: widget.evidence.isVisible() or op.done, timeout=180_000)
    assert widget.evidence.isVisible(), "the passages were not shown"
    assert "1921" in " ".join(e["quote"] for e in widget.evidence.items())
    assert "From your documents" in widget.evidence.text()
    qtbot.waitUntil(lambda: op.done, timeout=180_000)
    assert op.state is State.SUCCEEDED, op.error
    if "text" in timeline and "evidence" in timeline:
        assert timeline.index("evidence") < timeline.index("text")
    assert widget.view.toPlainText().strip() and widget.text().strip()
    # A raw "[1]: [1]" reply (Markdown link definitions) still shows as text, never as nothing.
    widget.set_text("[1]: [1]\n[2]: [2]\n[3]: [3]")
    assert "[1]" in widget.view.toPlainText() and "[3]" in widget.view.toPlainText()
    widget.set_text(display_markdown(op.result))


def test_citation_click_opens_the_file_at_its_page(qtbot, window, env):
    view = window.chat.messages()[-1].sources
    env["opened"].clear()
    for row in range(view.topLevelItemCount()):
        item = view.topLevelItem(row)
        src = view.sources()[row]
        rect = view.visualItemRect(item)
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        expected_page = src["page"] if src["path"].endswith(".pdf") else None
        assert env["opened"][-1] == (str(Path(src["path"]).resolve()), expected_page)
    assert len(env["opened"]) == view.topLevelItemCount()
    # "[n]" markers in the answer text open passage n (its file and page) the same way.
    answer = window.chat.messages()[-1]
    first = answer.evidence.items()[0]
    answer.view.anchorClicked.emit(QUrl(f"cite:{first['n']}"))
    assert env["opened"][-1][:2] == (str(Path(first["path"]).resolve()), first["page"])
    # A file outside the library is refused, whatever a source claims.
    outside = env["root"] / "outside.pdf"
    make_pdf(outside, ["not in the library"])
    before = len(env["opened"])
    assert view.open_source(str(outside), 1) is False
    assert len(env["opened"]) == before


def test_stop_interrupts_a_long_answer_within_half_a_second(qtbot, window):
    window.backend.settings.max_answer_tokens = 2048
    op = ask(qtbot, window, "What did the lighthouse keepers do every evening and every "
                            "morning, in every detail?")
    widget = window.chat.messages()[-1]
    qtbot.waitUntil(lambda: len(widget.text()) > 40 or op.done, timeout=180_000)
    assert not op.done, f"the answer ended before Stop could be tested: {widget.text()!r}"
    window.activateWindow()
    t0 = time.monotonic()
    QTest.keyClick(window.chat.input, Qt.Key.Key_Escape)
    if not op.cancel_token.cancelled:  # no active window offscreen: same action, no shortcut
        window.stop_action.trigger()
    # acknowledged at once, before the model has even stopped
    assert widget.status.text() == "Stopping…" and not window.chat.stop_button.isEnabled()
    qtbot.waitUntil(lambda: op.done, timeout=5000)
    took = time.monotonic() - t0
    print(f"\nstop took {took * 1000:.0f} ms")
    assert op.state is State.CANCELLED
    assert took < 0.5
    length = len(widget.text())
    qtbot.wait(300)
    assert len(widget.text()) == length  # nothing arrives after Stop
    assert "stopped" in widget.status.text()
    saved = window.history.messages(window.chat.conversation_id)[-1]
    assert saved.role == "assistant" and saved.content == widget.text()
    final = op.result  # the stream's own final answer: what is shown and saved after Stop
    assert final is not None and final.cancelled and final.answer
    assert saved.content == display_markdown(final)
    assert window.chat.send_button.isEnabled() and not window.chat.stop_button.isEnabled()


def test_gui_stays_responsive_while_indexing_and_generating(qtbot, window, env):
    """Heartbeat stalls while a folder indexes and an answer streams at the same time."""
    more = env["root"] / "more"
    more.mkdir()
    for i in range(6):
        make_pdf(more / f"notes{i}.pdf", [f"Note {i}: the harbour master logged {i * 7} ships "
                                          f"on day {i}. " * 12, "Weather was calm. " * 30])
    beat = Heartbeat(interval_ms=10)
    beat.start()
    index_op = window.library.add_paths([str(more)])
    answer_op = ask(qtbot, window, "When did the Zephyr lamp stop burning whale oil?")
    qtbot.waitUntil(lambda: index_op.done and answer_op.done, timeout=300_000)
    beat.stop()
    summary = beat.summary()
    print(f"\nheartbeat while indexing+generating: {summary} (target p99 < 100 ms)")
    assert index_op.state is State.SUCCEEDED and answer_op.state is State.SUCCEEDED
    assert summary["ticks"] > 50
    assert summary["p99_ms"] < 1000  # generous; the benchmark target is 100 ms


def test_history_survives_a_restart(qtbot, env):
    old = env["window"]
    cid = old.chat.conversation_id
    questions = [m.text() for m in old.chat.messages() if m.role == "user"]
    old.close()
    env["window"] = None
    new = _open_window(env)
    env["window"] = new
    assert cid in new.history_panel.ids()
    assert new.chat.conversation_id == cid  # the last chat is reopened
    assert [m.text() for m in new.chat.messages() if m.role == "user"] == questions
    answers = [m for m in new.chat.messages() if m.role == "assistant"]
    assert answers and answers[0].sources.sources()
    new.new_chat()
    assert new.chat.messages() == []
    item = new.history_panel.list.item(new.history_panel.ids().index(cid))
    new.history_panel.list.setCurrentItem(item)
    new.history_panel._activate(item)
    assert [m.text() for m in new.chat.messages() if m.role == "user"] == questions
    qtbot.waitUntil(lambda: new.backend._lib is not None, timeout=120_000)
    qtbot.waitUntil(lambda: len(new.backend.documents) >= 2, timeout=60_000)


def test_stop_while_the_first_search_waits_for_the_embedder(qtbot, env):
    """Esc during "Searching your documents…" on a cold start: the embedder may take seconds to
    load (in the watcher's warm-up or the search itself) and can't be interrupted; the answer
    must still end at once. Holding the real embedder's load lock makes "still loading" last
    as long as the test needs."""
    window = env["window"]
    qtbot.waitUntil(lambda: window.backend._lib is not None and bool(window.backend.model_name),
                    timeout=120_000)
    embedder = window.backend._lib.embedder
    with embedder._lock:  # the load another thread is doing right now, as far as search knows
        op = ask(qtbot, window, "When was the Zephyr lighthouse built?")
        widget = window.chat.messages()[-1]
        qtbot.waitUntil(lambda: any(t.name == "hearth-load" for t in threading.enumerate()),
                        timeout=30_000)
        assert not op.done and widget.status.text() == "Searching your documents…"
        t0 = time.monotonic()
        window.stop_action.trigger()
        assert widget.status.text() == "Stopping…"
        qtbot.waitUntil(lambda: op.done, timeout=5000)
        took = time.monotonic() - t0
    print(f"\nstop while the embedder loads took {took * 1000:.0f} ms")
    assert op.state is State.CANCELLED and took < 0.5
    assert "stopped" in widget.status.text()
    assert window.chat.send_button.isEnabled()
    again = ask(qtbot, window, "When was the Zephyr lighthouse built?")  # the load went on
    qtbot.waitUntil(lambda: again.done, timeout=180_000)
    assert again.state is State.SUCCEEDED and again.result.sources


def test_no_cross_thread_qt_warnings(env):
    assert cross_thread_warnings() == [], QT_MESSAGES
