"""PDF loader: one `Page` per page that has text, numbered as the reader sees them.

Why page by page: answers cite page numbers, so numbering stays true even when pages without
text (figures, blanks) or pages that fail to extract are left out.

Why pypdfium2 first: PDFium places words by their glyph positions, so it keeps word boundaries
where pypdf glues words together (a font whose space glyph is wider than the gaps of justified
text gives "Youcantlistallfiles..."), and it reads real manuals ~15x faster (>500 pages/s
against ~35). pypdf stays as the fallback: for files PDFium refuses (its reasons are the
plain-words ones users see: password, AES, corrupt) and for single pages where PDFium finds no
text.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page, Section
from rag.loaders.base import clean_text, page_step, register
from rag.loaders.pdfium import PDFIUM_LOCK

_quietened = False
# PDFium marks a hyphen it found at a line end with U+FFFE and joins the two lines.
_LINE_END_HYPHEN = re.compile("\ufffe([^\\W\\d_]?)")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffe\uffff]")


_PAGE_NUMBER = re.compile(r"\b(?:\d+|[ivxlcdm]+)\b", re.IGNORECASE)
# Off: measured on pdfqa-dev, stripping cost one question at hit@3/hit@5 (hybrid 0.932/0.977 ->
# 0.909/0.955, dense hit@5 0.955 -> 0.932): the chapter title in the header helps the embedder.
STRIP_RUNNING = False
RUNNING_MIN_PAGES = 3  # a top/bottom line repeated on this many pages is a running header
RUNNING_MAX_CHARS = 80  # ...and short: a full line of body text is not a header


class _UsePypdf(Exception):
    """PDFium could not open the file: let pypdf try, and give the reason if it fails too."""


def _quieten_pypdf() -> None:
    """pypdf logs/warns about every small flaw in real-world PDFs; that is noise for the user.

    Warnings are silenced by category, not only by module: pypdf raises some of them with a
    `stacklevel` that attributes them to the caller, which a module filter does not catch.
    """
    global _quietened
    if not _quietened:
        from pypdf.errors import PdfReadWarning

        logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)
        warnings.filterwarnings("ignore", module=r"pypdf(\..*)?$")
        warnings.filterwarnings("ignore", category=PdfReadWarning)
        _quietened = True


def _clean_title(title: object, path: Path) -> str:
    if isinstance(title, str):
        title = " ".join(title.replace("\x00", "").split())
        for prefix in ("Microsoft Word - ", "Microsoft PowerPoint - "):
            if title.startswith(prefix):
                title = title[len(prefix):]
        if title and title.lower() not in {"untitled", "untitled document", "title"}:
            return title
    return path.stem


def _title(reader: object, path: Path) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = meta.title if meta is not None else None
    except Exception:  # broken /Info dictionaries are common and harmless
        title = None
    return _clean_title(title, path)


def pdfium_text(raw: str) -> str:
    """PDFium's page text as plain text: line-end hyphens resolved, control characters out."""
    def hyphen(m: re.Match[str]) -> str:
        nxt = m.group(1)
        return nxt if nxt.islower() else "-" + nxt  # "infor-mation" joins, "Jean-Paul" keeps it

    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _LINE_END_HYPHEN.sub(hyphen, text)
    return _CONTROLS.sub(" ", text)


OUTLINE_MAX = 5000  # bookmarks read per document: a hostile outline can hold millions


def _outline(pdf) -> list[Section]:
    """The bookmarks that point at a page, in document order. Why: a manual's section
    titles say what a page is about in the words a user asks with (issue 29)."""
    out: list[Section] = []
    try:
        for mark in pdf.get_toc(max_depth=8):
            if len(out) >= OUTLINE_MAX:
                break
            dest = mark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = " ".join((mark.get_title() or "").split())
            if index is not None and title:
                out.append(Section(page=index + 1, level=int(mark.level), title=title[:300]))
    except Exception:  # a broken outline costs the headings, never the document
        return []
    return out


def _pdfium_pages(path: Path) -> tuple[str, list[str | None], list[Section]]:
    """(title, raw text per page; None where PDFium failed on that page, the outline)."""
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:  # a broken install: pypdf alone still works
        raise _UsePypdf() from exc
    with PDFIUM_LOCK:  # PDFium is not thread-safe (rag/loaders/pdfium.py)
        try:
            pdf = pdfium.PdfDocument(str(path))
        except Exception as exc:  # PdfiumError (password, corrupt), OSError...
            raise _UsePypdf() from exc
        try:
            try:
                title = pdf.get_metadata_dict().get("Title")
            except Exception:
                title = None
            outline = _outline(pdf)
            texts: list[str | None] = []
            count = len(pdf)
            for index in range(count):
                page_step(index, count)  # cancel stops between pages
                try:
                    page = pdf[index]
                    try:
                        textpage = page.get_textpage()
                        try:
                            texts.append(pdfium_text(textpage.get_text_range()))
                        finally:
                            textpage.close()
                    finally:
                        page.close()
                except Exception:  # one bad page must not lose the rest of the document
                    texts.append(None)
        finally:
            pdf.close()
    return _clean_title(title, path), texts, outline


@register(".pdf")
def load_pdf(path: Path) -> LoadedDocument:
    from rag.loaders.pdf_streams import check_streams

    check_streams(path)  # a flate bomb is refused before PDFium unpacks it
    try:
        title, raw_pages, outline = _pdfium_pages(path)
    except _UsePypdf:
        return _load_pypdf(path)
    if not raw_pages:
        return _load_pypdf(path)  # pypdf says why a document has no pages
    pages: list[Page] = []
    failed: list[str] = []
    reader = None
    for number, raw in enumerate(raw_pages, 1):
        text = clean_text(raw or "")
        if not text:  # blank, a figure, or a page PDFium can't read: pypdf gets a second look
            if reader is None:
                reader = _open_pypdf(path)
            text, problem = _pypdf_page(reader, number)
            if problem:
                failed.append(problem)
        if text:
            pages.append(Page(number=number, text=text))
    doc = _finish(path, title, pages, failed, len(raw_pages))
    doc.outline = outline
    return doc


def _running_key(line: str) -> str:
    return " ".join(_PAGE_NUMBER.sub("#", line.lower()).split())


def strip_running_lines(texts: list[str], min_pages: int = RUNNING_MIN_PAGES) -> list[str]:
    """Drop running headers/footers and page numbers: a short first or last two lines of a
    page that, numbers aside, recur at the top or bottom of `min_pages` pages or more and
    never inside a page's body.

    Why: "Chapter 1: Creating R packages 14" opens every page of a chapter; in the chunk it
    adds the same words to dozens of passages (BM25 noise) and a page number to quote.
    """
    def edges(lines: list[str]) -> list[int]:
        n = len(lines)  # a short page keeps its middle: only its outermost lines can be chrome
        ends = (0, 1, n - 2, n - 1) if n >= 6 else (0, n - 1) if n >= 3 else (0,) if n == 2 else ()
        return sorted(set(ends))

    split = [t.split("\n") for t in texts]
    counts: dict[str, int] = {}
    body: set[str] = set()
    for lines in split:
        ends = edges(lines)
        for key in {_running_key(lines[i]) for i in ends if len(lines[i]) <= RUNNING_MAX_CHARS}:
            counts[key] = counts.get(key, 0) + 1
        body.update(_running_key(line) for i, line in enumerate(lines) if i not in ends)
    drop = {k for k, n in counts.items()
            if n >= min_pages and k not in body and any(c.isalpha() for c in k)}
    drop.add("#")  # a bare page number, arabic or roman
    out = []
    for lines in split:
        gone = {i for i in edges(lines) if _running_key(lines[i]) in drop}
        out.append("\n".join(line for i, line in enumerate(lines) if i not in gone).strip())
    return out


def _finish(path: Path, title: str, pages: list[Page], failed: list[str], page_count: int
            ) -> LoadedDocument:
    if STRIP_RUNNING and len(pages) >= 2 * RUNNING_MIN_PAGES:
        kept = strip_running_lines([p.text for p in pages])
        pages = [Page(number=p.number, text=t) for p, t in zip(pages, kept, strict=True) if t]
    from rag.loaders.ocr import no_text_reason, ocr_missing_pages

    pages = ocr_missing_pages(path, pages, page_count)  # scanned pages: OCR (rag/loaders/ocr.py)
    if not pages:
        if failed and len(failed) == page_count:
            raise LoadError(f"not a readable PDF: no page could be read ({failed[0]})")
        raise LoadError(no_text_reason())
    return LoadedDocument(path=str(path), title=title, pages=pages)


# --- pypdf: the fallback ---------------------------------------------------------------------

def _encryption_problem(exc: BaseException, encrypted: bool = True) -> LoadError | None:
    """Encryption errors get their own reason, not a vague "corrupt". pypdf also raises
    NotImplementedError for an unknown stream filter: that is encryption only in encrypted files."""
    from pypdf.errors import DependencyError

    if isinstance(exc, DependencyError):
        return LoadError(
            "encrypted PDF using AES; opening it needs the optional 'cryptography' package"
        )
    if isinstance(exc, NotImplementedError) and encrypted:
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


def _open_pypdf(path: Path):
    """A decrypted PdfReader over the whole file (read into memory: no handle left open)."""
    import io

    from pypdf import PdfReader

    _quieten_pypdf()
    try:
        data = path.read_bytes()
    except OSError as exc:
        from rag.loaders.base import os_reason

        raise LoadError(os_reason(exc)) from exc
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises many types on corrupt input
        problem = _encryption_problem(exc)
        if problem is not None:
            raise problem from exc
        raise LoadError(f"not a readable PDF: {_describe(exc)}") from exc
    if encrypted:
        _decrypt(reader)
    return reader


def _pypdf_page(reader, number: int) -> tuple[str, str]:
    """(clean text, failure reason or "") of one page."""
    try:
        raw = reader.pages[number - 1].extract_text()
    except Exception as exc:  # one bad page must not lose the rest of the document
        problem = _encryption_problem(exc, bool(getattr(reader, "is_encrypted", False)))
        if problem is not None:
            raise problem from exc
        return "", _describe(exc)
    return clean_text(raw or ""), ""


def _load_pypdf(path: Path) -> LoadedDocument:
    reader = _open_pypdf(path)
    try:
        page_count = len(reader.pages)
    except Exception as exc:
        raise LoadError(f"not a readable PDF: {_describe(exc)}") from exc
    if page_count == 0:
        raise LoadError("not a readable PDF: it has no pages")
    pages: list[Page] = []
    failed: list[str] = []
    for number in range(1, page_count + 1):
        page_step(number - 1, page_count)
        text, problem = _pypdf_page(reader, number)
        if problem:
            failed.append(problem)
        elif text:
            pages.append(Page(number=number, text=text))
    return _finish(path, _title(reader, path), pages, failed, page_count)


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return message if message else type(exc).__name__
