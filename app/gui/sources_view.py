"""The citations under an answer: file, page, snippet, score; activating one opens the file.

Opening goes through `open_source`, which only accepts files inside the library (checked by
`linkcheck.resolve_library_link`) and hands `(path, page)` to an injectable opener, so tests can
assert what would be opened without launching a viewer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from app.gui.linkcheck import file_url, resolve_library_link

Opener = Callable[[str, "int | None"], None]


def open_in_system_viewer(path: str, page: int | None) -> None:
    """Open a file with the desktop's default viewer; PDFs at `page` when the viewer honours
    `#page=N` anchors."""
    QDesktopServices.openUrl(QUrl(file_url(path, page)))


def source_fields(src: object) -> dict:
    """Normalise a source (core object or the dict saved in history) to plain fields."""
    if isinstance(src, dict):
        get = src.get
    else:
        def get(key, default=None):
            return getattr(src, key, default)
    text = get("text", "") or ""
    return {
        "n": get("n", None),
        "path": str(get("path", "") or ""),
        "page": get("page", None),
        "score": get("score", None),
        "text": text,
    }


class SourcesView(QTreeWidget):
    """A compact list of numbered sources; Enter, double-click or single click opens one."""

    opened = Signal(str, object)  # path, page - after the opener was called
    refused = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        library_paths: Callable[[], set[str]] | None = None,
        opener: Opener | None = None,
    ) -> None:
        super().__init__(parent)
        self._library_paths = library_paths or (lambda: set())
        self._opener = opener or open_in_system_viewer
        self._sources: list[dict] = []
        self.setColumnCount(5)
        self.setHeaderLabels(["#", "File", "Page", "Score", "Snippet"])
        self.headerItem().setToolTip(3, "How well the passage matches the question, 0 to 1: "
                                        "1 = the best match both in meaning and in words")
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Sources of this answer")
        self.setAccessibleDescription("Press Enter on a source to open the file at that page")
        header = self.header()
        header.setStretchLastSection(True)
        for col in range(4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.itemClicked.connect(lambda item, _col: self._open_item(item))
        self.itemActivated.connect(lambda item, _col: self._open_item(item))

    def set_sources(self, sources: list) -> None:
        self.clear()
        self._sources = [source_fields(s) for s in sources]
        for i, src in enumerate(self._sources, 1):
            n = src["n"] if src["n"] is not None else i
            src["n"] = n
            snippet = " ".join(src["text"].split())
            page = "" if src["page"] is None else str(src["page"])
            score = "" if src["score"] is None else f"{float(src['score']):.3f}"
            item = QTreeWidgetItem([f"[{n}]", Path(src["path"]).name, page, score,
                                    snippet[:160] + ("…" if len(snippet) > 160 else "")])
            item.setToolTip(1, src["path"])
            item.setToolTip(4, snippet[:600])
            item.setData(0, Qt.ItemDataRole.UserRole, i - 1)
            self.addTopLevelItem(item)
        rows = max(1, len(self._sources))
        self.setFixedHeight(self.header().sizeHint().height() + rows * (self.fontMetrics().height() + 8) + 6)
        self.setVisible(bool(self._sources))

    def sources(self) -> list[dict]:
        return list(self._sources)

    def open_number(self, n: int) -> bool:
        """Open source `[n]` (what clicking a citation marker in the answer does)."""
        for src in self._sources:
            if src["n"] == n:
                return self.open_source(src["path"], src["page"])
        return False

    def _open_item(self, item: QTreeWidgetItem) -> None:
        index = item.data(0, Qt.ItemDataRole.UserRole)
        if index is not None and 0 <= int(index) < len(self._sources):
            src = self._sources[int(index)]
            self.open_source(src["path"], src["page"])

    def open_source(self, path: str, page: int | None) -> bool:
        resolved = resolve_library_link(file_url(path, page) if path else "", self._library_paths())
        if resolved is None:
            self.refused.emit(path)
            return False
        real, _ = resolved
        page_arg = page if str(real).lower().endswith(".pdf") else None
        self._opener(str(real), page_arg)
        self.opened.emit(str(real), page_arg)
        return True
