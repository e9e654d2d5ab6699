"""The Settings toggle's API server: the same API as `hearth serve`, inside the window's process.

Why in-process: the window holds the library's writer lock and the loaded model, so a second
process could not open them. Requests take the window's own paths: model work runs on the
model lane (the one owner thread of its Llama), so the API and the chat panel queue behind each
other for the model; library reads run on the request's own thread over the library's reading
connection (`app/gui/library_reads.py`) and never wait for the writer. starlette/uvicorn load
only when the toggle is switched on.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QLabel, QPushButton, QSpinBox

from rag.base.cancel import CancelToken
from rag.base.errors import HearthError

_running: dict[int, ApiServer] = {}


class BackendEngine:
    """`app.serve_engine.LibraryEngine`'s interface over the GUI backend."""

    def __init__(self, backend) -> None:
        self.backend = backend

    @property
    def settings(self):
        return self.backend.settings

    @property
    def model_names(self) -> list[str]:
        from inference.models import resolve_spec
        from inference.session import routes

        s = self.backend.settings
        specs = s.enabled_models if routes(s) else [s.model or None]
        names = []
        for spec in specs:
            try:
                names.append(resolve_spec(spec, self.backend.data_dir)[1])
            except HearthError:
                names.append(str(spec or "hearth"))
        return names

    @property
    def embedding_model(self) -> str:
        from rag.embed.embeddings import BUNDLED_MODEL_ID

        lib = getattr(self.backend, "_lib", None)
        return getattr(getattr(lib, "embedder", None), "model_id", "") or BUNDLED_MODEL_ID

    def library(self, cancel: CancelToken) -> Any:
        from app.gui.backend import _LibraryOnWriter

        return _LibraryOnWriter(self.backend.writer, self.backend._require_lib, cancel)

    def chat_model(self) -> tuple[Any, Any]:
        return self.backend._ensure_model()  # on the model lane: jobs execute there


class ApiServer:
    def __init__(self, backend, port: int) -> None:
        from app.serve import create_app
        from app.serve_engine import ModelOwner
        from app.serve_run import DEFAULT_HOSTS, Server, bind_sockets, load_or_create_token

        lane = backend.model_lane
        self.owner = ModelOwner(execute=lambda fn, cancel: lane.call(fn, cancel))
        sockets = bind_sockets(DEFAULT_HOSTS, port)
        app = create_app(BackendEngine(backend), self.owner,
                         load_or_create_token(backend.data_dir))
        self.server = Server(app, sockets, on_exit=self.owner.cancel_all)
        self.urls = self.server.urls
        self.port = sockets[0].getsockname()[1]
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.owner.close(timeout=5.0)


def running(backend) -> ApiServer | None:
    return _running.get(id(backend))


def apply(backend, enabled: bool, port: int) -> str:
    """Start, stop or move the server to match the toggle; remember the choice in serve.json.
    Returns a line for the status bar (errors in plain words, never raised)."""
    from app.serve_run import write_config

    write_config(backend.data_dir, enabled, port or 0)
    current = running(backend)
    if current is not None and (not enabled or (port and current.port != port)):
        _running.pop(id(backend)).stop()
        current = None
    if not enabled:
        return "Local API stopped."
    if current is None:
        try:
            current = _running[id(backend)] = ApiServer(backend, port)
        except HearthError as exc:
            return f"Local API not started: {exc}"
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(lambda b=backend: stop(b))
    return f"Local API on {current.urls[0]} (key: hearth serve --show-token)."


def stop(backend) -> None:
    server = _running.pop(id(backend), None)
    if server is not None:
        server.stop()


def autostart(backend) -> str | None:
    """At window start: bring the server back if the user left the toggle on."""
    from app.serve_run import read_config

    config = read_config(backend.data_dir)
    return apply(backend, True, config["port"]) if config["enabled"] else None


class ApiToggle(QGroupBox):
    """The Settings group: on/off and port; applied when the dialog is saved (`apply`)."""

    def __init__(self, backend) -> None:
        from app.serve_run import read_config

        super().__init__("Local API (OpenAI-compatible)")
        self.backend = backend
        config, current = read_config(backend.data_dir), running(backend)
        form = QFormLayout(self)
        self.enabled = QCheckBox("Serve the API on this computer only (127.0.0.1)")
        self.enabled.setChecked(current is not None or config["enabled"])
        self.enabled.setToolTip("Editors, note apps and scripts can ask your documents through "
                                "an OpenAI-compatible API; other machines cannot reach it.")
        form.addRow(self.enabled)
        self.port = QSpinBox()
        self.port.setRange(1024, 65535)
        self.port.setValue(current.port if current is not None else config["port"])
        self.port.setAccessibleName("API port")
        form.addRow("&Port:", self.port)
        self.state = QLabel(f"Running: {current.urls[0]}" if current is not None
                            else "Not running.")
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = QPushButton("Copy API &key")
        copy.setToolTip("Clients send it as the bearer token (also: hearth serve --show-token)")
        copy.clicked.connect(self.copy_key)
        form.addRow(self.state, copy)

    def copy_key(self) -> None:
        from app.serve_run import load_or_create_token

        QGuiApplication.clipboard().setText(load_or_create_token(self.backend.data_dir))
        self.state.setText("API key copied.")

    def apply(self) -> str:
        return apply(self.backend, self.enabled.isChecked(), self.port.value())
