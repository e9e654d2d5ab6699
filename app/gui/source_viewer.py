"""See the source inside Hearth: the cited page, the evidence passage highlighted.

Why in-app: desktop PDF viewers opened through the system ignore `#page=N`, and on machines with
no default application nothing happened at all. Here a PDF page is rendered with pypdfium2 (off
the GUI thread, see page_worker.py) with the quote's character boxes highlighted; other formats
show their indexed text scrolled to the passage. "Open in default app" and "Show in folder" stay
as secondary actions and say so when the desktop can't do them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QThread, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QColor, QKeySequence, QTextCursor
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QTextEdit,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.gui.page_canvas import PageCanvas
from app.gui.page_worker import PageJob, PageResult, PageWorker, kind_of
from app.gui.quote_locate import locate

ZOOM_STEP = 1.25
VIEWER_SIZE = (820, 900)  # preferred; less where the screen is smaller
PAGE_WORDS = {".pptx": "Slide", ".epub": "Chapter", ".odt": "Section"}


class SourceViewer(QWidget):
    """A window showing one source. `show_source(path, page, quote)` is the app's opener."""

    shown = Signal(object)  # the PageResult now on screen (tests and accessibility wait on it)
    message_shown = Signal(str)
    _job = Signal(object)
    _open_failed = Signal(str)  # from the launcher's waiting thread (app/gui/desktop_open.py)

    def __init__(self, parent: QWidget | None = None, *,
                 system_open: Callable[[QUrl], bool] | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Source — Hearth")
        self.setAccessibleName("Source viewer")
        from app.gui.screen_fit import fit_to_screen

        fit_to_screen(self, *VIEWER_SIZE)
        from app.gui.desktop_open import open_url

        self._system_open = system_open or (lambda url: open_url(url, self._open_failed.emit))
        self._open_failed.connect(self._say_open_failed)
        self._opening = ""  # what the last open asked for, for the message if it fails later
        self.path, self.kind, self.page, self.quote = "", "", None, ""
        self.page_count = 0
        self.zoom = 0.0  # 0 = fit the page to the window's width
        self.result: PageResult | None = None
        self._seq = 0
        self._text_offsets: dict[int | None, int] = {}

        self.toolbar = QToolBar("Source")
        self.prev_action = self._add(self.toolbar, "◀ Previous", "Ctrl+PgUp", lambda: self.go(-1))
        self.page_box = QSpinBox()
        self.page_box.setAccessibleName("Page number")
        self.page_box.setMinimum(1)
        self.page_box.setMinimumWidth(self.fontMetrics().horizontalAdvance("Chapter 0000") + 30)
        self.page_box.editingFinished.connect(lambda: self.show_page(self.page_box.value()))
        self.toolbar.addWidget(self.page_box)
        self.count_label = QLabel("")
        self.count_label.setMinimumWidth(self.fontMetrics().horizontalAdvance(" of 00000 "))
        self.toolbar.addWidget(self.count_label)
        self.next_action = self._add(self.toolbar, "Next ▶", "Ctrl+PgDown", lambda: self.go(1))
        self.toolbar.addSeparator()
        self._add(self.toolbar, "−", QKeySequence.StandardKey.ZoomOut, lambda: self.zoom_by(1 / ZOOM_STEP))
        self._add(self.toolbar, "+", QKeySequence.StandardKey.ZoomIn, lambda: self.zoom_by(ZOOM_STEP))
        self._add(self.toolbar, "Fit width", "Ctrl+0", self.fit_width)
        self.toolbar.addSeparator()
        self.find_box = QLineEdit()
        self.find_box.setPlaceholderText("Find in page (Ctrl+F)")
        self.find_box.setAccessibleName("Find in page")
        self.find_box.setClearButtonEnabled(True)
        self.find_box.setMaximumWidth(220)
        self.find_box.returnPressed.connect(lambda: self.find_next(self.find_box.text()))
        self.find_box.textChanged.connect(self._find_changed)
        self.toolbar.addWidget(self.find_box)
        self._add(self, "Find", QKeySequence.StandardKey.Find, self._focus_find)
        self._add(self, "Find next", QKeySequence.StandardKey.FindNext,
                  lambda: self.find_next(self.find_box.text()))
        self.toolbar.addSeparator()
        self.open_action = self._add(self.toolbar, "Open in default app", None, self.open_external)
        self.folder_action = self._add(self.toolbar, "Show in folder", None, self.show_in_folder)
        self.close_action = self._add(self, "Close", QKeySequence.StandardKey.Close, self.close)
        self.escape_action = self._add(self, "Close or clear the search", "Esc", self._escape)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Viewer message")
        self.message.setStyleSheet("padding: 4px 8px; background: palette(alternate-base);")
        self.message.setVisible(False)
        self.canvas = PageCanvas()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.canvas)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.scroll.setAccessibleName("Page view")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Document text")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.scroll)
        self.stack.addWidget(self.text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for w in (self.toolbar, self.message, self.stack):
            layout.addWidget(w)
        self.stack.setMinimumHeight(200)

        self._resize_timer = QTimer(self, singleShot=True, interval=150)
        self._resize_timer.timeout.connect(self._rerender)
        self.scroll.viewport().installEventFilter(self)
        self._thread = QThread(self)
        self._thread.setObjectName("hearth-page-render")
        self._worker = PageWorker()
        self._worker.moveToThread(self._thread)
        self._job.connect(self._worker.run)
        self._worker.done.connect(self._on_done)
        self._thread.start()

    def _add(self, owner, text: str, shortcut, slot) -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({QKeySequence(shortcut).toString()})")
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        owner.addAction(action)
        return action

    def _escape(self) -> None:
        """Esc clears a search being typed, else closes the viewer (as Ctrl+W does)."""
        if self.focusWidget() is self.find_box and self.find_box.text():
            self.find_box.clear()
        else:
            self.close()

    # -- the opener --------------------------------------------------------------------------
    def show_source(self, path: str, page: int | None = None, quote: str = "") -> None:
        """Show `path` at `page` with `quote` highlighted; returns at once (rendering is async)."""
        self.path, self.kind, self.page, self.quote = str(path), kind_of(str(path)), page, quote
        self._quote_page = page
        self.setWindowTitle(f"{Path(path).name} — Hearth")
        self.find_box.clear()
        self._find_text = ""
        self.message.setVisible(False)
        self.show()
        self.raise_()
        self.activateWindow()
        self._request(page)

    def show_page(self, number: int) -> None:
        if not self.path or number == self.page:
            return
        self.page = number
        if self.kind == "text":
            self._scroll_text_to_page(number)
        else:
            self._request(number)

    def go(self, step: int) -> None:
        if self.page_count:
            self.show_page(min(max(1, (self.page or 1) + step), self.page_count))

    def zoom_by(self, factor: float) -> None:
        if self.kind == "text":
            (self.text.zoomIn if factor > 1 else self.text.zoomOut)(1)
            return
        current = self.zoom or (self.result.scale if self.result else 1.0)
        self.zoom = min(8.0, max(0.2, current * factor))
        self._request(self.page)

    def fit_width(self) -> None:
        self.zoom = 0.0
        if self.kind != "text":
            self._request(self.page)

    def find_next(self, text: str) -> None:
        """Ctrl+F: the next match on this page, then on the following pages."""
        text = text.strip()
        if not text or not self.path:
            return
        if self.kind == "text":
            if not (self.text.find(text) or self._wrap_text_find(text)):
                self.show_message(f"“{text}” is not in this document.")
            return
        if self.kind != "pdf" or self.result is None:
            return
        r = self.result
        if r.finds and self._find_text == text and self.canvas.current_find + 1 < len(r.finds):
            self.canvas.set_marks(r.highlights, r.finds, self.canvas.current_find + 1)
            self._reveal(r.finds[self.canvas.current_find])
            return
        start = (r.page or 1) + (1 if self._find_text == text and r.finds else 0)
        self._find_text = text
        self._request(r.page, find=text, find_from=(start - 1) % max(1, self.page_count) + 1)

    _find_text = ""
    _searching = False
    _quote_page: int | None = None

    # -- secondary actions -----------------------------------------------------------------
    def open_external(self) -> bool:
        if not self.path:
            return False
        self._opening = (f"Could not open “{Path(self.path).name}” in another application: "
                         "{reason}. The file is at " + self.path)
        ok = bool(self._system_open(QUrl.fromLocalFile(self.path)))
        if not ok:
            self._say_open_failed("this system has no default application for this kind of "
                                  "file, or it could not be started")
        return ok

    def show_in_folder(self) -> bool:
        if not self.path:
            return False
        folder = str(Path(self.path).parent)
        self._opening = "Could not show the folder: {reason}. The file is in " + folder
        ok = bool(self._system_open(QUrl.fromLocalFile(folder)))
        if not ok:
            self._say_open_failed("no file manager could be started")
        return ok

    def _say_open_failed(self, reason: str) -> None:
        self.show_message(self._opening.replace("{reason}", reason, 1))

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(True)
        self.message_shown.emit(text)

    def highlight_rects(self) -> list[tuple[float, float, float, float]]:
        """The highlighted quote on the shown PDF page, in PDF points (left, bottom, right, top)."""
        return list(self.canvas.highlights)

    # -- rendering ---------------------------------------------------------------------------
    def _find_changed(self, text: str) -> None:
        if not text.strip() and self._find_text:
            self._find_text = ""
            if self.result is not None and self.kind == "pdf":
                self.result.finds = []
                self.canvas.set_marks(self.result.highlights, [])

    def _request(self, page: int | None, find: str = "", find_from: int = 0) -> None:
        self._searching = find_from > 0
        find = find or self._find_text  # matches stay marked while paging
        self._seq += 1
        self._worker.latest = self._seq
        fit = max(200, self.scroll.viewport().width() - 24)
        self._job.emit(PageJob(self._seq, self.kind, self.path, page, self.zoom, fit,
                               self.devicePixelRatioF(), self.quote, find, find_from))

    def _rerender(self) -> None:
        if self.kind == "pdf" and not self.zoom and self.result is not None:
            self._request(self.page)

    def _on_done(self, r: PageResult) -> None:
        if r.seq != self._seq:
            return  # an older request: a newer one is on its way
        if r.error:
            self.show_message(r.error)
            self.shown.emit(r)
            return
        self.result, self.page, self.page_count = r, r.page, r.page_count
        self.page_box.blockSignals(True)
        self.page_box.setMaximum(max(1, r.page_count))
        self.page_box.setValue(r.page or 1)
        self.page_box.blockSignals(False)
        word = PAGE_WORDS.get(Path(r.path).suffix.lower(), "Page")
        self.count_label.setText(f" of {r.page_count} " if r.page_count else "")
        self.page_box.setPrefix(f"{word} ")
        if r.kind == "text":
            self._show_text(r)
        else:
            self._show_image(r)
        self.shown.emit(r)

    def _show_image(self, r: PageResult) -> None:
        self.stack.setCurrentWidget(self.scroll)
        assert r.image is not None
        self.canvas.set_page(r.image, r.size_pt[1], r.scale, self.devicePixelRatioF())
        current = 0 if r.finds else -1
        self.canvas.set_marks(r.highlights, r.finds, current)
        self.message.setVisible(False)
        if r.kind == "pdf" and not r.has_text:
            self.show_message("This page is a scanned image: the text Hearth indexed from it was "
                              "recognised by OCR and may contain errors.")
        elif self._searching and not r.finds and r.kind == "pdf":
            self.show_message(f"“{self._find_text}” is not in this document.")
        elif self.quote and r.kind == "pdf" and not r.highlights and r.page == self._quote_page:
            self.show_message("The quoted passage could not be located exactly on this page.")
        target = r.finds[0] if r.finds else (r.highlights[0] if r.highlights else None)
        if target is not None:
            self._reveal(target)
        else:
            self.scroll.verticalScrollBar().setValue(0)

    def _reveal(self, rect: tuple[float, float, float, float]) -> None:
        box = self.canvas.to_widget(rect)
        self.scroll.ensureVisible(int(box.center().x()), int(box.top()), 40,
                                  min(200, self.scroll.viewport().height() // 3))

    def _show_text(self, r: PageResult) -> None:
        self.stack.setCurrentWidget(self.text)
        word = PAGE_WORDS.get(Path(r.path).suffix.lower(), "Page")
        parts: list[str] = []
        offsets: dict[int | None, int] = {}
        pos = 0
        for number, text in r.pages:
            if number is not None:
                head = f"— {word} {number} —\n"
                parts.append(head)
                pos += len(head)
            offsets[number] = pos
            parts.append(text + "\n\n")
            pos += len(text) + 2
        self.text.setPlainText("".join(parts))
        self._text_offsets = offsets
        selections = []
        spans: list[tuple[int, int]] = []
        if self.quote:
            for number, text in r.pages:
                if r.page is None or number == r.page or number is None:
                    spans += [(offsets[number] + s, offsets[number] + e)
                              for s, e in locate(text, self.quote)]
            if not spans:
                self.show_message("The quoted passage could not be located exactly in this file.")
        for s, e in spans:
            sel = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.text.document())
            cursor.setPosition(s)
            cursor.setPosition(e, QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
            sel.format.setBackground(QColor(255, 221, 0, 150))
            selections.append(sel)
        self.text.setExtraSelections(selections)
        self.text_spans = spans
        if spans:
            self._scroll_text_to(spans[0][0])
        elif r.page is not None:
            self._scroll_text_to_page(r.page)

    text_spans: list[tuple[int, int]] = []

    def _scroll_text_to_page(self, number: int) -> None:
        if number in self._text_offsets:
            self._scroll_text_to(self._text_offsets[number])

    def _scroll_text_to(self, position: int) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(position)
        self.text.setTextCursor(cursor)
        self.text.centerCursor()

    def _wrap_text_find(self, text: str) -> bool:
        self.text.moveCursor(QTextCursor.MoveOperation.Start)
        return self.text.find(text)

    def _focus_find(self) -> None:
        self.find_box.setFocus()
        self.find_box.selectAll()

    # -- Qt plumbing -------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802, ANN001 (Qt override)
        if obj is self.scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._resize_timer.start()
        return super().eventFilter(obj, event)

    def shutdown(self) -> None:
        """Stop the render thread and close the open document (the window closing does this)."""
        if self._thread.isRunning():
            self._worker.latest = 1 << 62
            self._thread.quit()
            self._thread.wait()
        self._worker.close_document()
        self.hide()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.hide()  # kept for the next source; shutdown() when the app's window closes
        event.ignore()
