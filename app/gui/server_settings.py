"""Settings → "Shared library on a server": a team library on a Chroma server (docs/team.md).

Why a warning right here: an `http://` address that is not on this computer sends the text of
every document across the network unencrypted; the user must see that before saving it.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from rag.base.settings import Settings


class ServerGroup(QGroupBox):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__("Shared library on a server", parent)
        form = QFormLayout(self)
        self.enabled = QCheckBox("Use a &team library on a Chroma server instead of this "
                                 "computer's library")
        self.enabled.setChecked(bool(settings.server_url))
        form.addRow(self.enabled)
        self.url = QLineEdit(settings.server_url)
        self.url.setPlaceholderText("https://library.example.org  or  http://127.0.0.1:8000")
        self.url.setAccessibleName("Server address")
        form.addRow("Server &address:", self.url)
        self.library = QLineEdit(settings.server_library or "hearth")
        self.library.setAccessibleName("Library name on the server")
        form.addRow("&Library name:", self.library)
        self.token_file = QLineEdit(settings.server_token_file)
        self.token_file.setPlaceholderText("optional: file holding the access token")
        self.token_file.setAccessibleName("Token file")
        form.addRow("&Token file:", self.token_file)
        self.root = QLineEdit(settings.server_root)
        self.root.setPlaceholderText("your mount point of the shared folder (default: home)")
        self.root.setAccessibleName("Shared folder root")
        form.addRow("Shared folder &root:", self.root)
        note = QLabel("Takes effect the next time Hearth starts. Folder watching is off for a "
                      "server library; index with Add documents.")
        note.setWordWrap(True)
        form.addRow(note)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b00020;")
        form.addRow(self.warning)
        for edit in (self.url,):
            edit.textChanged.connect(self._update)
        self.enabled.toggled.connect(self._update)
        self._update()

    def _update(self) -> None:
        from rag.server.server_store import insecure_warning

        on = self.enabled.isChecked()
        for w in (self.url, self.library, self.token_file, self.root):
            w.setEnabled(on)
        text = insecure_warning(self.url.text().strip()) if on and self.url.text().strip() else None
        self.warning.setText(f"Warning: {text}" if text else "")
        self.warning.setVisible(bool(text))

    def values(self) -> dict:
        on = self.enabled.isChecked() and bool(self.url.text().strip())
        return {"server_url": self.url.text().strip().rstrip("/") if on else "",
                "server_library": self.library.text().strip() or "hearth",
                "server_token_file": self.token_file.text().strip(),
                "server_root": self.root.text().strip()}
