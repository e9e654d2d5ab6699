"""Small widget helpers shared by the panels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QPushButton


def make_button(text: str, tip: str, slot: Callable) -> QPushButton:
    """A push button with an accessible name (its text without "…"), a tooltip and a slot."""
    b = QPushButton(text)
    b.setAccessibleName(text.rstrip("…"))
    b.setToolTip(tip)
    b.clicked.connect(slot)
    return b
