"""The conversation: messages, the question box, Send/Stop, new chat, copy, regenerate, scope.

Talks to the core only through `Backend.ask` (an Operation) and saves every turn in `History`.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.gui.backend import Backend
from app.gui.buttons import make_button
from app.gui.evidence_view import display_markdown, evidence_fields
from app.gui.message_widget import MessageWidget
from app.gui.ops import Operation
from app.gui.sources_view import Opener, source_fields
from app.history import History, title_from_question
from rag.answering.prompts import NOT_FOUND

HISTORY_TURNS = 6  # earlier messages sent with a follow-up question


def local_paths(mime: QMimeData) -> list[str]:
    """Local files/folders in a drag (file:// URLs only)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class ChatInput(QPlainTextEdit):
    """The question box; dropped files are handed to the library instead of pasted as text."""

    files_dropped = Signal(list)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 (Qt override)
        return bool(local_paths(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 (Qt override)
        paths = local_paths(source)
        if paths:
            self.files_dropped.emit(paths)
            return
        super().insertFromMimeData(source)


class ChatPanel(QWidget):
    conversation_changed = Signal(int)  # a conversation was created or got a new message
    files_dropped = Signal(list)
    scope_requested = Signal()
    busy_changed = Signal(bool)
    status_message = Signal(str)

    def __init__(self, backend: Backend, history: History, opener: Opener,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.history = history
        self.opener = opener
        self.conversation_id: int | None = None
        self.scope: list[str] = []
        self.op: Operation | None = None
        self._answer_widget: MessageWidget | None = None
        self._messages: list[MessageWidget] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        scope_row = QHBoxLayout()
        self.scope_label = QLabel()
        self.scope_label.setAccessibleName("Search scope")
        self.scope_button = make_button(
            "Limit to…", "Choose documents or folders this chat searches (Ctrl+L)",
            self.scope_requested, name="Limit this chat to chosen documents or folders")
        self.clear_scope_button = make_button("All documents", "", lambda: self.set_scope([]),
                                              name="Search all documents")
        scope_row.addWidget(self.scope_label, 1)
        scope_row.addWidget(self.scope_button)
        scope_row.addWidget(self.clear_scope_button)
        layout.addLayout(scope_row)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setAccessibleName("Conversation")
        self.list_widget = QWidget()
        self.list_layout = QVBoxLayout(self.list_widget)
        self.list_layout.setContentsMargins(2, 2, 2, 2)
        self.empty_label = QLabel()
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setAccessibleName("Getting started")
        self.list_layout.addWidget(self.empty_label)
        self.list_layout.addStretch(1)
        self.scroll.setWidget(self.list_widget)
        self.scroll.verticalScrollBar().rangeChanged.connect(self._follow_bottom)
        layout.addWidget(self.scroll, 1)

        self.input = ChatInput()
        self.input.setPlaceholderText("Ask a question about your documents (Ctrl+Enter to send)")
        self.input.setAccessibleName("Question")
        self.input.setTabChangesFocus(True)
        self.input.setFixedHeight(self.input.fontMetrics().height() * 4 + 16)
        self.input.files_dropped.connect(self.files_dropped)
        self.send_button = make_button("Send", "Send (Ctrl+Enter)", self.send,
                                       name="Send question")
        self.stop_button = make_button("Stop", "Stop the answer (Esc)", self.stop,
                                       name="Stop answering")
        self.stop_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        row.addLayout(buttons)
        layout.addLayout(row)
        self._update_scope_label()
        self.update_empty_state(documents=0)

    # -- state -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.op is not None and not self.op.done

    def update_empty_state(self, documents: int) -> None:
        if documents == 0:
            self.empty_label.setText(
                "<h3>Drop documents here…</h3><p>Drag PDFs, Word files, text or whole folders "
                "anywhere on this window, or press <b>Ctrl+O</b> to add them. Everything stays on "
                "this computer.</p>")
        else:
            self.empty_label.setText(
                f"<h3>Ask about your {documents} document{'s' if documents != 1 else ''}</h3>"
                "<p>Type a question below and press <b>Ctrl+Enter</b>. Answers cite their "
                "sources; click one to open the file at that page.</p>")
        self.empty_label.setVisible(not self._messages)

    def _update_scope_label(self) -> None:
        if not self.scope:
            self.scope_label.setText("Searching: all documents")
        else:
            names = ", ".join(p.rsplit("/", 1)[-1] or p for p in self.scope[:3])
            more = f" and {len(self.scope) - 3} more" if len(self.scope) > 3 else ""
            self.scope_label.setText(f"Searching only: {names}{more}")
            self.scope_label.setToolTip("\n".join(self.scope))
        self.clear_scope_button.setVisible(bool(self.scope))

    def set_scope(self, paths: list[str]) -> None:
        self.scope = list(paths)
        if self.conversation_id is not None:
            self.history.set_scope(self.conversation_id, self.scope)
        self._update_scope_label()

    # -- conversations ---------------------------------------------------------------------
    def new_chat(self) -> None:
        self.stop()
        self._clear_messages()
        self.conversation_id = None
        self.scope = []
        self._update_scope_label()
        self.input.setFocus()

    def load_conversation(self, conversation_id: int) -> None:
        conv = self.history.get(conversation_id)
        if conv is None:
            return
        self.stop()
        self._clear_messages()
        self.conversation_id = conv.id
        self.scope = list(conv.scope)
        self._update_scope_label()
        for msg in self.history.messages(conv.id):
            w = self._add_message(msg.role, msg.content, model=msg.model)
            w.message_id = msg.id
            w.set_route(msg.model, msg.route)
            if msg.sources:
                w.set_evidence([s for s in msg.sources if s.get("evidence")])
                w.set_sources([s for s in msg.sources if not s.get("evidence")])
            w.set_actions_enabled(True)

    def _clear_messages(self) -> None:
        for w in self._messages:
            w.setParent(None)
            w.deleteLater()
        self._messages.clear()
        self._answer_widget = None
        self.empty_label.setVisible(True)

    def _add_message(self, role: str, text: str, model: str = "") -> MessageWidget:
        w = MessageWidget(role, text, library_paths=lambda: self.backend.library_paths,
                          opener=self.opener, model=model)
        w.copy_requested.connect(self.copy_answer)
        w.regenerate_requested.connect(lambda _w: self.regenerate())
        self.list_layout.insertWidget(self.list_layout.count() - 1, w)
        self._messages.append(w)
        self.empty_label.setVisible(False)
        return w

    def messages(self) -> list[MessageWidget]:
        return list(self._messages)

    # -- asking ----------------------------------------------------------------------------
    def send(self) -> None:
        question = self.input.toPlainText().strip()
        if not question or self.busy:
            return
        from rag.answering.answer import question_problem

        if problem := question_problem(question):  # too long, or not text: say so, keep it
            self.status_message.emit(problem)
            return
        self.input.clear()
        if self.conversation_id is None:
            conv = self.history.create(title_from_question(question), scope=self.scope)
            self.conversation_id = conv.id
        prior = self._history_for_model()
        msg = self.history.add_message(self.conversation_id, "user", question)
        w = self._add_message("user", question)
        w.message_id = msg.id
        self.conversation_changed.emit(self.conversation_id)
        self._ask(question, prior)

    def regenerate(self) -> None:
        """Drop the last answer and ask its question again."""
        if self.busy or not self._messages:
            return
        if self._messages[-1].role == "assistant":
            last = self._messages.pop()
            if last.message_id is not None:
                self.history.delete_message(last.message_id)
            last.setParent(None)
            last.deleteLater()
        if not self._messages or self._messages[-1].role != "user":
            return
        question = self._messages[-1].text()
        self._ask(question, self._history_for_model(exclude_last=1))

    def _history_for_model(self, exclude_last: int = 0) -> list[dict]:
        msgs = self._messages[: len(self._messages) - exclude_last] if exclude_last else self._messages
        turns = [{"role": m.role, "content": m.text()} for m in msgs
                 if m.text() and not getattr(m, "failed", False)]  # error text is not a turn
        return turns[-HISTORY_TURNS:]

    def _ask(self, question: str, prior: list[dict]) -> None:
        self._answer_widget = self._add_message("assistant", "")
        self._answer_widget.set_status("Searching your documents…")
        op = self.backend.ask(question, history=prior, paths=self.scope or None)
        op.text.connect(self._on_text)
        op.event.connect(self._on_event)
        op.succeeded.connect(self._on_answer)
        op.cancelled.connect(self._on_cancelled)
        op.failed.connect(self._on_failed)
        op.finished.connect(self._on_finished)
        self.op = op
        self.stop_button.setEnabled(True)
        self.send_button.setEnabled(False)
        self.busy_changed.emit(True)

    def stop(self) -> None:
        """Stop (or Esc): said at once, whatever stage the answer is in; the model stops within
        a fraction of a second, even while it reads a long prompt (inference.llama)."""
        if self.busy:
            assert self.op is not None
            self.op.cancel()
            self.stop_button.setEnabled(False)
            if self._answer_widget is not None:
                self._answer_widget.set_status("Stopping…")

    def _stopping(self) -> bool:
        return self.op is not None and self.op.cancel_token.cancelled

    def _on_text(self, delta: str) -> None:
        if self._answer_widget is not None:
            if not self._answer_widget.text() and not self._stopping():
                self._answer_widget.set_status("Writing…")
            self._answer_widget.append_text(delta)

    def _on_event(self, ev: object) -> None:
        w, kind = self._answer_widget, getattr(ev, "kind", "")
        if w is None or self._stopping():
            return
        if kind == "sources":
            w.set_sources(list(getattr(ev, "sources", [])))
        elif kind == "evidence":
            passages = list(getattr(ev, "evidence", []))
            w.set_evidence(passages)
            n = len(passages)
            w.set_status(f"Reading {n} passage{'s' if n != 1 else ''}…" if n else "Thinking…")

    def _on_answer(self, answer: object) -> None:
        w = self._answer_widget
        if w is None or answer is None:
            return
        w.set_text(display_markdown(answer) or w.text() or NOT_FOUND)
        sources = list(getattr(answer, "sources", []) or [])
        evidence = list(getattr(answer, "evidence", []) or [])
        w.set_sources(sources)
        if evidence:
            w.set_evidence(evidence)
        model = getattr(answer, "model", "")
        route = getattr(answer, "route_reason", "") or ""
        # One of "checked", "partly checked", "not confirmed": never a checked look for an answer
        # the verifier did not pass (its plain note is the status line's tooltip).
        from rag.answering.verify import VERDICT_NOTES

        said = answer.verdict
        w.set_status(model + f" · {said}"
                     + (" · stopped" if getattr(answer, "cancelled", False) else ""),
                     tooltip=VERDICT_NOTES[said])
        w.set_route(model, route)
        saved = [source_fields(s) for s in sources] + [
            {**evidence_fields(e), "evidence": True} for e in evidence]
        self._save_answer(w, saved, model, route)

    def _on_cancelled(self) -> None:
        w = self._answer_widget
        if w is None:
            return
        final = getattr(self.op, "result", None)
        if getattr(final, "answer", None) is not None:
            # The stream ended cleanly after Stop: keep its final answer (repetition trimmed,
            # citations marked), not the raw text streamed so far.
            self._on_answer(final)
            return
        w.set_status("stopped")
        self._save_answer(w, w.sources.sources(), self.backend.model_name)

    def _on_failed(self, message: str) -> None:
        w = self._answer_widget
        if w is not None:
            w.set_text(w.text() + ("\n\n" if w.text() else "") + f"**Could not answer:** {message}")
            w.set_status("error")
            w.failed = True
        self.status_message.emit(message)

    def _save_answer(self, w: MessageWidget, sources: list, model: str, route: str = "") -> None:
        if self.conversation_id is None:
            return
        data = [s if isinstance(s, dict) and s.get("evidence") else source_fields(s)
                for s in sources]
        msg = self.history.add_message(self.conversation_id, "assistant", w.text(), data, model,
                                       route)
        w.message_id = msg.id
        self.conversation_changed.emit(self.conversation_id)

    def _on_finished(self) -> None:
        if self._answer_widget is not None:
            self._answer_widget.set_actions_enabled(True)
        self.stop_button.setEnabled(False)
        self.send_button.setEnabled(True)
        self.busy_changed.emit(False)
        self.input.setFocus()

    # -- misc ------------------------------------------------------------------------------
    def copy_answer(self, widget: MessageWidget | None = None) -> str:
        """Copy the given (or the last) answer's Markdown to the clipboard."""
        if widget is None:
            answers = [m for m in self._messages if m.role == "assistant"]
            widget = answers[-1] if answers else None
        if widget is None:
            return ""
        QGuiApplication.clipboard().setText(widget.text())
        self.status_message.emit("Answer copied.")
        return widget.text()

    def _follow_bottom(self, _min: int, maximum: int) -> None:
        if self.busy:
            QTimer.singleShot(0, lambda: self.scroll.verticalScrollBar().setValue(maximum))
