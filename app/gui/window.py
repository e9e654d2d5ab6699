"""The main window: lays out the panels, owns the actions (menus + shortcuts) and window state.

It holds no chat, library or history logic itself; it wires the panels to each other and to the
Backend, accepts file/folder drops anywhere, and persists geometry and splitter sizes.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDialog, QLabel, QMainWindow, QMessageBox

from app.gui import folders
from app.gui.backend import Backend
from app.gui.chat_panel import ChatPanel, local_paths
from app.gui.heartbeat import Heartbeat
from app.gui.help_dialog import AboutDialog, ShortcutsDialog, open_folder
from app.gui.history_panel import HistoryPanel
from app.gui.icon import app_icon
from app.gui.layout import ChatFirstSplitter
from app.gui.library_panel import LibraryPanel
from app.gui.ops import Operation
from app.gui.scope_dialog import ScopeDialog
from app.gui.settings_dialog import SettingsDialog
from app.gui.source_viewer import SourceViewer
from app.gui.sources_view import Opener
from app.gui.watch_control import status_text
from app.history import History
from rag.base.settings import Settings

GUI_STATE_FILE = "gui.ini"
WINDOW_SIZE = (1200, 760)  # preferred on first start; less where the screen is smaller


def usable_paths(docs: list) -> list[str]:
    """Documents a question can be asked about: indexed ones (not failed, skipped or pending)."""
    return [d.path for d in docs if getattr(d, "status", "indexed") == "indexed"]


class MainWindow(QMainWindow):
    def __init__(self, data_dir: Path, settings: Settings | None = None, *,
                 opener: Opener | None = None) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.setWindowTitle("Hearth")
        self.setWindowIcon(app_icon())
        self.setAccessibleName("Hearth")
        self.setAcceptDrops(True)
        self.state = QSettings(str(self.data_dir / GUI_STATE_FILE), QSettings.Format.IniFormat)
        folders.keep_in(self.state)  # the file dialogs open where documents were last taken from
        self.backend = Backend(self.data_dir, settings or Settings.load(self.data_dir), self)
        self.backend.library_opened.connect(self._say_if_a_forget_is_owed)
        self.history = History.open(self.data_dir)
        self.source_viewer: SourceViewer | None = None  # made on the first citation opened
        self.opener = opener or self.show_source
        self.folder_opener = open_folder  # replaceable in tests (no file manager offscreen)

        self.history_panel = HistoryPanel(self.history)
        self.chat = ChatPanel(self.backend, self.history, self.opener)
        self.library = LibraryPanel(self.backend)
        self.splitter = ChatFirstSplitter()
        for w in (self.history_panel, self.chat, self.library):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 640, 340])
        self.setCentralWidget(self.splitter)

        self.sync_label = QLabel()
        self.sync_label.setAccessibleName("Watched folder sync")
        self.statusBar().addPermanentWidget(self.sync_label)
        self.model_label = QLabel("Model: not loaded")
        self.model_label.setAccessibleName("Model status")
        self.statusBar().addPermanentWidget(self.model_label)

        self._wire()
        self._make_actions()
        self._restore_state()
        self._closed = False
        self.heartbeat: Heartbeat | None = None
        if os.environ.get("HEARTH_HEARTBEAT"):
            self.heartbeat = Heartbeat(interval_ms=20, log_over_ms=100, parent=self)
            self.heartbeat.start()

    # -- wiring ----------------------------------------------------------------------------
    def _wire(self) -> None:
        b = self.backend
        self.chat.files_dropped.connect(self.add_dropped)
        self.chat.conversation_changed.connect(lambda cid: self.history_panel.refresh(select=cid))
        self.chat.scope_requested.connect(self.choose_scope)
        self.chat.status_message.connect(self.show_message)
        self.library.status_message.connect(self.show_message)
        self.library.notice.connect(self.show_notice)
        self.history_panel.conversation_selected.connect(self.chat.load_conversation)
        self.history_panel.new_chat_requested.connect(self.new_chat)
        self.history_panel.conversation_deleted.connect(self._on_conversation_deleted)
        b.documents_changed.connect(
            lambda docs: self.chat.update_empty_state(len(usable_paths(docs))))
        b.library_failed.connect(self._library_failed)
        b.model_loading.connect(lambda what: self.model_label.setText(f"Loading {what}…"))
        b.model_loaded.connect(lambda name: self.model_label.setText(f"Model: {name}")
                               if name else None)
        b.model_failed.connect(self._model_failed)
        b.watch.status_changed.connect(self._on_sync_status)
        b.model_added.connect(lambda e: self.show_message(
            f"Added the model {e.name}. Choose it in Settings (Ctrl+,)."))

    def _make_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.add_action = self._action(file_menu, "&Add files…", QKeySequence.StandardKey.Open,
                                       self.library.add_files_dialog)
        self._action(file_menu, "Add &folder…", "Ctrl+Shift+O", self.library.add_folder_dialog)
        self._action(file_menu, "&Watch folder…", "Ctrl+Shift+W",
                     lambda: self.library.watched.add_folder())
        file_menu.addSeparator()
        self._action(file_menu, "Export chat as &Markdown…", "Ctrl+E",
                     lambda: self.history_panel.export_selected("md"))
        self._action(file_menu, "Export chat as &JSON…", "Ctrl+Shift+E",
                     lambda: self.history_panel.export_selected("json"))
        self._action(file_menu, "&Settings…", "Ctrl+,", self.open_settings)
        file_menu.addSeparator()
        self._action(file_menu, "&Delete all my data…", None, lambda: self.delete_all_data())
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)

        chat_menu = menu.addMenu("&Chat")
        self.send_action = self._action(chat_menu, "&Send", None, self.chat.send)
        self.send_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.stop_action = self._action(chat_menu, "S&top", "Esc", self.chat.stop)
        self.new_chat_action = self._action(chat_menu, "&New chat", QKeySequence.StandardKey.New,
                                            self.new_chat)
        self._action(chat_menu, "&Regenerate answer", "Ctrl+R", self.chat.regenerate)
        self._action(chat_menu, "&Copy last answer", "Ctrl+Shift+C", lambda: self.chat.copy_answer())
        self._action(chat_menu, "&Limit to documents…", "Ctrl+L", self.choose_scope)
        chat_menu.addSeparator()
        self._action(chat_menu, "Re&name chat…", "F2", lambda: self.history_panel.rename_selected())
        self._action(chat_menu, "&Delete chat", "Ctrl+Shift+Delete",
                     lambda: self.history_panel.delete_selected())
        self._action(chat_menu, "Searc&h chats", QKeySequence.StandardKey.Find,
                     lambda: self.history_panel.search.setFocus())

        lib_menu = menu.addMenu("&Library")
        self._action(lib_menu, "&Remove selected", "Delete", self.library.remove_selected)
        self._action(lib_menu, "Re-&index selected", "Ctrl+Shift+R", self.library.reindex_selected)
        self._action(lib_menu, "&Cancel indexing", "Ctrl+.", self.library.cancel_indexing)

        view = menu.addMenu("&View")
        self._action(view, "Focus &chats", "Ctrl+1", lambda: self.history_panel.list.setFocus())
        self._action(view, "Focus &question", "Ctrl+2", lambda: self.chat.input.setFocus())
        self._action(view, "Focus &library", "Ctrl+3", lambda: self.library.tree.setFocus())
        view.addSeparator()
        self._action(view, "Show c&hats list", "Ctrl+Shift+1", lambda: self.splitter.unfold(0))
        self._action(view, "Show li&brary", "Ctrl+Shift+3", lambda: self.splitter.unfold(2))

        help_menu = menu.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence.StandardKey.HelpContents,
                     self.show_shortcuts)
        self._action(help_menu, "Open &data folder", None, self.open_data_folder)
        help_menu.addSeparator()
        self._action(help_menu, "&About Hearth", None, self.show_about)

    def _action(self, menu, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Begin the slow work (after the window is on screen): open the library, load model."""
        self.backend.open_library()
        self.backend.load_model()
        from app.gui.serve_control import autostart

        note = autostart(self.backend)  # the Local API, if it was left on in Settings
        if note:
            self.show_message(note)
        problems = self.backend.settings.problems  # a hand-edited settings.json: say what
        if problems:  # was wrong and which default is used instead
            self.show_message(problems[0] + (f" (and {len(problems) - 1} more; see `hearth "
                                             "status`)" if len(problems) > 1 else ""))
        last = self.state.value("last_conversation")
        if last is not None and self.history.get(int(last)) is not None:
            self.chat.load_conversation(int(last))
            self.history_panel.refresh(select=int(last))
        self.chat.input.setFocus()

    def _restore_state(self) -> None:
        from app.gui.screen_fit import fit_to_screen, fits

        geometry = self.state.value("geometry")
        # A saved size is used only if it still fits this screen and is big enough to work in.
        if geometry is None or not self.restoreGeometry(geometry) or not fits(self) \
                or self.width() < 640 or self.height() < 480:
            fit_to_screen(self, *WINDOW_SIZE)
        splitter = self.state.value("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.splitter.fit_chat()  # a state saved in a wider window may squeeze the chat

    def save_state(self) -> None:
        self.state.setValue("geometry", self.saveGeometry())
        self.state.setValue("splitter", self.splitter.saveState())
        if self.chat.conversation_id is not None:
            self.state.setValue("last_conversation", self.chat.conversation_id)
        else:
            self.state.remove("last_conversation")
        self.state.sync()
        try:
            os.chmod(self.data_dir / GUI_STATE_FILE, 0o600)
        except OSError:
            pass

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self._closed:
            self._closed = True
            self.save_state()
            self.history_panel.stop_timers()
            if self.source_viewer is not None:
                self.source_viewer.shutdown()
            self.backend.shutdown()
            # Deliver the workers' last completions (e.g. a stopped answer) while the history
            # database is still open, so they are saved; then close it.
            for lane in (self.backend.model_lane, self.backend.writer):
                QCoreApplication.sendPostedEvents(lane)
            self.history.close()
        super().closeEvent(event)

    # -- actions ---------------------------------------------------------------------------
    def show_source(self, path: str, page: int | None = None, quote: str = "") -> None:
        """The app's opener: the in-app source viewer at `page` with `quote` highlighted."""
        if self.source_viewer is None:
            self.source_viewer = SourceViewer(self)
        self.source_viewer.show_source(path, page, quote)

    def new_chat(self) -> None:
        self.chat.new_chat()
        self.history_panel.list.clearSelection()
        self.history_panel.list.setCurrentItem(None)

    def scope_choices(self) -> list[str]:
        """What a chat can be limited to: indexed documents (a failed file has no text)."""
        return usable_paths(self.backend.documents)

    def choose_scope(self) -> None:
        dialog = ScopeDialog(self.scope_choices(), self.chat.scope, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.chat.set_scope(dialog.selected_paths())
        dialog.deleteLater()  # a child of the window: free it, or each opening leaves one behind

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.backend, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.backend.apply_settings(dialog.result_settings())
            self.show_message("Settings saved.")
        dialog.deleteLater()

    def delete_all_data(self, confirm: bool = True) -> Operation | None:
        """Forget every document (text, vectors, keyword index), every chat and the watched-folder
        list. Files on disk, settings and added models stay."""
        if confirm and QMessageBox.warning(
                self, "Delete all my data",
                "Delete everything Hearth has stored about your documents and chats?\n\n"
                "• the library: every document's text, vectors and keyword index\n"
                "• all saved chats\n• the list of watched folders\n\n"
                "Your files on disk, your settings and added models are not touched. "
                "This cannot be undone.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel) != QMessageBox.StandardButton.Yes:
            return None
        self.new_chat()  # stops an answer in progress; nothing more is saved to this chat
        self.history.wipe()
        self.state.remove("last_conversation")
        self.history_panel.refresh()
        op = self.backend.wipe()
        op.succeeded.connect(lambda _s: self.show_message("All your data was deleted."))
        op.failed.connect(lambda msg: self.show_message(f"Could not delete everything: {msg}"))
        return op

    def _on_sync_status(self, status: object) -> None:
        # Nothing watched and nothing to do: no "Watching for changes" for an empty watch list.
        idle = not (getattr(status, "folders", None) or getattr(status, "pending", 0)
                    or getattr(status, "current", ""))
        self.sync_label.setText("" if idle else status_text(status))
        self.sync_label.setToolTip("" if idle else getattr(status, "message", ""))
        self.sync_label.setVisible(not idle)

    # -- Help ------------------------------------------------------------------------------
    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self._menu_actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _menu_actions(self) -> list[QAction]:
        return [a for menu_action in self.menuBar().actions() if menu_action.menu()
                for a in menu_action.menu().actions() if not a.isSeparator()]

    def open_data_folder(self) -> None:
        if not self.folder_opener(self.data_dir):
            self.show_message(f"Your data folder is {self.data_dir} (no file manager to open it).")

    def add_dropped(self, paths: list[str]) -> None:
        """Dropped .gguf files become models; everything else is indexed."""
        models = [p for p in paths if p.lower().endswith(".gguf") and os.path.isfile(p)]
        for path in models:
            op = self.backend.add_model(path)
            op.failed.connect(lambda msg, p=path: self.show_message(
                f"Could not add {Path(p).name} as a model: {msg}"))
        rest = [p for p in paths if p not in models]
        if rest:
            self.library.add_paths(rest)
            self.show_message(f"Indexing {len(rest)} dropped item(s)…")
        elif models:
            self.show_message(f"Adding {len(models)} model(s)…")

    def _say_if_a_forget_is_owed(self, status: dict) -> None:
        """Opening the library finishes a forget a crash cut short; if it is still owed (a full
        disk), the user must know the forgotten text is still in the library's files."""
        if status.get("forget_owed"):
            self.show_message("A forget was cut short and is not finished yet: Hearth will "
                              "finish it the next time it can write the library.")

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt override)
        super().showEvent(event)
        if not getattr(self, "_screen_watched", False):  # the native window exists from here
            from app.gui.screen_fit import fit_to_screen, fits, keep_on_screen

            if not fits(self):  # the layout's minimum or the frame made it larger than planned
                fit_to_screen(self, *WINDOW_SIZE)
            keep_on_screen(self, *WINDOW_SIZE)
            self._screen_watched = True

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_notice(self, text: str) -> None:
        """The end of a job (indexing done, documents removed): it stays until the next message,
        so a user who looked away still sees it."""
        self.statusBar().showMessage(text)

    def _on_conversation_deleted(self, cid: int) -> None:
        if self.chat.conversation_id == cid:
            self.chat.new_chat()

    def _library_failed(self, message: str) -> None:
        # Not a modal box: the window stays usable (history, settings) and the library panel
        # shows the reason where the document list would be.
        self.show_message(message)

    def _model_failed(self, message: str) -> None:
        self.model_label.setText("Model: failed to load")
        self.show_message(message)

    # -- drag and drop anywhere ------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_dropped(paths)
