"""Safe Markdown rendering of model answers.

Why: an answer is text a model produced from *documents the user didn't write*; it may contain
raw HTML, remote images (a tracking pixel is a network request) or links to anything. We render
it with raw HTML escaped, images reduced to data: URLs or their alt text, and a text browser that
loads no resource but data: and opens links only after they pass `linkcheck`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import mistune
from mistune.renderers.html import HTMLRenderer
from mistune.util import escape as escape_text
from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QSizePolicy, QTextBrowser, QWidget

from app.gui.linkcheck import resolve_library_link

# A citation marker as Hearth writes it (rag.answering.verify.with_citations, fallback_text): "[n]" at the
# end of a sentence or a quoted passage, maybe after other markers. "[1]" inside a quoted line of
# R output ("statef [1] tas sa") is text, not a link.
_CITE_RE = re.compile(r"\[(\d{1,3})\](?=(?:\[\d{1,3}\])*\s*(?:[.!?;:,)]|$))")
_DATA_IMAGE = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;")


class _SafeRenderer(HTMLRenderer):
    """mistune's HTML renderer with images and citations handled our way."""

    def __init__(self) -> None:
        super().__init__(escape=True)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        if url.strip().lower().startswith(_DATA_IMAGE):
            return super().image(text, url, title)
        alt = escape_text(mistune.util.striptags(text)) or "image"
        return f"[{alt}]"

    def text(self, text: str) -> str:
        # Citation markers "[3]" become in-document anchors the chat panel maps to source 3.
        return _CITE_RE.sub(r'<a href="cite:\1">[\1]</a>', escape_text(text))


_markdown = mistune.create_markdown(
    renderer=_SafeRenderer(), plugins=["strikethrough", "table"], escape=True
)


_LINK_DEFINITION = re.compile(r"^( {0,3})\[([^\]\n]*)\]:", re.MULTILINE)
_TAG = re.compile(r"<[^>]+>")


def render_markdown(text: str) -> str:
    """Markdown -> HTML that is safe to show: no raw HTML, no remote images.

    A line like `[1]: text` is a Markdown link definition, which renders as nothing: small models
    write such lines, and they once turned a whole answer into an empty bubble. They are escaped
    so they show as text, and any input that still renders to no visible text is shown verbatim.
    """
    text = _LINK_DEFINITION.sub(lambda m: f"{m.group(1)}\\[{m.group(2)}]:", text or "")
    html = str(_markdown(text))
    if text.strip() and not _TAG.sub("", html).strip() and "<img" not in html:
        return "<p>" + escape_text(text).replace("\n", "<br>") + "</p>"
    return html


class AnswerView(QTextBrowser):
    """Read-only rich view of one answer that never fetches anything and vets every link click.

    `citation_clicked(n)` fires for `[n]` markers; other links open through `opener(path, page)`
    only when `resolve_library_link` accepts them against `library_paths()`.
    """

    citation_clicked = Signal(int)
    link_refused = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        library_paths: Callable[[], set[str]] | None = None,
        opener: Callable[[str, int | None], None] | None = None,
        fit_height: bool = False,
    ) -> None:
        super().__init__(parent)
        self._library_paths = library_paths or (lambda: set())
        self._opener = opener
        self._fit_height = fit_height
        self._markdown = ""
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.anchorClicked.connect(self._on_anchor)
        if fit_height:
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
            self.document().documentLayout().documentSizeChanged.connect(self._refit)

    # -- content -------------------------------------------------------------------------
    def set_markdown(self, text: str) -> None:
        self._markdown = text
        self.setHtml(render_markdown(text))

    def markdown(self) -> str:
        return self._markdown

    # -- safety --------------------------------------------------------------------------
    def loadResource(self, type_: int, url: QUrl | str) -> object:  # noqa: N802 (Qt override)
        """Refuse every resource except inline data: URLs (no file or network reads)."""
        qurl = url if isinstance(url, QUrl) else QUrl(str(url))
        if qurl.scheme() == "data":
            return super().loadResource(type_, qurl)
        return None

    def _on_anchor(self, url: QUrl) -> None:
        text = url.toString()
        if url.scheme() == "cite":
            try:
                self.citation_clicked.emit(int(url.path()))
            except ValueError:
                self.link_refused.emit(text)
            return
        resolved = resolve_library_link(text, self._library_paths())
        if resolved is None or self._opener is None:
            self.link_refused.emit(text)
            return
        path, page = resolved
        self._opener(str(path), page)

    # -- sizing (used inside the chat's message list) ------------------------------------
    def _refit(self) -> None:
        height = int(self.document().size().height()) + 2 * self.frameWidth() + 4
        self.setFixedHeight(max(height, 24))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._fit_height:
            self.document().setTextWidth(self.viewport().width())
            self._refit()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        if self._fit_height:
            return QSize(super().sizeHint().width(), int(self.document().size().height()) + 8)
        return super().sizeHint()


def plain_text(markdown_text: str) -> str:
    """The answer as plain text (what "Copy answer" puts on the clipboard besides Markdown)."""
    doc = QTextDocument()
    doc.setHtml(render_markdown(markdown_text))
    return doc.toPlainText()
