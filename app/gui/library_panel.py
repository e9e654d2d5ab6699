"""The library: documents and their status, counts, add/remove/re-index, indexing progress.

Indexing requests go to `Backend.index`; progress arrives coalesced (one update per flush), so a
folder of thousands of files still costs the GUI ~25 redraws a second at most.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui import folders
from app.gui.backend import Backend
from app.gui.buttons import make_button
from app.gui.ops import Operation
from app.gui.watch_panel import WatchedFoldersView
from app.progress import describe, done_words
from rag.base.paths import is_under
from rag.ingest.plain_reasons import plain_reason

PROGRESS_STEPS = 1000
SUPPORTED = ("Documents (*.pdf *.docx *.odt *.epub *.pptx *.txt *.md *.markdown *.html *.htm "
             "*.rst *.csv *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)")


def eta_text(done: int, total: int, elapsed: float) -> str:
    """'ETA 12 s' from the rate so far; empty until there is something to extrapolate from."""
    if done <= 0 or total <= done or elapsed < 0.5:
        return ""
    remaining = elapsed / done * (total - done)
    if remaining < 90:
        return f"ETA {remaining:.0f} s"
    return f"ETA {remaining / 60:.0f} min"


class LibraryPanel(QWidget):
    status_message = Signal(str)
    notice = Signal(str)  # a job's end: shown until the next message, not for a few seconds

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self._ops: list[Operation] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Library</b>")
        layout.addWidget(title)
        self.counts_label = QLabel("Opening library…")
        self.counts_label.setAccessibleName("Library counts")
        self.counts_label.setWordWrap(True)
        layout.addWidget(self.counts_label)
        self.notice_label = QLabel()  # how the vectors were made, when re-indexing would help
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextFormat(Qt.TextFormat.RichText)
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.notice_label.linkActivated.connect(lambda _link: self.reindex_all())
        self.notice_label.setAccessibleName("Library notices")
        self.notice_label.setVisible(False)
        layout.addWidget(self.notice_label)

        self.stack = QStackedWidget()
        self.empty_label = QLabel(  # the chat column says "Drop documents here": not twice
            "<p><b>No documents yet.</b></p><p>Use <b>Add files…</b> (Ctrl+O) or "
            "<b>Add folder…</b> below. PDF, Word, OpenDocument, e-books, PowerPoint, HTML, "
            "Markdown, text and images are read.</p>")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setAccessibleName("Library is empty")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Document", "Status", "Chunks"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # the arrow says what is true
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setAccessibleName("Documents in the library")
        # The name takes the room left; Status is short plain words (the detail is in its
        # tooltip) and Chunks fits its numbers, so no column hides behind a sideways scrollbar.
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(1, self.fontMetrics().horizontalAdvance("Indexing  ") + 16)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.tree)
        layout.addWidget(self.stack, 1)
        self.reason_label = QLabel()  # why the selected document failed, in plain words
        self.reason_label.setWordWrap(True)
        self.reason_label.setAccessibleName("Why this document was not indexed")
        self.reason_label.setVisible(False)
        layout.addWidget(self.reason_label)

        buttons = QGridLayout()  # two rows of two: a narrow library panel keeps them whole
        self.add_button = self._button("Add files…", "Add files to the library (Ctrl+O)",
                                       self.add_files_dialog)
        self.add_folder_button = self._button("Add folder…", "Add a folder to the library",
                                              self.add_folder_dialog)
        self.remove_button = self._button("Remove", "Remove the selected documents (Delete)",
                                          self.remove_selected)
        self.reindex_button = self._button("Re-index", "Index the selected documents again",
                                           self.reindex_selected)
        for i, b in enumerate((self.add_button, self.add_folder_button, self.remove_button,
                               self.reindex_button)):
            buttons.addWidget(b, i // 2, i % 2)
        layout.addLayout(buttons)

        self.progress_box = QWidget()
        pl = QVBoxLayout(self.progress_box)
        pl.setContentsMargins(0, 0, 0, 0)
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Indexing progress")
        self._last = None  # the latest IndexProgress shown
        self._step: tuple = ()
        self._step_started = time.monotonic()
        self._ticker = QTimer(self, interval=1000)
        self._ticker.timeout.connect(self._tick)
        self.progress_label = QLabel()
        self.progress_label.setAccessibleName("Indexing details")
        self.progress_label.setWordWrap(True)
        self.cancel_button = self._button("Cancel indexing", "Stop indexing (already indexed "
                                          "files stay)", self.cancel_indexing)
        row = QHBoxLayout()
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        pl.addLayout(row)
        pl.addWidget(self.progress_label)
        self.progress_box.setVisible(False)
        layout.addWidget(self.progress_box)

        self.watched = WatchedFoldersView(backend.watch)
        self.watched.status_message.connect(self.status_message)
        layout.addWidget(self.watched)

        backend.documents_changed.connect(self.set_documents)
        backend.library_notices.connect(self.set_notices)
        backend.indexing_started.connect(self.track)
        backend.library_failed.connect(lambda msg: self.counts_label.setText(f"⚠ {msg}"))
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        return make_button(text, tip, slot)

    # -- documents -------------------------------------------------------------------------
    def set_documents(self, docs: list) -> None:
        selected = set(self.selected_paths())
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        chunks = 0
        by_status: dict[str, int] = {}
        for d in docs:
            chunks += d.chunks or 0
            by_status[d.status] = by_status.get(d.status, 0) + 1
            # Plain words first ("This PDF is damaged or incomplete."), the recorded technical
            # reason under it in the tooltip.
            plain = plain_reason(d.reason)
            tip = d.status.capitalize() + (f": {plain}\n\nDetail: {d.reason}" if plain else "")
            # The file name is what the user recognises (and what citations show); title in tooltip.
            item = _Row([Path(d.path).name, d.status.capitalize(), str(d.chunks or 0)])
            item.setData(0, Qt.ItemDataRole.UserRole, d.path)
            item.setToolTip(0, (f"{d.title}\n{d.path}" if d.title else d.path)
                            + (f"\n\n{plain}" if plain else ""))
            item.setToolTip(1, tip)
            item.setData(1, Qt.ItemDataRole.UserRole, plain)
            item.setData(2, Qt.ItemDataRole.DisplayRole, int(d.chunks or 0))
            self.tree.addTopLevelItem(item)
            if d.path in selected:
                item.setSelected(True)
        self.tree.setSortingEnabled(True)
        self.stack.setCurrentWidget(self.tree if docs else self.empty_label)
        parts = [f"{len(docs)} document{'s' if len(docs) != 1 else ''}", f"{chunks} chunks"]
        for key in ("indexed", "pending", "indexing", "skipped", "failed"):
            if by_status.get(key) and key != "indexed":
                parts.append(f"{by_status[key]} {key}")
        self.counts_label.setText(" · ".join(parts))
        self._update_buttons()

    def set_notices(self, notices: list[str]) -> None:
        """Each notice is answered by re-indexing everything: one link does it."""
        text = "<br>".join(f"<b>Note:</b> {html.escape(n)}" for n in notices)
        self.notice_label.setText(f'{text} <a href="reindex">Re-index all documents</a>'
                                  if notices else "")
        self.notice_label.setVisible(bool(notices))

    def selected_paths(self) -> list[str]:
        return [i.data(0, Qt.ItemDataRole.UserRole) for i in self.tree.selectedItems()]

    def _update_buttons(self) -> None:
        items = self.tree.selectedItems()
        has = bool(items)
        plain = items[0].data(1, Qt.ItemDataRole.UserRole) if len(items) == 1 else ""
        name = html.escape(items[0].text(0)) if plain else ""
        self.reason_label.setText(f"<b>{name}</b>: {html.escape(plain)}" if plain else "")
        self.reason_label.setToolTip(items[0].toolTip(1) if plain else "")
        self.reason_label.setVisible(bool(plain))
        self.remove_button.setEnabled(has)
        self.reindex_button.setEnabled(has)

    # -- actions ---------------------------------------------------------------------------
    def add_paths(self, paths: list[str]) -> Operation | None:
        paths = [p for p in paths if p]
        if not paths:
            return None
        return self.backend.index(paths)

    def add_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", folders.start_folder(),
                                                SUPPORTED)
        if files:
            folders.picked(files[0])
        self.add_paths(files)

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", folders.start_folder())
        if folder:
            folders.picked(folder)
            self.add_paths([folder])

    def remove_selected(self, confirm: bool = True) -> Operation | None:
        """Forget the selected documents, once the user confirms (Remove is not undoable)."""
        paths = self.selected_paths()
        if not paths or (confirm and not self._confirm_remove(paths)):
            return None
        op = self.backend.forget(paths)
        watched = [f.path for f in self.backend.watch.folders
                   if any(is_under(p, f.path) for p in paths)]
        note = (" They stay out of their watched folder until you add them again."
                if watched else "")
        op.succeeded.connect(lambda n: self.notice.emit(f"Removed {n} document(s).{note}"))
        op.failed.connect(self.status_message)
        return op

    def _confirm_remove(self, paths: list[str]) -> bool:
        what = Path(paths[0]).name if len(paths) == 1 else f"these {len(paths)} documents"
        box = QMessageBox(QMessageBox.Icon.Question, "Remove from the library",
                          f"Remove {what} from the library?", parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # a file name is text, never markup
        box.setInformativeText("Hearth erases their text and vectors from its library. The "
                               "files themselves stay where they are on your disk.")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.setObjectName("confirmRemove")
        box.exec()
        return box.clickedButton() is remove

    def reindex_selected(self) -> Operation | None:
        paths = self.selected_paths()
        return self.backend.reindex(paths) if paths else None

    def reindex_all(self) -> Operation | None:
        paths = [d.path for d in self.backend.documents]
        return self.backend.reindex(paths) if paths else None

    # -- progress --------------------------------------------------------------------------
    def track(self, op: Operation) -> None:
        """Show an indexing operation's progress until it (and any queued after it) ends."""
        self._ops.append(op)
        op.progress.connect(lambda p, o=op: self._on_progress(o, p))
        op.succeeded.connect(self._on_report)
        op.failed.connect(lambda msg: self.status_message.emit(f"Indexing failed: {msg}"))
        op.cancelled.connect(lambda: self.status_message.emit("Indexing cancelled."))
        op.finished.connect(lambda o=op: self._on_finished(o))
        self.progress_box.setVisible(True)
        self.progress_bar.setRange(0, 0)  # busy until the first report
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        self.cancel_button.setEnabled(True)

    def _on_progress(self, op: Operation, p: object) -> None:
        if isinstance(p, str):
            self.progress_label.setText(p)
            return
        if not hasattr(p, "fraction"):
            return
        if p.stage == "finding files" or not p.files_total:
            self.progress_bar.setRange(0, 0)  # busy: the job is still being weighed
        else:  # the whole job's fraction: weighed first, so it only moves forward
            self.progress_bar.setRange(0, PROGRESS_STEPS)
            value = int(p.fraction * PROGRESS_STEPS)
            self.progress_bar.setValue(max(value, self.progress_bar.value()))
        if (p.current, p.stage, p.pages_done) != self._step:  # something moved: a new clock
            self._step = (p.current, p.stage, p.pages_done)
            self._step_started = time.monotonic()
        self._last = p
        self.progress_label.setText(describe(p))
        if not self._ticker.isActive():
            self._ticker.start()

    def _tick(self) -> None:
        """Once a second while a job runs: a long step (OCR of one image, a big page) shows its
        seconds, so the line moves even when no page has finished yet."""
        p = self._last
        if p is None or not self.progress_box.isVisible():
            self._ticker.stop()
            return
        waited = time.monotonic() - self._step_started
        if waited >= 3 and p.stage not in ("done", "cancelled"):
            self.progress_label.setText(f"{describe(p)} · {waited:.0f} s on this step")

    def _on_report(self, report: object) -> None:
        if report is None or not hasattr(report, "count"):
            return
        self.notice.emit(done_words(report))

    def _on_finished(self, op: Operation) -> None:
        if op in self._ops:
            self._ops.remove(op)
        if not any(not o.done for o in self._ops):
            self.progress_box.setVisible(False)

    def cancel_indexing(self) -> None:
        for op in self._ops:
            op.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")

    @property
    def indexing(self) -> bool:
        return any(not o.done for o in self._ops)


class _Row(QTreeWidgetItem):
    """A document row that sorts as people read: names without regard to case and with numbers
    in number order ("ch2" before "ch10"), chunks as numbers."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        column = tree.sortColumn() if tree is not None else 0
        if column == 2:
            return int(self.data(2, Qt.ItemDataRole.DisplayRole) or 0) < \
                int(other.data(2, Qt.ItemDataRole.DisplayRole) or 0)
        return _natural(self.text(column)) < _natural(other.text(column))


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", text.casefold()) if part]
