"""Decide whether a clicked link may be opened: only files that are inside the library.

Why Qt-free: this is the security boundary between text a model wrote (which may contain any
link) and the system file viewer, so it is tested on its own, without a display.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

_PAGE_RE = re.compile(r"^page=(\d{1,6})$")


def resolve_library_link(url: str, library_paths: set[str]) -> tuple[Path, int | None] | None:
    """Return (file, page) when `url` names a file in `library_paths`, else None.

    Accepts `file://` URLs and plain absolute paths, with an optional `#page=N` fragment.
    `library_paths` holds the library's document paths and/or folder roots; the resolved file
    (symlinks and `..` collapsed) must equal one of them or lie inside one that is a folder.
    Anything else (http, javascript, relative paths, traversal, missing files) gives None.
    """
    if not url or not library_paths:
        return None
    if "\x00" in url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return None
        raw_path = unquote(parts.path)
        fragment = parts.fragment
    elif parts.scheme == "" and url.startswith("/"):
        raw_path, _, fragment = url.partition("#")
    else:
        return None
    if not raw_path or "\x00" in raw_path or not os.path.isabs(raw_path):
        return None
    page: int | None = None
    if fragment:
        match = _PAGE_RE.match(fragment)
        if not match:
            return None
        page = int(match.group(1))
        if page < 1:
            return None
    try:
        target = Path(raw_path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_file():
        return None
    for allowed in library_paths:
        try:
            root = Path(allowed).resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if target == root or (root.is_dir() and target.is_relative_to(root)):
            return target, page
    return None


def file_url(path: str | os.PathLike, page: int | None = None) -> str:
    """The `file://` URL (with a PDF page anchor when `page` is given) for a library file."""
    url = Path(path).resolve().as_uri()
    if page is not None and str(path).lower().endswith(".pdf"):
        url += f"#page={int(page)}"
    return url
