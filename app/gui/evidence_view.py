""""From your documents": the exact passages that answer the question, shown before the model
writes a word, each with its file and page; activating one opens the source at that passage.

Also the answer's display form: sentences that no passage supports are visibly marked.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

NOT_FOUND = "not found in your documents"


def evidence_fields(item: object) -> dict:
    """Plain fields of an evidence item (core object or the dict saved in history)."""
    if isinstance(item, dict):
        return {k: item.get(k) for k in ("n", "path", "page", "quote")}
    return {k: getattr(item, k, None) for k in ("n", "path", "page", "quote")}


def display_markdown(answer: object) -> str:
    """The answer as the chat shows it: unsupported sentences marked, fallbacks as written."""
    text = getattr(answer, "answer", "") or ""
    claims = list(getattr(answer, "claims", []) or [])
    if getattr(answer, "fallback", "") or getattr(answer, "declined", False) or not claims:
        return text
    if all(c.supported for c in claims):
        return text
    from rag.answering.verify import with_citations

    marks = {getattr(c, "mark", "") or NOT_FOUND for c in claims}
    if not any(c.supported for c in claims) and len(marks) == 1:  # one reason for all: once
        return " ".join(c.text for c in claims) + f" *({marks.pop()})*"
    return " ".join(with_citations(c.text, c.sources) if c.supported
                    else f"{c.text} *({getattr(c, 'mark', '') or NOT_FOUND})*" for c in claims)


class EvidenceView(QLabel):
    """Numbered quotes with file and page; `evidence_clicked(n)` when one is activated."""

    evidence_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[dict] = []
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.setOpenExternalLinks(False)
        self.setAccessibleName("Passages from your documents")
        self.setObjectName("evidenceView")
        self.linkActivated.connect(self._on_link)
        self.setVisible(False)

    def set_evidence(self, items: list) -> None:
        self._items = [evidence_fields(i) for i in items or []]
        if not self._items:
            self.clear()
            self.setVisible(False)
            return
        rows = ["<b>From your documents</b>"]
        for e in self._items:
            where = Path(str(e["path"] or "")).name + (f", page {e['page']}" if e["page"] else "")
            rows.append(
                f'<a href="evidence:{e["n"]}">[{e["n"]}]</a> '
                f"\u201c{html.escape(str(e['quote'] or ''))}\u201d "
                f'<span style="color: palette(mid)">\u2014 {html.escape(where)}</span>')
        self.setText("<br>".join(rows))
        self.setToolTip("Click a number to open the passage in its document")
        self.setVisible(True)

    def items(self) -> list[dict]:
        return list(self._items)

    def item(self, n: int) -> dict | None:
        return next((e for e in self._items if e["n"] == n), None)

    def _on_link(self, link: str) -> None:
        if link.startswith("evidence:"):
            try:
                self.evidence_clicked.emit(int(link.split(":", 1)[1]))
            except ValueError:
                return
