"""The source viewer's background worker: renders PDF pages, finds quotes, loads text files.

Why a thread of its own: rendering a page and reading a file take tens of milliseconds to
seconds; done on the GUI thread they would freeze the window. Every PDFium call holds
`rag.loaders.pdfium.PDFIUM_LOCK` (PDFium is not thread-safe and the indexer may use it at the same time).
Jobs carry a sequence number; a job older than the newest request is skipped, so paging quickly
through a long PDF renders only the page the user stops on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage, QImageReader

from app.gui.quote_locate import locate, normalise
from rag.loaders.pdfium import PDFIUM_LOCK

Rect = tuple[float, float, float, float]  # PDF points: left, bottom, right, top
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass
class PageJob:
    seq: int
    kind: str  # "pdf" | "text" | "image"
    path: str
    page: int | None  # 1-based page/slide/chapter; None for whole-file formats
    zoom: float = 0.0  # device-independent pixels per PDF point; 0 = fit `fit_px` wide
    fit_px: int = 800
    dpr: float = 1.0  # device pixel ratio: the image is rendered this much sharper
    quote: str = ""
    find: str = ""
    find_from: int = 0  # > 0: show the first page from this one on (wrapping) that has `find`


@dataclass
class PageResult:
    seq: int
    kind: str
    path: str
    page: int | None = None
    page_count: int = 0
    image: QImage | None = None
    size_pt: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    highlights: list[Rect] = field(default_factory=list)  # the quote, in PDF points
    finds: list[Rect] = field(default_factory=list)  # Ctrl+F matches, in PDF points
    has_text: bool = True  # False: a scanned page (its indexed text came from OCR)
    pages: list[tuple[int | None, str]] = field(default_factory=list)  # text formats
    error: str = ""
    seconds: float = 0.0


def kind_of(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".pdf":
        return "pdf"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return "text"


class PageWorker(QObject):
    """Lives in its own QThread; `run(job)` is called through a queued signal."""

    done = Signal(object)  # PageResult

    def __init__(self) -> None:
        super().__init__()
        self.latest = 0  # set by the GUI thread: jobs older than this are skipped
        self._doc = None
        self._doc_key: tuple | None = None
        self._ocr_cache: dict[tuple, list] = {}  # the last scanned page's OCR lines

    @Slot(object)
    def run(self, job: PageJob) -> None:
        import time

        if job.seq < self.latest:
            return
        t0 = time.perf_counter()
        try:
            if job.kind == "pdf":
                result = self._pdf(job)
            elif job.kind == "image":
                result = self._image(job)
            else:
                result = self._text(job)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the viewer stays usable
            result = PageResult(job.seq, job.kind, job.path, job.page,
                                error=f"Could not show this file: {exc}")
        result.seconds = time.perf_counter() - t0
        self.done.emit(result)
        if result.kind == "pdf" and not result.error and not result.has_text and job.quote:
            self._ocr_highlight(job, result)

    def _ocr_highlight(self, job: PageJob, shown: PageResult) -> None:
        """A scanned page has no character boxes: find the quote's lines by OCR (seconds), then
        send the same page again with them highlighted, unless the user has moved on."""
        from rag.loaders import ocr

        if ocr.unavailable_reason() is not None or job.seq < self.latest:
            return
        key = (job.path, shown.page)
        lines = self._ocr_cache.get(key)
        if lines is None:
            with PDFIUM_LOCK:
                try:
                    doc = self._document(job.path)
                    image, scale = ocr.render_for_ocr(doc, shown.page or 1)
                except Exception:  # noqa: BLE001 - no highlight is better than an error here
                    return
            if image is None:
                return
            found = ocr.ocr_array(image[:, :, :3])
            height = shown.size_pt[1]
            lines = [(ln.text, (ln.box[0] / scale, height - ln.box[3] / scale,
                                ln.box[2] / scale, height - ln.box[1] / scale)) for ln in found]
            self._ocr_cache = {key: lines}
        want = normalise(ocr.strip_mark(job.quote))[0]
        rects = [box for text, box in lines if _mostly_in(normalise(text)[0], want)]
        if rects and job.seq >= self.latest:
            self.done.emit(replace(shown, highlights=rects))

    # -- PDF -------------------------------------------------------------------------------
    def _document(self, path: str):  # noqa: ANN202 - a pypdfium2 PdfDocument
        import pypdfium2 as pdfium

        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        if self._doc_key != key:
            self.close_document()
            self._doc = pdfium.PdfDocument(path)
            self._doc_key = key
        return self._doc

    def close_document(self) -> None:
        with PDFIUM_LOCK:
            if self._doc is not None:
                self._doc.close()
            self._doc, self._doc_key = None, None

    def _pdf(self, job: PageJob) -> PageResult:
        with PDFIUM_LOCK:
            try:
                doc = self._document(job.path)
            except Exception as exc:  # pypdfium2.PdfiumError: corrupt, password...
                return PageResult(job.seq, "pdf", job.path, job.page,
                                  error=f"Could not open this PDF ({exc}).")
            count = len(doc)
            if count == 0:
                return PageResult(job.seq, "pdf", job.path, job.page, error="This PDF has no pages.")
            number = min(max(1, job.page or 1), count)
            if job.find and job.find_from:
                number = _first_page_with(doc, job.find, job.find_from, count) or number
            page = doc[number - 1]
            textpage = page.get_textpage()
            try:
                width, height = page.get_size()
                scale = job.zoom or max(0.2, min(8.0, job.fit_px / max(1.0, width)))
                bitmap = page.render(scale=scale * job.dpr, rev_byteorder=True, prefer_bgrx=True)
                try:
                    image = QImage(bitmap.buffer, bitmap.width, bitmap.height, bitmap.stride,
                                   QImage.Format.Format_RGBX8888).copy()
                finally:
                    bitmap.close()
                chars = textpage.count_chars()
                text = _page_text(textpage, chars)
                highlights = _rects_for(textpage, locate(text, job.quote)) if job.quote else []
                finds = _search(textpage, job.find) if job.find else []
            finally:
                textpage.close()
                page.close()
        return PageResult(job.seq, "pdf", job.path, number, count, image, (width, height),
                          scale, highlights, finds, has_text=bool(text.strip()))

    # -- other kinds -----------------------------------------------------------------------
    def _image(self, job: PageJob) -> PageResult:
        reader = QImageReader(job.path)
        count = max(1, reader.imageCount())
        number = min(max(1, job.page or 1), count)
        if number > 1:
            reader.jumpToImage(number - 1)
        image = reader.read()
        if image.isNull():
            return PageResult(job.seq, "image", job.path, number,
                              error=f"Could not show this image ({reader.errorString()}).")
        size = (float(image.width()), float(image.height()))
        scale = job.zoom or min(1.0, job.fit_px / max(1.0, size[0]))  # big photos fit the width
        if abs(scale * job.dpr - 1.0) > 0.01:
            from PySide6.QtCore import Qt

            image = image.scaledToWidth(max(1, round(size[0] * scale * job.dpr)),
                                        Qt.TransformationMode.SmoothTransformation)
        return PageResult(job.seq, "image", job.path, number, count, image, size, scale,
                          has_text=False)

    def _text(self, job: PageJob) -> PageResult:
        from rag.base.errors import HearthError
        from rag.loaders import load_document

        try:
            doc = load_document(job.path)
        except HearthError as exc:
            return PageResult(job.seq, "text", job.path, job.page,
                              error=f"Could not show this file: {exc}")
        pages = [(p.number, p.text) for p in doc.pages]
        return PageResult(job.seq, "text", job.path, job.page, len(pages), pages=pages)


def _page_text(textpage, chars: int) -> str:  # noqa: ANN001
    """The page's characters, one string index per PDFium char index (so spans map to boxes)."""
    import pypdfium2.raw as raw

    get = raw.FPDFText_GetUnicode
    out = []
    for i in range(chars):
        code = get(textpage, i)
        out.append(chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else " ")
    return "".join(out)


def _mostly_in(line: str, quote: str) -> bool:
    """Whether an OCR'd line belongs to the quote: most of the line is in it, or (a short
    quote inside one line) all of the quote is in the line."""
    from difflib import SequenceMatcher

    if len(line) < 4 or len(quote) < 4:
        return False
    m = SequenceMatcher(None, line, quote, autojunk=False)
    size = m.find_longest_match(0, len(line), 0, len(quote)).size
    return size >= 0.6 * min(len(line), len(quote))


def _first_page_with(doc, text: str, start: int, count: int) -> int | None:  # noqa: ANN001
    """The first page number from `start` on (wrapping round) whose text contains `text`."""
    for k in range(count):
        number = (start - 1 + k) % count + 1
        page = doc[number - 1]
        textpage = page.get_textpage()
        try:
            searcher = textpage.search(text, match_case=False)
            found = searcher.get_next() is not None
            searcher.close()
        finally:
            textpage.close()
            page.close()
        if found:
            return number
    return None


def _rects_for(textpage, spans: list[tuple[int, int]]) -> list[Rect]:  # noqa: ANN001
    rects: list[Rect] = []
    for start, end in spans:
        n = textpage.count_rects(start, end - start)
        rects.extend(tuple(textpage.get_rect(i)) for i in range(n))  # type: ignore[misc]
    return rects


def _search(textpage, text: str) -> list[Rect]:  # noqa: ANN001
    searcher = textpage.search(text, match_case=False)
    rects: list[Rect] = []
    try:
        while (hit := searcher.get_next()) is not None:
            rects.extend(_rects_for(textpage, [(hit[0], hit[0] + hit[1])]))
            if len(rects) > 2000:
                break
    finally:
        searcher.close()
    return rects
