"""Start the desktop app: window first, slow work after it is on screen.

Nothing imported here (directly or through the panels) loads torch, sentence_transformers,
chromadb or llama_cpp; the Backend imports them inside worker jobs. tests/test_gui_startup.py
checks that in a fresh process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.gui.sources_view import Opener
from app.gui.window import MainWindow
from rag.base.paths import resolve_data_dir
from rag.base.settings import Settings


def application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Hearth")
    app.setOrganizationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    app.setDesktopFileName("io.github.hearth.Hearth")  # Wayland/X11 match it to the .desktop file
    from app.gui.icon import app_icon

    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def create_window(data_dir: str | os.PathLike | None = None, *,
                  opener: Opener | None = None) -> MainWindow:
    """Build the window (cheap); call `.show()` then `.start()` to begin loading the core."""
    path = resolve_data_dir(data_dir)
    return MainWindow(Path(path), Settings.load(path), opener=opener)


def run_gui(data_dir: str | os.PathLike | None = None) -> int:
    """`hearth` with no arguments: show the window, then open the library and load the model."""
    from app.qtlibs import check

    problem = check()  # missing X11 libraries: say which packages, before Qt aborts vaguely
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = application()
    window = create_window(data_dir)
    window.show()
    QTimer.singleShot(0, window.start)
    return int(app.exec())
