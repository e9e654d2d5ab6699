"""The sidebar of saved conversations: list, text search, rename, delete, export."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QWidget,
)

from app.gui.buttons import headed_column, make_button
from app.history import History


class HistoryPanel(QWidget):
    conversation_selected = Signal(int)
    conversation_deleted = Signal(int)
    new_chat_requested = Signal()

    def __init__(self, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        layout = headed_column(self, "<b>Chats</b>", 4)
        self.new_button = make_button("New chat", "Start a new chat (Ctrl+N)",
                                      self.new_chat_requested)
        layout.addWidget(self.new_button)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats…")
        self.search.setAccessibleName("Search chats")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=150)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setAccessibleName("Saved chats")
        # Long titles end in "…" (the full title is the tooltip), not in a sideways scrollbar.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.itemActivated.connect(self._activate)
        self.list.itemClicked.connect(self._activate)
        layout.addWidget(self.list, 1)
        self.empty_label = QLabel("No chats yet. Your conversations are saved here.")
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)
        layout.addWidget(self.empty_label)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        self.rename_button = self._button("Rename…", "Rename the selected chat (F2)", self.rename_selected)
        self.delete_button = self._button("Delete", "Delete the selected chat", self.delete_selected)
        self.export_md_button = self._button("Export .md…", "Export the chat as Markdown",
                                             lambda: self.export_selected("md"))
        self.export_json_button = self._button("Export .json…", "Export the chat as JSON",
                                               lambda: self.export_selected("json"))
        row1.addWidget(self.rename_button)
        row1.addWidget(self.delete_button)
        row2.addWidget(self.export_md_button)
        row2.addWidget(self.export_json_button)
        layout.addLayout(row1)
        layout.addLayout(row2)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.refresh()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        return make_button(text, tip, slot)

    def stop_timers(self) -> None:
        self._search_timer.stop()

    def refresh(self, select: int | None = None) -> None:
        current = select if select is not None else self.selected_id()
        self.list.blockSignals(True)
        self.list.clear()
        for conv in self.history.list(self.search.text()):
            item = QListWidgetItem(conv.title)
            item.setData(Qt.ItemDataRole.UserRole, conv.id)
            item.setToolTip(conv.title)
            self.list.addItem(item)
            if conv.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.empty_label.setVisible(self.list.count() == 0)
        if self.search.text() and self.list.count() == 0:
            self.empty_label.setText("No chat contains that text.")
        else:
            self.empty_label.setText("No chats yet. Your conversations are saved here.")
        self._update_buttons()

    def selected_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def ids(self) -> list[int]:
        return [int(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())]

    def _update_buttons(self) -> None:
        has = self.selected_id() is not None
        for b in (self.rename_button, self.delete_button, self.export_md_button,
                  self.export_json_button):
            b.setEnabled(has)

    def _activate(self, item: QListWidgetItem) -> None:
        self.conversation_selected.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def rename_selected(self, title: str | None = None) -> None:
        cid = self.selected_id()
        if cid is None:
            return
        if title is None:
            conv = self.history.get(cid)
            title, ok = QInputDialog.getText(self, "Rename chat", "Title:",
                                             text=conv.title if conv else "")
            if not ok:
                return
        self.history.rename(cid, title)
        self.refresh(select=cid)

    def delete_selected(self, confirm: bool = True) -> None:
        cid = self.selected_id()
        if cid is None:
            return
        if confirm and QMessageBox.question(self, "Delete chat", "Delete this chat for good?") \
                != QMessageBox.StandardButton.Yes:
            return
        self.history.delete(cid)
        self.refresh()
        self.conversation_deleted.emit(cid)

    def export_selected(self, fmt: str, path: str | None = None) -> Path | None:
        cid = self.selected_id()
        if cid is None:
            return None
        if path is None:
            conv = self.history.get(cid)
            stem = "".join(c for c in (conv.title if conv else "chat") if c.isalnum() or c in " -_")
            filt = "Markdown (*.md)" if fmt == "md" else "JSON (*.json)"
            path, _ = QFileDialog.getSaveFileName(self, "Export chat",
                                                  f"{stem.strip() or 'chat'}.{fmt}", filt)
            if not path:
                return None
        out = Path(path)
        text = (self.history.export_markdown(cid) if fmt == "md" else
                json.dumps(self.history.export_json(cid), indent=2, ensure_ascii=False))
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:  # read-only folder, full disk: say so instead of a silent traceback
            QMessageBox.warning(self, "Export chat", f"Could not write {out}: {exc.strerror or exc}")
            return None
        return out
