"""Turn a file on disk into a `LoadedDocument` (title + pages of text).

Every failure a user could meet (missing, unreadable, too large, corrupt, encrypted, scanned,
binary, empty, unsupported) becomes a `LoadError` with a plain-words reason, so the indexer can
record it and carry on with the next file. Format libraries are imported lazily by each loader.

Add a format with `@register(".ext")` on a function `fn(path: Path) -> LoadedDocument`.
"""

from __future__ import annotations

import os
from pathlib import Path

from rag.errors import LoadError, UnsupportedFormat

# Importing the format modules registers their loaders (each imports only rag.loaders.base).
from rag.loaders import docx as _docx  # noqa: F401
from rag.loaders import html as _html  # noqa: F401
from rag.loaders import pdf as _pdf  # noqa: F401
from rag.loaders import text as _text  # noqa: F401
from rag.loaders.base import TEXT_LIKE, human_size, loader_for, os_reason, register
from rag.loaders.base import registered_suffixes as _registered_suffixes
from rag.types import LoadedDocument

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TEXT_BYTES",
    "is_supported",
    "load_document",
    "register",
    "supported_suffixes",
]

# Binary formats (PDF, DOCX) are streamed by their libraries; text-like files are read whole.
MAX_FILE_BYTES: int = 512 * 1024 * 1024
MAX_TEXT_BYTES: int = 64 * 1024 * 1024


def supported_suffixes() -> frozenset[str]:
    """Lower-case suffixes with a dot, e.g. {".pdf", ".txt", ".md", ...}."""
    return _registered_suffixes()


def is_supported(path: str | Path) -> bool:
    return loader_for(Path(path).suffix) is not None


def _size_limit(suffix: str) -> int:
    if suffix in TEXT_LIKE:
        return min(MAX_FILE_BYTES, MAX_TEXT_BYTES)
    return MAX_FILE_BYTES


def load_document(path: str | Path) -> LoadedDocument:
    """Read one file. Raises `UnsupportedFormat` or `LoadError` (reason in plain words)."""
    p = Path(os.path.abspath(Path(path).expanduser()))
    suffix = p.suffix.lower()
    loader = loader_for(suffix)
    if loader is None:
        raise UnsupportedFormat(f"unsupported file type {suffix or '(no extension)'}")

    try:
        st = p.stat()
    except OSError as exc:
        raise LoadError(os_reason(exc)) from exc
    if p.is_dir():
        raise LoadError("is a folder, not a file")
    if not p.is_file():
        raise LoadError("not a regular file")
    if st.st_size == 0:
        raise LoadError("empty file")
    limit = _size_limit(suffix)
    if st.st_size > limit:
        raise LoadError(
            f"file too large ({human_size(st.st_size)}; the limit is {human_size(limit)})"
        )
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
