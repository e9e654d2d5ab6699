"""The citations under an answer: file, page, snippet, score; activating one opens the file.

Opening goes through `open_source`, which only accepts files inside the library (checked by
`linkcheck.resolve_library_link`) and hands `(path, page, quote)` to an injectable opener (the
in-app source viewer by default), so tests can assert what would be opened without a viewer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from app.gui.linkcheck import file_url, resolve_library_link
from rag.loaders.ocr import is_ocr_text, strip_mark

# opener(path, page, quote="") -> None; `quote` is the passage to highlight. Openers written for
# the older two-argument form (path, page) still work: `call_opener` leaves the quote out.
Opener = Callable[..., object]


def takes_quote(opener: Callable[..., object]) -> bool:
    """Whether `opener` accepts a third positional argument (the quote)."""
    try:
        params = list(inspect.signature(opener).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: assume the new form
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


def call_opener(opener: Callable[..., object], path: str, page: int | None,
                quote: str = "") -> None:
    """Call an opener in the form it was written for (with or without the quote)."""
    if takes_quote(opener):
        opener(path, page, quote)
    else:
        opener(path, page)


def open_in_system_viewer(path: str, page: int | None = None, quote: str = "") -> bool:
    """Open a file with the desktop's default application. Returns False when the desktop has
    none (Qt then only logs a warning), so callers can tell the user. `quote` is not used:
    external viewers can't highlight, and most ignore the `#page=N` anchor too."""
    return bool(QDesktopServices.openUrl(QUrl(file_url(path, page))))


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

    opened = Signal(str, object)  # path, page - after the opener was called (quote: last_quote)
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
        self.last_quote = ""
        self.setColumnCount(5)
        self.setHeaderLabels(["#", "File", "Page", "Score", "Snippet"])
        self.headerItem().setToolTip(3, "How well the passage matches the question, 0 to 1: "
                                        "1 = the best match both in meaning and in words")
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Sources of this answer")
        self.setAccessibleDescription("Press Enter on a source to show it at its page, "
                                      "with the passage highlighted")
        # The snippet takes what is left after #, page and score; a long file name is elided
        # (its full path is in the tooltip) so the snippet is never pushed behind a sideways
        # scrollbar in a narrow chat column.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.header()
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(24)
        for col in (0, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.itemClicked.connect(lambda item, _col: self._open_item(item))
        self.itemActivated.connect(lambda item, _col: self._open_item(item))

    def set_sources(self, sources: list) -> None:
        self.clear()
        self._sources = [source_fields(s) for s in sources]
        for i, src in enumerate(self._sources, 1):
            n = src["n"] if src["n"] is not None else i
            src["n"] = n
            ocr = is_ocr_text(src["text"])
            snippet = ("(OCR) " if ocr else "") + " ".join(strip_mark(src["text"]).split())
            page = "" if src["page"] is None else str(src["page"])
            score = "" if src["score"] is None else f"{float(src['score']):.3f}"
            item = QTreeWidgetItem([f"[{n}]", Path(src["path"]).name, page, score,
                                    snippet[:160] + ("…" if len(snippet) > 160 else "")])
            item.setToolTip(1, src["path"])
            item.setToolTip(4, snippet[:600] + ("\n\nRecognised by OCR from a scanned page: it may "
                                                "contain errors." if ocr else ""))
            item.setData(0, Qt.ItemDataRole.UserRole, i - 1)
            self.addTopLevelItem(item)
        self._fit_file_column()
        rows = max(1, len(self._sources))
        self.setFixedHeight(self.header().sizeHint().height() + rows * (self.fontMetrics().height() + 8) + 6)
        self.setVisible(bool(self._sources))

    def _fit_file_column(self) -> None:
        """File names as wide as they need, but at most a quarter of the row."""
        names = [Path(s["path"]).name for s in self._sources] or ["File"]
        want = max(self.fontMetrics().horizontalAdvance(n) for n in names) + 16
        self.header().resizeSection(1, max(60, min(want, self.viewport().width() // 4)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_file_column()

    def sources(self) -> list[dict]:
        return list(self._sources)

    def open_number(self, n: int) -> bool:
        """Open source `[n]` at its page with its passage highlighted (what clicking a citation
        marker in the answer does)."""
        for src in self._sources:
            if src["n"] == n:
                return self.open_source(src["path"], src["page"], src["text"])
        return False

    def _open_item(self, item: QTreeWidgetItem) -> None:
        index = item.data(0, Qt.ItemDataRole.UserRole)
        if index is not None and 0 <= int(index) < len(self._sources):
            src = self._sources[int(index)]
            self.open_source(src["path"], src["page"], src["text"])

    def open_source(self, path: str, page: int | None, quote: str = "") -> bool:
        """Open `path` at `page` (a PDF page, slide or chapter number; None for whole-file
        formats) with `quote` highlighted. Refuses (False) any file outside the library."""
        resolved = resolve_library_link(file_url(path, page) if path else "", self._library_paths())
        if resolved is None:
            self.refused.emit(path)
            return False
        real, _ = resolved
        page_arg = int(page) if page is not None else None
        self.last_quote = quote or ""
        call_opener(self._opener, str(real), page_arg, self.last_quote)
        self.opened.emit(str(real), page_arg)
        return True
