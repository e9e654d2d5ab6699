"""Where a library lives on disk, created private (0700) so other users can't read it."""

from __future__ import annotations

import os
from pathlib import Path

from rag.base.errors import HearthError

APP_NAME = "Hearth"


def is_under(path: str, folder: str) -> bool:
    """`path` is `folder` itself or inside it: compared by path parts, so /a/bc is not under /a/b."""
    folder = folder.rstrip(os.sep) or os.sep
    return path == folder or path.startswith(folder if folder == os.sep else folder + os.sep)


def default_data_dir() -> Path:
    env = os.environ.get("HEARTH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def data_dir_path(explicit: str | os.PathLike | None = None) -> Path:
    """Where the data dir is (argument > HEARTH_DATA_DIR > platform default), creating nothing:
    for commands that only look (listing models must not leave a folder behind)."""
    return Path(explicit).expanduser() if explicit else default_data_dir()


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Pick the data dir (argument > HEARTH_DATA_DIR > platform default) and make it private."""
    path = data_dir_path(explicit)
    ensure_private_dir(path)
    return path


def ensure_private_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise HearthError(f"Cannot use the data folder {path}: {exc.strerror or exc}.") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise HearthError(f"The data folder {path} is not writable; choose another with --data-dir.")
    return probe_writable(path)


def private_file(path: Path) -> Path:
    """Tighten a file we created to 0600 (best effort: some filesystems ignore modes)."""
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
    return path


def probe_writable(path: Path) -> Path:
    """Really create and remove a file in `path`: os.access says yes to root even on a read-only
    mount, and the user should hear "not writable" up front, not as a SQLite error mid-index."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".hearth-probe-", dir=path)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise HearthError(
            f"The data folder {path} is not writable ({exc.strerror or exc}); "
            "choose another with --data-dir or HEARTH_DATA_DIR."
        ) from exc
    return path


def secure_tree(path: Path) -> int:
    """Tighten everything under `path` to dirs 0700 / files 0600; returns how many changed.

    Why: libraries created by an older version, copied in, or written under a loose umask.
    Symlinks are not followed (their targets are not ours to change).
    """
    changed = 0
    for root, dirs, files in os.walk(path):
        for name, mode in [(n, 0o700) for n in dirs] + [(n, 0o600) for n in files]:
            full = os.path.join(root, name)
            try:
                st = os.lstat(full)
                if not os.path.islink(full) and st.st_mode & 0o777 != mode:
                    os.chmod(full, mode)
                    changed += 1
            except OSError:
                pass
    try:
        if os.stat(path).st_mode & 0o777 != 0o700:
            os.chmod(path, 0o700)
            changed += 1
    except OSError:
        pass
    return changed


def loose_permissions(path: Path) -> list[str]:
    """Paths under `path` (itself included) that group or others can access; [] means private."""
    found: list[str] = []
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            try:
                st = os.lstat(name)
            except OSError:
                continue
            if not os.path.islink(name) and st.st_mode & 0o077:
                found.append(f"{oct(st.st_mode & 0o777)} {name}")
    return sorted(set(found))
