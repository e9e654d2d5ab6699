"""Hearth's application icon, found wherever Hearth runs from.

Where the files are: `assets/` in a source checkout (and an editable install), `_internal/assets`
in the PyInstaller bundle (the same place relative to the code), and `share/hearth/assets` under
the environment's prefix for a wheel install (pyproject's data-files put them there).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def assets_dir() -> Path | None:
    """The folder holding hearth.svg and icons/, or None if none is installed."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "assets",
                  Path(getattr(sys, "_MEIPASS", here.parents[2])) / "assets",
                  Path(sys.prefix) / "share" / "hearth" / "assets"]
    for folder in candidates:
        if (folder / "icons" / "hearth-32.png").is_file():
            return folder
    return None


def app_icon() -> QIcon:
    """Every PNG size (crisp in title bars, docks and task switchers); empty if not found."""
    icon = QIcon()
    folder = assets_dir()
    if folder is None:
        return icon
    for size in SIZES:
        png = folder / "icons" / f"hearth-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    return icon
