"""Loader registry and helpers shared by the format modules.

Why a separate module: the format modules register themselves here at import time, and the
package `__init__` imports them afterwards, so there is no import cycle.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from pathlib import Path

from rag.base.cancel import ThreadSession
from rag.base.errors import LoadError
from rag.base.types import LoadedDocument, Page

LoaderFn = Callable[[Path], LoadedDocument]

# suffix (lower case, with dot) -> loader function
_LOADERS: dict[str, LoaderFn] = {}

# Suffixes whose files are read whole into memory as text; they get the smaller size limit.
TEXT_LIKE: set[str] = set()


def _normalise_suffix(suffix: str) -> str:
    suffix = suffix.strip().lower()
    if not suffix:
        raise ValueError("empty suffix")
    return suffix if suffix.startswith(".") else "." + suffix


def register(*suffixes: str, text_like: bool = False) -> Callable[[LoaderFn], LoaderFn]:
    """Decorator: make `fn(path) -> LoadedDocument` the loader for these suffixes.

    A later registration for the same suffix replaces the earlier one (lets plugins override).
    `text_like=True` puts the suffixes under the smaller text size limit.
    """
    if not suffixes:
        raise ValueError("register() needs at least one suffix")
    normalised = [_normalise_suffix(s) for s in suffixes]

    def decorator(fn: LoaderFn) -> LoaderFn:
        for suffix in normalised:
            _LOADERS[suffix] = fn
            if text_like:
                TEXT_LIKE.add(suffix)
            else:
                TEXT_LIKE.discard(suffix)
        return fn

    return decorator


def plugin_modules() -> list[str]:
    """Modules outside rag.loaders that registered loaders: a loader child process imports
    them too, so a plugin's format is read there like the built-in ones."""
    return sorted({fn.__module__ for fn in _LOADERS.values()
                   if not fn.__module__.startswith("rag.loaders")})


# -- load sessions: progress per page and cancel between pages --------------------------------
class LoadCancelled(LoadError):
    """The user cancelled while this file was being read: not a fault of the file."""


_session = ThreadSession()


def load_session(progress: Callable[[str, int, int], None] | None = None,
                 cancel: object | None = None):  # noqa: ANN201 - a context manager
    """Loads run inside this block report `progress(stage, done, total)` per page and stop
    between pages once `cancel.cancelled` is true (this thread only)."""
    return _session.bound(progress, cancel)


def page_step(done: int, total: int, stage: str = "pages") -> None:
    """Called by paged loaders after each page: raise LoadCancelled if cancelled, else report."""
    if _session.cancelled:
        raise LoadCancelled("cancelled before this file was read")
    if _session.progress is not None:
        _session.progress(stage, done, total)


def loader_for(suffix: str) -> LoaderFn | None:
    return _LOADERS.get(suffix.lower())


def registered_suffixes() -> frozenset[str]:
    return frozenset(_LOADERS)


_OS_REASONS = {
    errno.ENOENT: "file not found",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "file not found (a part of the path is not a folder)",
    errno.ENAMETOOLONG: "file name too long",
    errno.ELOOP: "too many symbolic links",
    errno.EIO: "input/output error (disk or network drive problem?)",
    errno.EBUSY: "file is busy",
    errno.ENXIO: "device not available",
}


def os_reason(exc: OSError) -> str:
    """Plain-words reason for an OS error ("permission denied", "file not found", ...)."""
    if exc.errno in _OS_REASONS:
        return _OS_REASONS[exc.errno]
    if exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(os_reason(exc)) from exc


# --- text clean-up -------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\x0b\x0c]+")
_HYPHEN_BREAK = re.compile(r"([^\W\d_])[-\u2010][ \t]*\n[ \t]*([^\W\d_])")
_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad[ \t]*\n[ \t]*")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def _join_hyphen(m: re.Match[str]) -> str:
    # Only a lower-case continuation is a word split ("exam-\nple"); "Jean-\nPaul" keeps its dash.
    left, right = m.group(1), m.group(2)
    return left + right if right.islower() else f"{left}-{right}"


def clean_text(text: str, dehyphenate: bool = True) -> str:
    """Normalise extracted text: unify newlines, collapse space runs, join hyphen line-breaks,
    keep paragraph breaks (one blank line) and single line breaks, trim the ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SOFT_HYPHEN_BREAK.sub("", text).translate(_ZERO_WIDTH)
    text = _SPACES.sub(" ", text)
    if dehyphenate:
        text = _HYPHEN_BREAK.sub(_join_hyphen, text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def numbered_pages(texts: list[str], none_found: str) -> list[Page]:
    """A document's parts as pages: a lone part is the whole document (page None, like a file
    without pages), several are pages 1..n (a TIFF's frames, an .odt's sections); parts with
    no text are left out. Raises LoadError(`none_found`) when no part has text."""
    if len(texts) == 1:
        pages = [Page(None, texts[0])] if texts[0] else []
    else:
        pages = [Page(n, t) for n, t in enumerate(texts, 1) if t]
    if not pages:
        raise LoadError(none_found)
    return pages


def clean_plain_text(text: str) -> str:
    """Lighter clean-up for files the user wrote (text/markdown): keep indentation and hyphens,
    only unify newlines, drop trailing spaces and squeeze runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ZERO_WIDTH)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")
