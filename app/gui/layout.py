"""The main splitter: the conversation keeps at least half the window; side panels give way.

Why: the side panels have wide minimums (rows of buttons), so a plain QSplitter squeezed the chat
to ~230 px in an 800 px window while the chats list and the library kept their width. On every
resize this splitter first shrinks the side panels toward their minimums, then folds the chats
list away, then the library, until the chat column has `CHAT_SHARE` of the width. Folded panels
come back with View → Show chats/library (or by dragging the splitter handle).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSplitter, QWidget

CHAT_SHARE = 0.5
CHAT = 1  # index of the conversation in the splitter: chats list, chat, library
FOLD_ORDER = (0, 2)  # the chats list folds first, the library last


class ChatFirstSplitter(QSplitter):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("mainSplitter")
        self.setChildrenCollapsible(True)
        self._auto_folded: set[int] = set()  # panels folded by fit_chat, back when room allows

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit_chat()

    def _minimum(self, index: int) -> int:
        w = self.widget(index)
        return max(w.minimumSizeHint().width(), w.minimumWidth()) if w else 0

    def fit_chat(self) -> None:
        """Give the chat column CHAT_SHARE of the width, taking it from the side panels."""
        if self.count() != 3:
            return
        sizes = self.sizes()
        total = sum(sizes)
        need = int(total * CHAT_SHARE + 0.5)
        if total <= 0:
            return
        for i in sorted(self._auto_folded, reverse=True):  # the library comes back first
            want = max(self._minimum(i), 160)
            if sizes[i] == 0 and sizes[CHAT] - want >= need:
                sizes[i], sizes[CHAT] = want, sizes[CHAT] - want
                self._auto_folded.discard(i)
            elif sizes[i] > 0:
                self._auto_folded.discard(i)  # the user dragged it back out
        if sizes[CHAT] >= need:
            if sizes != self.sizes():
                self.setSizes(sizes)
            return
        deficit = need - sizes[CHAT]
        for i in FOLD_ORDER:  # shrink toward the minimums, the chats list first
            spare = max(0, sizes[i] - self._minimum(i))
            take = min(spare, deficit)
            sizes[i] -= take
            deficit -= take
        for i in FOLD_ORDER:  # still short: fold a panel away
            if deficit <= 0:
                break
            if sizes[i] > 0:
                deficit -= sizes[i]
                sizes[i] = 0
                self._auto_folded.add(i)
        sizes[CHAT] = total - sizes[0] - sizes[2]
        self.setSizes(sizes)

    def is_folded(self, index: int) -> bool:
        return self.sizes()[index] == 0

    def unfold(self, index: int) -> None:
        """Show a folded side panel at its minimum width; the chat keeps its share if it can
        (otherwise the other side panel folds)."""
        sizes = self.sizes()
        self._auto_folded.discard(index)
        if sizes[index] > 0:
            return
        want = max(self._minimum(index), 160)
        sizes[index] = want
        sizes[CHAT] -= want
        other = 2 if index == 0 else 0
        total = sum(sizes)
        if sizes[CHAT] < total * CHAT_SHARE and sizes[other] > 0:
            sizes[CHAT] += sizes[other]
            sizes[other] = 0
            self._auto_folded.add(other)
        self.setSizes(sizes)
