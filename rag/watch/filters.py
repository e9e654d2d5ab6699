"""Which paths the watcher should ignore: junk that editors, Office and browsers leave behind.

Why: these files come and go during normal work (swap files, lock files, partial downloads);
indexing them would waste embedding time and pollute answers with half-written text.
"""

from __future__ import annotations

import os
from pathlib import PurePath

from rag.base.paths import is_under
from rag.loaders import is_supported

# Browsers and download tools write here first and rename when complete.
PARTIAL_SUFFIXES = frozenset({".part", ".crdownload", ".tmp", ".temp", ".download", ".partial",
                              ".opdownload", ".!qb", ".filepart"})
# Editor swap and backup files (vim, emacs, kate, generic).
EDITOR_SUFFIXES = frozenset({".swp", ".swo", ".swx", ".swn", ".bak", ".orig", ".kate-swp"})


def junk_reason(name: str) -> str | None:
    """Why a file name is junk (None if it is a normal file name). Checks the name only."""
    lower = name.lower()
    if not name:
        return "empty name"
    if name.startswith("."):
        return "hidden file"  # also covers .#emacs-locks, .~lock.x# (LibreOffice), .x.swp (vim)
    if name.startswith("~$"):
        return "Office lock file"
    if name.endswith("~"):
        return "editor backup file"
    if name.startswith("#") and name.endswith("#"):
        return "editor autosave file"
    suffix = os.path.splitext(lower)[1]
    if suffix in PARTIAL_SUFFIXES:
        return "partial download or temporary file"
    if suffix in EDITOR_SUFFIXES:
        return "editor swap or backup file"
    return None


class PathFilter:
    """Decides, from the path alone (no disk access), whether an event path is worth handling.

    `roots` are the watched folders: only the parts of a path *below* a root are checked for
    hidden components, so a watched folder may itself live under a hidden directory.
    `exclude` holds folders never to index (the library's own data dir); `removed` the files and
    folders the user removed from the library, which stay out until added again.
    """

    def __init__(self, roots: list[str] | None = None, exclude: list[str] | None = None,
                 removed: list[str] | None = None) -> None:
        self.roots = [os.path.normpath(r) for r in (roots or [])]
        self.exclude = [os.path.normpath(e) for e in (exclude or [])]
        self.removed = [os.path.normpath(e) for e in (removed or [])]

    def _relative_parts(self, path: str) -> tuple[str, ...]:
        for root in self.roots:
            if path == root:
                return ()
            if path.startswith(root + os.sep):
                return PurePath(path[len(root) + 1:]).parts
        return (PurePath(path).name,)

    def excluded(self, path: str) -> bool:
        path = os.path.normpath(path)
        return any(is_under(path, e) for e in (*self.exclude, *self.removed))

    def dir_ok(self, path: str) -> bool:
        """A directory is descended into unless it (or a parent below the root) is hidden."""
        path = os.path.normpath(path)
        if self.excluded(path):
            return False
        return not any(p.startswith(".") for p in self._relative_parts(path))

    def reason(self, path: str) -> str | None:
        """Why a file path is ignored, or None if it should be indexed."""
        path = os.path.normpath(path)
        if any(is_under(path, e) for e in self.exclude):
            return "inside the library's data folder"
        if any(is_under(path, e) for e in self.removed):
            return "removed from the library (add it again to index it)"
        parts = self._relative_parts(path)
        if any(p.startswith(".") for p in parts[:-1]):
            return "inside a hidden folder"
        why = junk_reason(PurePath(path).name)
        if why:
            return why
        if not is_supported(path):
            return "unsupported file type"
        return None

    def wanted(self, path: str) -> bool:
        return self.reason(path) is None

    def walk(self, folder: str):
        """Yield (path, os.stat_result) for every wanted regular file under `folder`."""
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if self.dir_ok(os.path.join(dirpath, d)))
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if not self.wanted(full):
                    continue
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                if _is_regular(st):
                    yield full, st


def _is_regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)
