"""One message in the chat: who said it, the Markdown text, and (for answers) sources and actions."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.gui.buttons import make_button
from app.gui.evidence_view import EvidenceView
from app.gui.markdown_view import AnswerView
from app.gui.sources_view import Opener, SourcesView


class MessageWidget(QFrame):
    """A user question or an assistant answer (streamed in place via `append_text`)."""

    copy_requested = Signal(object)  # self
    regenerate_requested = Signal(object)

    def __init__(
        self,
        role: str,
        text: str = "",
        *,
        library_paths: Callable[[], set[str]],
        opener: Opener,
        model: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.role = role
        self.message_id: int | None = None
        self._text = text
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        header = QHBoxLayout()
        self.who = QLabel("You" if role == "user" else "Hearth")
        bold = QFont(self.who.font())
        bold.setBold(True)
        self.who.setFont(bold)
        header.addWidget(self.who)
        self.status = QLabel(model)
        self.status.setEnabled(False)  # greyed, follows the palette in light and dark
        header.addWidget(self.status)
        header.addStretch(1)
        layout.addLayout(header)

        self.evidence = EvidenceView(self)  # the passages, shown before the model's first word
        layout.addWidget(self.evidence)

        self.view = AnswerView(self, library_paths=library_paths, opener=opener, fit_height=True)
        self.view.setAccessibleName("Your question" if role == "user" else "Answer")
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        layout.addWidget(self.view)

        self.sources = SourcesView(self, library_paths=library_paths, opener=opener)
        self.sources.setVisible(False)
        self.view.citation_clicked.connect(self.open_citation)
        self.evidence.evidence_clicked.connect(self.open_citation)
        layout.addWidget(self.sources)

        self.route_label = QLabel()  # which model answered and why (model routing)
        self.route_label.setWordWrap(True)
        self.route_label.setEnabled(False)
        self.route_label.setAccessibleName("Which model answered and why")
        self.route_label.setVisible(False)
        layout.addWidget(self.route_label)

        self.copy_button = make_button(
            "Copy", "Copy this answer as Markdown (Ctrl+Shift+C copies the last)",
            lambda: self.copy_requested.emit(self), name="Copy answer")
        self.regen_button = make_button("Regenerate", "Ask again (Ctrl+R)",
                                        lambda: self.regenerate_requested.emit(self),
                                        name="Regenerate answer")
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.regen_button)
        layout.addLayout(actions)
        is_answer = role == "assistant"
        self.copy_button.setVisible(is_answer)
        self.regen_button.setVisible(is_answer)
        self.set_actions_enabled(bool(text))
        self._render()

    # -- content -------------------------------------------------------------------------
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._render()

    def append_text(self, delta: str) -> None:
        self._text += delta
        self._render()

    def _render(self) -> None:
        shown = self._text if self._text or self.role == "user" else "…"
        self.view.set_markdown(shown)

    def set_sources(self, sources: list) -> None:
        self.sources.set_sources(sources)

    def set_evidence(self, evidence: list) -> None:
        self.evidence.set_evidence(evidence)

    def open_citation(self, n: int) -> bool:
        """`[n]` is passage n when the answer has passages (opened at the quote), else source n."""
        item = self.evidence.item(n)
        if item is None:
            return self.sources.open_number(n)
        return self.sources.open_source(item["path"], item["page"], item["quote"] or "")

    def set_status(self, text: str, tooltip: str = "") -> None:
        self.status.setText(text)
        self.status.setToolTip(tooltip)

    def set_route(self, model: str, reason: str) -> None:
        """'Answered by MODEL — REASON' under the answer (hidden when nothing was routed)."""
        self.route_label.setText(f"Answered by {model} — {reason}" if reason else "")
        self.route_label.setToolTip(reason)
        self.route_label.setVisible(bool(reason))

    def set_actions_enabled(self, enabled: bool) -> None:
        self.copy_button.setEnabled(enabled)
        self.regen_button.setEnabled(enabled)
