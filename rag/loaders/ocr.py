"""OCR for scanned PDF pages and images, offline, with rapidocr-onnxruntime.

Why this engine: its wheel ships the detection, orientation and recognition ONNX models, so
nothing is downloaded at run time, and it runs on the onnxruntime already installed. It supports
Python < 3.13 only; elsewhere `unavailable_reason()` says so and scanned pages stay unindexed
with that reason. OCR'd page text starts with `OCR_MARK` on a line of its own, so every front end
(and the model) can tell recognised text from a real text layer.

OCR can be turned off (Settings > Documents, `"ocr": false` in settings.json, `hearth index
--no-ocr`): then a scanned PDF or an image is skipped with that reason instead of read. The switch
is the HEARTH_OCR environment variable, so the file-reading child processes see it too.

Long work reports progress and can be cancelled: the indexer wraps a load in
`ocr_session(progress=..., cancel=...)`; each OCR'd page calls `progress(done, total, path)` and a
cancelled token raises `OcrCancelled` between pages.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.base.cancel import CancelToken, ThreadSession
from rag.base.errors import LoadError, UnsupportedFormat
from rag.base.types import Page
from rag.loaders.pdfium import PDFIUM_LOCK
from rag.offline.privacy import onnxruntime_telemetry_off

OCR_MARK = "[Text recognised by OCR]"
MAX_SIDE = 2000  # pixels: the engine scales larger images down to this anyway
MAX_DPI = 300
MIN_SCORE = 0.5  # recognition confidence below which a line is dropped as noise
MIN_TEXT_LAYER = 20  # characters: a page with less text (a stamp, a page number) is OCR'd too

Progress = Callable[[int, int, str], None]
ENV = "HEARTH_OCR"  # "off" turns OCR off in this process and the loader children it starts
OFF_REASON = ("OCR is turned off (turn it on in Settings > Documents and re-index, or run "
              "`hearth index --ocr --force`)")


class OcrCancelled(LoadError):
    """OCR stopped because the user cancelled: not a fault of the file, don't remember it."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels (y down)
    score: float


_engine = None
_engine_lock = threading.Lock()
_session = ThreadSession()


def enabled() -> bool:
    """Whether scanned pages and images are read by OCR (on unless turned off)."""
    return os.environ.get(ENV, "on").strip().lower() not in ("0", "off", "false", "no")


def set_enabled(on: bool) -> None:
    """Turn OCR on or off for this process and the file readers it starts from now on.

    Why the idle reader children are stopped: they copied the environment when they started,
    so a change must reach new ones. A file being read at this moment finishes as it began.
    """
    value = "on" if on else "off"
    if os.environ.get(ENV) == value:
        return
    os.environ[ENV] = value
    worker = sys.modules.get("rag.loaders.worker")
    if worker is not None and hasattr(worker, "close_workers"):
        worker.close_workers()


def configure(data_dir: str | os.PathLike, override: bool | None = None) -> bool:
    """Apply the library's OCR setting (or `override`, e.g. `--no-ocr`); returns it."""
    from rag.base.settings import Settings

    on = Settings.load(Path(data_dir)).ocr if override is None else override
    set_enabled(on)
    return on


def unavailable_reason() -> str | None:
    """None when OCR can run here, else why not in plain words."""
    try:
        _import_engine()
    except ImportError as exc:
        if sys.version_info >= (3, 13):
            return ("OCR is not available: rapidocr-onnxruntime supports Python 3.12 and older "
                    f"(this is Python {sys.version_info.major}.{sys.version_info.minor})")
        return f"OCR is not available: rapidocr-onnxruntime could not be loaded ({exc})"
    return None


def _import_engine():  # noqa: ANN202
    """Import RapidOCR without letting OpenCV's import rewrite Qt's plugin/font paths (the
    opencv-python wheel sets QT_QPA_PLATFORM_PLUGIN_PATH to its own Qt build on import)."""
    keep = {k: os.environ.get(k) for k in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR",
                                           "LD_LIBRARY_PATH")}
    try:
        from rapidocr_onnxruntime import RapidOCR

        onnxruntime_telemetry_off()
    finally:
        for key, value in keep.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return RapidOCR


def engine():  # noqa: ANN201 - a RapidOCR instance
    """The one engine of the process (loading its models takes ~0.3 s); calls are serialised."""
    global _engine
    with _engine_lock:
        if _engine is None:
            rapid = _import_engine()
            # No orientation classifier: on upright scans it flipped whole lines of justified
            # text to 180 degrees (they came back empty).
            _engine = rapid(print_verbose=False, use_cls=False)
            _engine.text_rec.postprocess_op = _SpacedDecode(_engine.text_rec.postprocess_op)
        return _engine


_BROAD = frozenset("mwMW%@")


class _SpacedDecode:
    """CTC decoding that puts back the spaces the bundled (Chinese + English) recogniser drops
    between Latin words ("Breadvillage", widest in justified lines): a gap between two
    characters much wider than the line's usual pitch is a space."""

    def __init__(self, original) -> None:  # noqa: ANN001
        self.character = original.character

    def __call__(self, preds, return_word_box: bool = False, **_kw) -> list:  # noqa: ANN001
        import numpy as np

        index, prob = preds.argmax(axis=2), preds.max(axis=2)
        out = []
        for row, row_prob in zip(index, prob, strict=True):
            keep = np.ones(len(row), dtype=bool)
            keep[1:] = row[1:] != row[:-1]
            keep &= row != 0  # 0 is the CTC blank
            cols = np.flatnonzero(keep)
            chars = [self.character[i] for i in row[keep]]
            if not chars:
                out.append(("", 0.0))
                continue
            gaps = np.diff(cols)
            pitch = float(np.median(gaps)) if len(gaps) else 0.0
            wide = max(5.0, 1.6 * pitch)
            text = [chars[0]]
            for ch, gap in zip(chars[1:], gaps, strict=True):
                broad = text[-1] in _BROAD or ch in _BROAD  # their pitch is wider anyway
                if gap >= wide + broad and text[-1] != " " and ch != " " and ch.isascii():
                    text.append(" ")
                text.append(ch)
            out.append(("".join(text), float(np.mean(row_prob[keep]))))
        return out


def ocr_array(image) -> list[OcrLine]:  # noqa: ANN001 - numpy array, H x W x 3 RGB uint8
    """Text lines found in an image, in no particular order."""
    import numpy as np

    eng = engine()
    with _engine_lock:
        result, _elapsed = eng(np.ascontiguousarray(image))
    lines: list[OcrLine] = []
    for box, text, score in result or []:
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        if float(score) >= MIN_SCORE and str(text).strip():
            lines.append(OcrLine(str(text).strip(), (min(xs), min(ys), max(xs), max(ys)),
                                 float(score)))
    return lines


def lines_to_text(lines: list[OcrLine]) -> str:
    """Reading order: rows top to bottom, boxes left to right. Boxes on one row far apart (table
    cells, columns of a form) are joined with " | " so a table keeps its rows; a gap between
    rows taller than a line starts a new paragraph."""
    if not lines:
        return ""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        mid = (line.box[1] + line.box[3]) / 2
        if rows:
            last = rows[-1]
            top = min(ln.box[1] for ln in last)
            bottom = max(ln.box[3] for ln in last)
            if top <= mid <= bottom:
                last.append(line)
                continue
        rows.append([line])
    heights = sorted(ln.box[3] - ln.box[1] for ln in lines)
    line_h = max(1.0, heights[len(heights) // 2])
    out: list[str] = []
    prev_bottom = None
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
        parts = [row[0].text]
        for left, right in zip(row, row[1:], strict=False):
            gap = right.box[0] - left.box[2]
            parts.append((" | " if gap > 1.5 * line_h else " ") + right.text)
        top = min(ln.box[1] for ln in row)
        if prev_bottom is not None:
            out.append("\n\n" if top - prev_bottom > 1.0 * line_h else "\n")
        out.append("".join(parts))
        prev_bottom = max(ln.box[3] for ln in row)
    return "".join(out)


def marked(text: str) -> str:
    """Page text as stored for an OCR'd page: the mark on its own line, then the text."""
    return f"{OCR_MARK}\n{text}" if text.strip() else ""


def is_ocr_text(text: str) -> bool:
    return text.lstrip().startswith(OCR_MARK)


def strip_mark(text: str) -> str:
    stripped = text.lstrip()
    return stripped[len(OCR_MARK):].lstrip() if stripped.startswith(OCR_MARK) else text


# -- sessions: progress and cancel for the indexer -------------------------------------------
def ocr_session(progress: Progress | None = None, cancel: CancelToken | None = None):  # noqa: ANN201
    """Report OCR progress per page and honour `cancel` for loads run inside this block (this
    thread only)."""
    return _session.bound(progress, cancel)


def _check_cancel() -> None:
    if _session.cancelled:
        raise OcrCancelled("OCR cancelled")


def _report(done: int, total: int, path: str) -> None:
    if _session.progress is not None:
        _session.progress(done, total, path)


# -- PDFs and image files --------------------------------------------------------------------
def render_for_ocr(doc, number: int) -> tuple:  # noqa: ANN001
    """(RGB numpy array, pixels per point) of page `number` rendered for OCR, or (None, 0) when
    the page holds no image (nothing to recognise). The caller holds PDFIUM_LOCK."""
    import pypdfium2.raw as raw

    page = doc[number - 1]
    try:
        if not any(True for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=3)):
            return None, 0.0
        width, height = page.get_size()
        scale = min(MAX_DPI / 72, MAX_SIDE / max(1.0, width, height))
        bitmap = page.render(scale=scale, rev_byteorder=True)
        try:
            return bitmap.to_numpy().copy(), scale
        finally:
            bitmap.close()
    finally:
        page.close()


def _has_image(doc, number: int) -> bool:  # noqa: ANN001 - the caller holds PDFIUM_LOCK
    import pypdfium2.raw as raw

    try:
        page = doc[number - 1]
    except Exception:  # noqa: BLE001 - a page PDFium can't open has nothing to recognise
        return False
    try:
        return any(True for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=3))
    except Exception:  # noqa: BLE001
        return False
    finally:
        page.close()


def _render(doc, number: int):  # noqa: ANN001, ANN202 - numpy RGB array or None
    return render_for_ocr(doc, number)[0]


def ocr_pdf_pages(path: str | Path, numbers: list[int]) -> dict[int, str]:
    """OCR the given 1-based pages of a PDF (those without a text layer). Returns marked text
    for each page where text was found. Raises OcrCancelled when the session is cancelled."""
    import pypdfium2 as pdfium

    out: dict[int, str] = {}
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(str(path))
    try:
        # Only pages holding an image are recognised, and progress counts those: "page 2 of 3"
        # means real OCR work (~seconds a page), never a blank page skipped at no cost.
        with PDFIUM_LOCK:
            numbers = [n for n in numbers if _has_image(doc, n)]
        if numbers:
            _report(0, len(numbers), str(path))
        for done, number in enumerate(numbers):
            _check_cancel()
            with PDFIUM_LOCK:
                try:
                    image = _render(doc, number)
                except Exception:  # noqa: BLE001 - a page PDFium can't draw: skip it
                    image = None
            if image is not None:
                text = lines_to_text(ocr_array(image[:, :, :3]))
                if text.strip():
                    out[number] = marked(text)
            _report(done + 1, len(numbers), str(path))
    finally:
        with PDFIUM_LOCK:
            doc.close()
    return out


def ocr_image_file(path: str | Path) -> list[str]:
    """Marked text of each frame of an image file (a multi-page TIFF has several).
    Raises UnsupportedFormat (the file is skipped, with the reason) when OCR is off."""
    if not enabled():
        raise UnsupportedFormat(f"an image: its text can only be read by OCR, and {OFF_REASON}")
    import numpy as np
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            frames = [f.convert("RGB") for f in ImageSequence.Iterator(img)]
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
            ValueError) as exc:
        raise LoadError(f"not a readable image: {exc}") from exc
    texts: list[str] = []
    _report(0, len(frames), str(path))  # OCR begins: seconds before the first frame is done
    for done, frame in enumerate(frames):
        _check_cancel()
        if max(frame.size) > MAX_SIDE:
            frame.thumbnail((MAX_SIDE, MAX_SIDE))
        texts.append(marked(lines_to_text(ocr_array(np.asarray(frame)))))
        _report(done + 1, len(frames), str(path))
    return texts


def ocr_missing_pages(path: str | Path, pages: list[Page], page_count: int) -> list[Page]:
    """The PDF loader's hook: add OCR'd text for the pages that have none (scanned pages), in
    page order. Without OCR here, the pages are returned as they are."""
    usable = {p.number for p in pages if len(p.text.strip()) >= MIN_TEXT_LAYER}
    missing = [n for n in range(1, page_count + 1) if n not in usable]
    if missing and not enabled():
        if not pages and _has_images(path, missing):  # a scan: skipped, saying why
            raise UnsupportedFormat(f"scanned PDF (no text layer): {OFF_REASON}")
        return pages  # the pages with text are indexed; scanned ones are left out
    if not missing or unavailable_reason() is not None:
        return pages
    found = ocr_pdf_pages(path, missing)  # pages without an image are skipped at no cost
    if not found:
        return pages
    kept = [p for p in pages
            if p.number not in found or len(p.text) >= len(strip_mark(found[p.number]))]
    added = [Page(number=n, text=t) for n, t in found.items()
             if not any(p.number == n for p in kept)]
    return sorted(kept + added, key=lambda p: p.number or 0)


def _has_images(path: str | Path, numbers: list[int]) -> bool:
    """Whether any of these pages holds an image (something OCR could read). No rendering."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    with PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(str(path))
        except Exception:  # noqa: BLE001 - unreadable: the loader's own reason applies
            return False
        try:
            for number in numbers:
                page = doc[number - 1]
                try:
                    if any(True for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE],
                                                          max_depth=3)):
                        return True
                finally:
                    page.close()
        except Exception:  # noqa: BLE001 - a page PDFium can't parse: no image found there
            return False
        finally:
            doc.close()
    return False


def no_text_reason() -> str:
    """Why a PDF with no text layer gave nothing, in plain words."""
    reason = unavailable_reason()
    if reason is not None:
        return f"no text layer (scanned PDF?) — {reason}"
    return "no text layer, and OCR found no text on its pages (blank or drawings only?)"
