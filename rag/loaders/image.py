"""Images (.png, .jpg, .tiff): their text, read by OCR (see rag/loaders/ocr.py).

Why a loader of its own: photos of receipts, scanned letters and screenshots are documents too.
A single image is one page (number None); each frame of a multi-page TIFF is a page.
"""

from __future__ import annotations

from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument
from rag.loaders.base import numbered_pages, register


@register(".png", ".jpg", ".jpeg", ".tif", ".tiff")
def load_image(path: Path) -> LoadedDocument:
    from rag.loaders import ocr

    reason = ocr.unavailable_reason()
    if reason is not None:
        raise LoadError(f"an image: its text could only be read by OCR, and {reason[0].lower()}"
                        f"{reason[1:]}")
    texts = ocr.ocr_image_file(path)
    pages = numbered_pages(texts, "no text found in this image (OCR read nothing)")
    return LoadedDocument(path=str(path), title=path.stem, pages=pages)
