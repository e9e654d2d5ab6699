"""Help menu content: About (version, licences of the bundled models, privacy), the keyboard
shortcuts (read from the window's own actions, so the list can't drift), and the data folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.buttons import StandardButton, dialog_buttons
from app.gui.icon import app_icon

# What ships inside Hearth (or its installer) that is not Hearth's own code.
BUNDLED_MODELS = [
    ("Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)", "answering model", "Apache-2.0", "Qwen team"),
    ("SmolLM2-135M-Instruct (Q4_1)", "fast fallback model", "Apache-2.0", "Hugging Face"),
    ("all-MiniLM-L6-v2", "embeddings for search", "Apache-2.0", "sentence-transformers"),
    ("RapidOCR (PaddleOCR ONNX models)", "text in scanned pages", "Apache-2.0", "RapidAI"),
]
COMPONENTS = ("Qt / PySide6 (LGPL-3.0), llama.cpp (MIT), chromadb (Apache-2.0), "
              "PDFium (BSD-3-Clause), pypdf (BSD-3-Clause), PyTorch (BSD-3-Clause)")
PRIVACY = ("Hearth works entirely on this computer. It makes no network connections: no "
           "accounts, no telemetry, no update checks, no model downloads. Your documents are "
           "read where they are and never copied; what Hearth stores (the text of your "
           "documents' passages, their vectors, your chats and settings) stays in your data "
           "folder, readable by you only. Help → Open data folder shows it; File → Delete all "
           "my data erases it. Details: PRIVACY.md.")


def version() -> str:
    """The installed Hearth version (the source tree's when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("hearth")
    except PackageNotFoundError:
        return "0.1.0 (source)"


def about_html() -> str:
    rows = "".join(f"<tr><td>{name}</td><td>{role}</td><td>{lic}</td><td>{by}</td></tr>"
                   for name, role, lic, by in BUNDLED_MODELS)
    return (f"<h2>Hearth {version()}</h2>"
            "<p>Private answers from your own documents, entirely on your own machine.</p>"
            f"<h3>Your privacy</h3><p>{PRIVACY}</p>"
            "<h3>Bundled models</h3><table cellspacing='0' cellpadding='3'>"
            "<tr><th align='left'>Model</th><th align='left'>Used for</th>"
            f"<th align='left'>Licence</th><th align='left'>By</th></tr>{rows}</table>"
            f"<p>Built with {COMPONENTS}. Hearth itself is MIT-licensed.</p>")


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Hearth")
        self.setWindowIcon(app_icon())
        layout = QVBoxLayout(self)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(icon)
        self.text = QLabel(about_html())
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAccessibleName("About Hearth")
        layout.addWidget(self.text)
        dialog_buttons(self, layout, StandardButton.Close)
        self.resize(560, 480)


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(what, keys) for every action that has a shortcut, in menu order."""
    rows = []
    for action in actions:
        keys = ", ".join(s.toString(s.SequenceFormat.NativeText) for s in action.shortcuts())
        if keys:
            rows.append((action.text().replace("&", "").rstrip("…").strip(), keys))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAccessibleName("Keyboard shortcuts")
        for what, keys in shortcut_rows(actions):
            self.tree.addTopLevelItem(QTreeWidgetItem([what, keys]))
        self.tree.resizeColumnToContents(0)
        layout.addWidget(self.tree)
        dialog_buttons(self, layout, StandardButton.Close)
        self.resize(460, 520)


def open_folder(path: Path) -> bool:
    """Show a folder in the desktop's file manager; False when the desktop has none."""
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
