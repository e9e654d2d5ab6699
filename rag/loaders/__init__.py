"""Turn a file on disk into a `LoadedDocument` (title + pages of text).

Every failure a user could meet (missing, unreadable, too large, corrupt, encrypted, scanned,
binary, empty, unsupported) becomes a `LoadError` with a plain-words reason, so the indexer can
record it and carry on with the next file. Format libraries are imported lazily by each loader.

Add a format with `@register(".ext")` on a function `fn(path: Path) -> LoadedDocument`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rag.base.errors import LoadError, UnsupportedFormat
from rag.base.types import LoadedDocument

# Importing the format modules registers their loaders (each imports only rag.loaders.base).
from rag.loaders import docx as _docx  # noqa: F401
from rag.loaders import epub as _epub  # noqa: F401
from rag.loaders import html as _html  # noqa: F401
from rag.loaders import image as _image  # noqa: F401
from rag.loaders import odt as _odt  # noqa: F401
from rag.loaders import pdf as _pdf  # noqa: F401
from rag.loaders import pptx as _pptx  # noqa: F401
from rag.loaders import text as _text  # noqa: F401
from rag.loaders.base import TEXT_LIKE, human_size, loader_for, os_reason, register
from rag.loaders.base import registered_suffixes as _registered_suffixes

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TEXT_BYTES",
    "is_supported",
    "load_document",
    "precheck",
    "register",
    "supported_suffixes",
]

# Binary formats (PDF, DOCX) are streamed by their libraries; text-like files are read whole.
MAX_FILE_BYTES: int = 512 * 1024 * 1024
MAX_TEXT_BYTES: int = 64 * 1024 * 1024
# A file this big whose disk blocks cover under 1/16 of its length is mostly holes (sparse):
# never a real document, and reading it through would take minutes.
SPARSE_MIN_BYTES: int = 32 * 1024 * 1024
# What a format's first bytes must look like; the PDF header may follow up to 1 KiB of junk.
_MAGIC = {
    ".pdf": (lambda head: b"%PDF-" in head[:1024],
             "not a readable PDF: the file does not start like a PDF"),
    ".docx": (lambda head: head.startswith(b"PK\x03\x04"),
              "not a readable Word document: the file is not a .docx (zip) package"),
}


def supported_suffixes() -> frozenset[str]:
    """Lower-case suffixes with a dot, e.g. {".pdf", ".txt", ".md", ...}."""
    return _registered_suffixes()


def is_supported(path: str | Path) -> bool:
    return loader_for(Path(path).suffix) is not None


def _size_limit(suffix: str) -> int:
    if suffix in TEXT_LIKE:
        return min(MAX_FILE_BYTES, MAX_TEXT_BYTES)
    return MAX_FILE_BYTES


def precheck(path: str | Path, st: os.stat_result | None = None) -> str | None:
    """Why this file must not be read, found cheaply (type, size, first bytes), or None.

    Runs before anything reads the whole file (hashing included): a pipe or /dev/zero would
    hang the reader, and a huge or sparse file would cost minutes only to be refused.
    """
    p = Path(path)
    try:
        st = st or p.stat()
    except OSError as exc:
        return os_reason(exc)
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe, device or socket); only files are read"
    if st.st_size == 0:
        return "empty file"
    suffix = p.suffix.lower()
    limit = _size_limit(suffix)
    if st.st_size > limit:
        return f"file too large ({human_size(st.st_size)}; the limit is {human_size(limit)})"
    blocks = getattr(st, "st_blocks", None)
    if blocks is not None and st.st_size >= SPARSE_MIN_BYTES and blocks * 512 * 16 < st.st_size:
        return f"mostly empty space ({human_size(st.st_size)} with almost no data on disk)"
    check = _MAGIC.get(suffix)
    if check is not None:
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even on a FIFO
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return "not a regular file (a pipe, device or socket); only files are read"
                head = os.read(fd, 1024)
            finally:
                os.close(fd)
        except OSError as exc:
            return os_reason(exc)
        if not check[0](head):
            return check[1]
    return None


def load_document(path: str | Path) -> LoadedDocument:
    """Read one file. Raises `UnsupportedFormat` or `LoadError` (reason in plain words)."""
    p = Path(os.path.abspath(Path(path).expanduser()))
    suffix = p.suffix.lower()
    loader = loader_for(suffix)
    if loader is None:
        raise UnsupportedFormat(f"unsupported file type {suffix or '(no extension)'}")

    problem = precheck(p)
    if problem is not None:
        raise LoadError(problem)
    if not os.access(p, os.R_OK):
        raise LoadError("permission denied")

    try:
        doc = loader(p)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(os_reason(exc)) from exc
    except MemoryError as exc:
        raise LoadError("file too large to load into memory") from exc
    except Exception as exc:  # a safety net: one odd file must never stop indexing
        raise LoadError(f"could not read this file ({type(exc).__name__}: {exc})") from exc

    if not any(page.text.strip() for page in doc.pages):
        raise LoadError("no text found in this file")
    doc.path = str(p)
    if not doc.title.strip():
        doc.title = p.stem
    return doc
