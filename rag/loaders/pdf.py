"""PDF loader (pypdf): one `Page` per page that has text, numbered as the reader sees them.

Why page by page: answers cite page numbers, so numbering stays true even when pages without
text (figures, blanks) or pages that fail to extract are left out.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from rag.errors import LoadError
from rag.loaders.base import clean_text, register
from rag.types import LoadedDocument, Page

_quietened = False


def _quieten_pypdf() -> None:
    """pypdf logs/warns about every small flaw in real-world PDFs; that is noise for the user."""
    global _quietened
    if not _quietened:
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"pypdf(\..*)?$")
        _quietened = True


def _title(reader: object, path: Path) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = meta.title if meta is not None else None
    except Exception:  # broken /Info dictionaries are common and harmless
        title = None
    if isinstance(title, str):
        title = " ".join(title.replace("\x00", "").split())
        for prefix in ("Microsoft Word - ", "Microsoft PowerPoint - "):
            if title.startswith(prefix):
                title = title[len(prefix):]
        if title and title.lower() not in {"untitled", "untitled document", "title"}:
            return title
    return path.stem


def _encryption_problem(exc: BaseException) -> LoadError | None:
    """Encryption errors get their own reason, not a vague "corrupt"."""
    from pypdf.errors import DependencyError

    if isinstance(exc, DependencyError):
        return LoadError(
            "encrypted PDF using AES; opening it needs the optional 'cryptography' package"
        )
    if isinstance(exc, NotImplementedError):
        return LoadError(f"encrypted PDF with an unsupported method ({_describe(exc)})")
    return None


def _decrypt(reader: object) -> None:
    """Open owner-password-only PDFs (empty user password); refuse ones that need a password."""
    try:
        ok = reader.decrypt("")  # type: ignore[attr-defined]
    except Exception as exc:
        problem = _encryption_problem(exc)
        if problem is not None:
            raise problem from exc
        raise LoadError(f"not a readable PDF: broken encryption data ({_describe(exc)})") from exc
    if not ok:
        raise LoadError("password-protected PDF; Hearth can't open it")


@register(".pdf")
def load_pdf(path: Path) -> LoadedDocument:
    from pypdf import PdfReader

    _quieten_pypdf()
    with path.open("rb") as fh:
        try:
            reader = PdfReader(fh, strict=False)
            encrypted = reader.is_encrypted
        except Exception as exc:  # pypdf raises many types on corrupt input
            problem = _encryption_problem(exc)
            if problem is not None:
                raise problem from exc
            raise LoadError(f"not a readable PDF: {_describe(exc)}") from exc
        if encrypted:
            _decrypt(reader)
        try:
            page_count = len(reader.pages)
        except Exception as exc:
            raise LoadError(f"not a readable PDF: {_describe(exc)}") from exc
        if page_count == 0:
            raise LoadError("not a readable PDF: it has no pages")

        pages: list[Page] = []
        failed: list[str] = []
        for number in range(1, page_count + 1):
            try:
                raw = reader.pages[number - 1].extract_text()
            except Exception as exc:  # one bad page must not lose the rest of the document
                problem = _encryption_problem(exc)
                if problem is not None:
                    raise problem from exc
                failed.append(_describe(exc))
                continue
            text = clean_text(raw or "")
            if text:
                pages.append(Page(number=number, text=text))
        title = _title(reader, path)

    from rag.ocr import no_text_reason, ocr_missing_pages

    pages = ocr_missing_pages(path, pages, page_count)  # scanned pages: OCR (rag/ocr.py)
    if not pages:
        if len(failed) == page_count:
            raise LoadError(f"not a readable PDF: no page could be read ({failed[0]})")
        raise LoadError(no_text_reason())
    return LoadedDocument(path=str(path), title=title, pages=pages)


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return message if message else type(exc).__name__
