"""Watched folders in the Library panel: add, remove (keep or forget documents), pause, and the
state of each folder (watching / polling / paused / missing) with its notice.

Every action goes through `WatchControl` (an Operation on the watch lane); the list is redrawn
from the folder lists the control emits, so it also follows changes the watcher finds by itself
(a folder unplugged, or back).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from app.gui import folders
from app.gui.buttons import headed_column, make_button
from app.gui.ops import Operation
from app.gui.watch_control import WatchControl

STATE_TEXT = {"watching": "watching", "polling": "polling ⚠", "paused": "paused",
              "missing": "missing ⚠", "idle": "starting…"}
KEEP, FORGET = "keep", "forget"


class WatchedFoldersView(QWidget):
    status_message = Signal(str)

    def __init__(self, control: WatchControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.control = control
        layout = headed_column(self, "<b>Watched folders</b> — kept in sync while Hearth runs", 0)
        self.list = QTreeWidget()
        self.list.setColumnCount(2)
        self.list.setHeaderLabels(["Folder", "State"])
        self.list.setRootIsDecorated(False)
        self.list.setAccessibleName("Watched folders")
        self.list.setMaximumHeight(110)
        header = self.list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.list)
        self.empty_label = QLabel("No watched folders. <b>Watch folder…</b> keeps a folder's "
                                  "documents in sync: new, changed, moved and deleted files.")
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)
        layout.addWidget(self.empty_label)
        self.notice_label = QLabel()
        self.notice_label.setWordWrap(True)
        self.notice_label.setAccessibleName("Watched folder notices")
        self.notice_label.setVisible(False)
        layout.addWidget(self.notice_label)

        row = QHBoxLayout()
        self.watch_button = self._button("Watch folder…", "Keep a folder in sync with the "
                                         "library", lambda: self.add_folder())
        self.remove_button = self._button("Stop watching…", "Stop watching the selected folder",
                                          lambda: self.remove_selected())
        self.pause_button = self._button("Pause", "Pause or resume syncing the selected folder",
                                         self.toggle_pause)
        self.forget_button = self._button("Forget its documents", "The folder is missing: remove "
                                          "its documents from the library",
                                          lambda: self.forget_missing())
        for b in (self.watch_button, self.remove_button, self.pause_button, self.forget_button):
            row.addWidget(b)
        layout.addLayout(row)

        control.folders_changed.connect(self.set_folders)
        control.running_changed.connect(lambda _r: self._update_buttons())
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.set_folders(control.folders)

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        return make_button(text, tip, slot)

    # -- display ---------------------------------------------------------------------------
    def set_folders(self, folders: list) -> None:
        selected = self.selected_path()
        self.list.clear()
        notices = []
        for f in folders:
            item = QTreeWidgetItem([Path(f.path).name or f.path, STATE_TEXT.get(f.state, f.state)])
            item.setData(0, Qt.ItemDataRole.UserRole, f.path)
            item.setData(1, Qt.ItemDataRole.UserRole, f.state)
            kept_out = list(getattr(f, "excluded", []) or [])
            item.setToolTip(0, f.path + ("\n\nKept out (you removed them; add them again to "
                                         "include them):\n" + "\n".join(kept_out)
                                         if kept_out else ""))
            item.setToolTip(1, f.notice or f.state)
            self.list.addTopLevelItem(item)
            if f.path == selected:
                item.setSelected(True)
                self.list.setCurrentItem(item)
            if f.notice:
                notices.append(f"⚠ <b>{_html(Path(f.path).name)}</b>: {_html(f.notice)}")
        self.list.setVisible(bool(folders))
        self.empty_label.setVisible(not folders)
        self.notice_label.setText("<br>".join(notices))
        self.notice_label.setVisible(bool(notices))
        self._update_buttons()

    def selected_path(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def selected_state(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(1, Qt.ItemDataRole.UserRole) if items else None

    def rows(self) -> list[tuple[str, str]]:
        """(path, state) per listed folder (tests, accessibility checks)."""
        return [(self.list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole),
                 self.list.topLevelItem(i).data(1, Qt.ItemDataRole.UserRole))
                for i in range(self.list.topLevelItemCount())]

    def select(self, path: str) -> None:
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == path)

    def _update_buttons(self) -> None:
        running = self.control.running
        state = self.selected_state()
        self.watch_button.setEnabled(running)
        self.remove_button.setEnabled(running and state is not None)
        self.pause_button.setEnabled(running and state is not None and state != "missing")
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.forget_button.setVisible(state == "missing")
        self.forget_button.setEnabled(running and state == "missing")

    # -- actions ---------------------------------------------------------------------------
    def add_folder(self, path: str | None = None) -> Operation | None:
        if path is None:
            path = QFileDialog.getExistingDirectory(self, "Watch a folder", folders.start_folder())
            folders.picked(path)
        if not path:
            return None
        op = self.control.add(path)
        op.succeeded.connect(lambda _f: self.status_message.emit(
            f"Watching {path}; its documents are being indexed."))
        op.failed.connect(self.status_message)
        return op

    def remove_selected(self, choice: str | None = None) -> Operation | None:
        """Stop watching the selected folder. `choice` ("keep"/"forget") skips the question."""
        path = self.selected_path()
        if path is None:
            return None
        if choice is None:
            choice = self._ask_keep_or_forget(path)
        if choice not in (KEEP, FORGET):
            return None
        op = self.control.remove(path, forget=choice == FORGET)
        done = ("Stopped watching {p} and removed its documents." if choice == FORGET
                else "Stopped watching {p}; its documents stay in the library.")
        op.succeeded.connect(lambda _f: self.status_message.emit(done.format(p=path)))
        op.failed.connect(self.status_message)
        return op

    def _ask_keep_or_forget(self, path: str) -> str | None:
        box = QMessageBox(QMessageBox.Icon.Question, "Stop watching",
                          f"Stop watching {path}?", parent=self)
        box.setInformativeText("Its files on disk are never touched. Choose whether its "
                               "documents stay searchable in Hearth.")
        forget = box.addButton("Remove and forget its documents",
                               QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Stop watching, keep documents", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return FORGET if clicked is forget else KEEP if clicked is keep else None

    def toggle_pause(self) -> Operation | None:
        path, state = self.selected_path(), self.selected_state()
        if path is None or state == "missing":
            return None
        return self.control.set_paused(path, state != "paused")

    def forget_missing(self, confirm: bool = True) -> Operation | None:
        """A missing folder's documents are kept until the user says so: this is that."""
        path = self.selected_path()
        if path is None or self.selected_state() != "missing":
            return None
        if confirm and QMessageBox.question(
                self, "Forget documents",
                f"{path} is missing. Remove its documents from the library and stop watching "
                "it?") != QMessageBox.StandardButton.Yes:
            return None
        return self.remove_selected(FORGET)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
