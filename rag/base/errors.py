"""Errors the user should read: each carries a plain-words message."""


class HearthError(Exception):
    """Base for errors shown to the user as-is."""


class LoadError(HearthError):
    """A file could not be read into text (corrupt, encrypted, empty, unsupported...)."""


class UnsupportedFormat(LoadError):
    pass


class LibraryInUse(HearthError):
    """Another process is writing this library."""


class EmbeddingMismatch(HearthError):
    """The store was built with a different embedding model."""


class Cancelled(HearthError):
    """Long work stopped because the user asked."""


def plain_failure(exc: BaseException, data_dir: object = None) -> str:
    """One line in plain words for an unexpected failure, never a traceback.

    Why: a full disk or a read-only folder surfaces from SQLite, chromadb or the OS with many
    types and wordings ("database or disk is full", "Error in compaction", Errno 28); the user
    needs to know what happened and that re-running after fixing it is safe.
    """
    import errno

    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    words = " ".join(str(e) for e in chain).lower()
    codes = {getattr(e, "errno", None) for e in chain}
    where = f" ({data_dir})" if data_dir else ""
    if errno.ENOSPC in codes or errno.EDQUOT in codes or _nearly_full(data_dir) \
            or "disk is full" in words or "no space left" in words or "quota exceeded" in words:
        return (f"The disk holding the library{where} is full. Free some space and run the "
                "command again; what was already saved is kept.")
    if errno.EROFS in codes or "readonly database" in words or "read-only file system" in words:
        return (f"The library folder{where} is read-only, so Hearth can't save changes there. "
                "Use a writable folder with --data-dir.")
    if errno.EACCES in codes or errno.EPERM in codes or "permission denied" in words:
        return f"Permission denied while using the library{where}."
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return (f"Unexpected error ({type(exc).__name__}{': ' + first if first else ''}). "
            "Set HEARTH_DEBUG=1 to see the details.")


def _nearly_full(data_dir: object) -> bool:
    """SQLite often reports a full disk as a mere "disk I/O error": look at the disk itself."""
    import os
    import shutil

    path = str(data_dir) if data_dir else ""
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    try:
        return bool(path) and shutil.disk_usage(path).free < (4 << 20)
    except OSError:
        return False
