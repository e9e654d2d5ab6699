"""Small facts about files for the indexer: hashes, printable names, reasons fit to show.

Kept apart from rag/ingest/indexer.py (which re-exports them) so that one stays about the pipeline;
which files a run covers (`expand`) and their one spelling (`norm_path`) live here too.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

MAX_REASON = 300
_GARBAGE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd]")


def clean_reason(reason: str) -> str:
    """A reason fit to show: a library's message may quote raw bytes of the file (a PDF's
    "Unsupported filter /Flate" followed by binary); cut at the first such byte, drop the
    mangled tail before it, and keep it short."""
    m = _GARBAGE.search(reason)
    if m:
        reason = re.sub(r"[^\x20-\x7e]+$", "", reason[:m.start()]).rstrip() + "…"
        reason += ")" * max(0, reason.count("(") - reason.count(")"))
    reason = " ".join(reason.split())
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 1] + "…"


def content_hash(model_id: str, text: str) -> str:
    """What a chunk's vector depends on: the model and the exact text it embedded."""
    return hashlib.sha256(f"{model_id}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hash a regular file. Opened non-blocking and checked again after opening, so a file
    swapped for a pipe or a device after the first check can't hang the run."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        h = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def shown_path(path: str) -> str:
    """A path fit to print and store in reports: undecodable bytes shown as \\xNN escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def norm_path(path: str | Path) -> str:
    """One spelling per file: absolute, symlinks resolved (the watcher sees real paths too)."""
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(files to consider, folders walked); hidden files and folders are left out of walks.

    Each file once, by its real path: one named twice, inside a folder also named, or reached
    through a symlink too is listed at its first spelling only (a duplicate would put the same
    chunk ids twice into one store upsert and fail the whole run)."""
    files: list[Path] = []
    folders: list[Path] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in paths:
        p = Path(norm_path(raw))
        if p.is_dir():
            if p in folders:
                continue
            folders.append(p)
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(names):
                    if not n.startswith("."):
                        add(Path(root) / n)
        else:
            add(p)
    return files, folders
