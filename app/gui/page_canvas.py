"""The rendered page and its highlights (the quote in yellow, Ctrl+F matches in orange).

Why highlights are kept in PDF points: they come from the page's character boxes and stay true
at any zoom; the canvas converts them to pixels when it paints.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

Rect = tuple[float, float, float, float]  # left, bottom, right, top (PDF points, y up)

QUOTE_FILL = QColor(255, 221, 0, 110)
FIND_FILL = QColor(255, 140, 0, 120)
CURRENT_PEN = QColor(200, 60, 0)


class PageCanvas(QWidget):
    """Paints one page image at `scale` pixels per point, with highlight rectangles on top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap = QPixmap()
        self.page_height = 0.0  # points; image formats use pixels (scale 1)
        self.scale = 1.0  # device-independent pixels per point
        self.highlights: list[Rect] = []
        self.finds: list[Rect] = []
        self.current_find = -1
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Page")

    def set_page(self, image: QImage, page_height: float, scale: float, dpr: float) -> None:
        self.pixmap = QPixmap.fromImage(image)
        self.pixmap.setDevicePixelRatio(dpr)
        self.page_height = page_height
        self.scale = scale
        self.resize(self.sizeHint())
        self.update()

    def set_marks(self, highlights: list[Rect], finds: list[Rect], current: int = -1) -> None:
        self.highlights, self.finds, self.current_find = list(highlights), list(finds), current
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        if self.pixmap.isNull():
            return QSize(400, 520)
        return self.pixmap.deviceIndependentSize().toSize()

    def to_widget(self, rect: Rect) -> QRectF:
        """A PDF-point rectangle as widget pixels (y flipped: PDF y grows upwards)."""
        left, bottom, right, top = rect
        s = self.scale
        return QRectF(left * s, (self.page_height - top) * s, (right - left) * s, (top - bottom) * s)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.white)
        if not self.pixmap.isNull():
            p.drawPixmap(0, 0, self.pixmap)
        p.setPen(Qt.PenStyle.NoPen)
        for rect in self.highlights:
            p.fillRect(self.to_widget(rect).adjusted(-1, -1, 1, 1), QUOTE_FILL)
        for i, rect in enumerate(self.finds):
            box = self.to_widget(rect).adjusted(-1, -1, 1, 1)
            p.fillRect(box, FIND_FILL)
            if i == self.current_find:
                p.setPen(QPen(CURRENT_PEN, 2))
                p.drawRect(box)
                p.setPen(Qt.PenStyle.NoPen)
        p.end()
