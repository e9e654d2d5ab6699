"""Small widget helpers shared by the panels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def make_button(text: str, tip: str, slot: Callable, name: str = "") -> QPushButton:
    """A push button with an accessible name (`name`, else its text without "…"), a tooltip
    and a slot."""
    b = QPushButton(text)
    b.setAccessibleName(name or text.rstrip("…"))
    b.setToolTip(tip)
    b.clicked.connect(slot)
    return b


def headed_column(panel: QWidget, heading: str, margin: int) -> QVBoxLayout:
    """A side panel's layout: one column, `margin` pixels all round, its heading (rich text)
    on top."""
    layout = QVBoxLayout(panel)
    layout.setContentsMargins(margin, margin, margin, margin)
    layout.addWidget(QLabel(heading))
    return layout


StandardButton = QDialogButtonBox.StandardButton


def dialog_buttons(dialog: QDialog, layout: QBoxLayout, *buttons: StandardButton
                   ) -> QDialogButtonBox:
    """A dialog's row of standard buttons at the end of `layout`, each accepting or rejecting
    the dialog by its role (Close and Cancel reject; Ok and Save accept)."""
    box = QDialogButtonBox()
    for button in buttons:
        box.addButton(button)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    layout.addWidget(box)
    return box
