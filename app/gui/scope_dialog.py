"""Choose which documents or folders a chat searches (the `paths=` of search/answer)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.gui.buttons import StandardButton, dialog_buttons


def folders_of(paths: list[str]) -> list[str]:
    """The distinct parent folders of the documents, shortest first."""
    return sorted({str(Path(p).parent) for p in paths}, key=lambda f: (f.count(os.sep), f))


class ScopeDialog(QDialog):
    """A checkable tree: folders at the top level, their documents beneath."""

    def __init__(self, documents: list[str], selected: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Limit this chat")
        self.setAccessibleName("Limit this chat to documents or folders")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Answer only from the checked folders or documents "
                                "(nothing checked = the whole library)."))
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Folder / document"])
        self.tree.setAccessibleName("Folders and documents")
        chosen = set(selected)
        for folder in folders_of(documents):
            top = QTreeWidgetItem([folder])
            top.setData(0, Qt.ItemDataRole.UserRole, folder)
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            top.setCheckState(0, Qt.CheckState.Checked if folder in chosen
                              else Qt.CheckState.Unchecked)
            for doc in sorted(p for p in documents if str(Path(p).parent) == folder):
                child = QTreeWidgetItem([Path(doc).name])
                child.setToolTip(0, doc)
                child.setData(0, Qt.ItemDataRole.UserRole, doc)
                child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                child.setCheckState(0, Qt.CheckState.Checked if doc in chosen
                                    else Qt.CheckState.Unchecked)
                top.addChild(child)
            self.tree.addTopLevelItem(top)
        self.tree.expandAll()
        layout.addWidget(self.tree, 1)
        dialog_buttons(self, layout, StandardButton.Ok, StandardButton.Cancel)
        self.resize(520, 420)

    def items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out.append(top)
            out.extend(top.child(j) for j in range(top.childCount()))
        return out

    def selected_paths(self) -> list[str]:
        """Checked folders, plus checked documents not already covered by a checked folder."""
        picked: list[str] = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.checkState(0) == Qt.CheckState.Checked:
                picked.append(top.data(0, Qt.ItemDataRole.UserRole))
                continue
            for j in range(top.childCount()):
                child = top.child(j)
                if child.checkState(0) == Qt.CheckState.Checked:
                    picked.append(child.data(0, Qt.ItemDataRole.UserRole))
        return picked
