"""Where the file dialogs open: the folder the user last took documents from, else their
Documents folder, else their home; never the folder Hearth happened to be started in (an
empty start folder makes Qt open the process's working directory, the source tree under
`make run`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

_KEY = "last_document_folder"
_state: QSettings | None = None  # the window's GUI state (gui.ini in the data dir)
_last = ""  # this run's choice, when no state file is set (a panel on its own, in tests)


def keep_in(state: QSettings | None) -> None:
    """Remember the last folder in `state` from now on (the window calls this once)."""
    global _state
    _state = state


def start_folder() -> str:
    """The folder a dialog for documents opens in."""
    last = str(_state.value(_KEY, "") or "") if _state is not None else _last
    if last and Path(last).is_dir():
        return last
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and Path(docs).is_dir() else str(Path.home())


def picked(path: str) -> None:
    """The user chose `path` (a file or a folder): the next dialog opens where it is."""
    global _last
    if not path:
        return
    p = Path(path)
    folder = str(p if p.is_dir() else p.parent)
    _last = folder
    if _state is not None:
        _state.setValue(_KEY, folder)
