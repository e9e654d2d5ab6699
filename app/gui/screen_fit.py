"""Windows that fit the screen they are on: on first start, when a saved size no longer fits
(a smaller screen, a laptop undocked) and when the window moves to another screen.

Why: a fresh window opened at 1200×760 on an 800×600 screen put the library, the question box
and Send off-screen, and a geometry saved on a big screen came back on a small one; the source
viewer opened 820×900 with its buttons clipped.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

MARGIN = 0.92  # at most this share of the available width and height


def available(widget: QWidget) -> QRect:
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fits(widget: QWidget) -> bool:
    """The whole window (frame included) is on its screen's available area."""
    return available(widget).contains(widget.frameGeometry())


def fit_to_screen(widget: QWidget, width: int, height: int) -> None:
    """The preferred size, or a share of the available area where that is smaller (never below
    the widget's own minimum), centred on the screen."""
    area = available(widget)
    least = widget.minimumSize().expandedTo(widget.minimumSizeHint())
    w = max(least.width(), min(width, int(area.width() * MARGIN)))
    h = max(least.height(), min(height, int(area.height() * MARGIN)))
    widget.resize(w, h)
    frame = widget.frameGeometry()  # the frame's own size is known once the window is shown
    fw, fh = max(w, frame.width()), max(h, frame.height())
    widget.move(area.x() + max(0, (area.width() - fw) // 2),
                area.y() + max(0, (area.height() - fh) // 2))


def keep_on_screen(widget: QWidget, width: int, height: int) -> None:
    """After the window is shown: refit it whenever it moves to a screen it does not fit."""
    handle = widget.windowHandle()
    if handle is None:
        return
    handle.screenChanged.connect(
        lambda _screen: None if fits(widget) else fit_to_screen(widget, width, height))
