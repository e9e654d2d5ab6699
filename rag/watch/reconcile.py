"""Startup reconciliation: compare the manifest with the disk and plan the changes to apply.

Why: Hearth is not running all the time. Files created, edited, deleted or renamed while it was
closed must be caught up on at start, cheaply: a file is hashed only when its size or mtime
differ from the manifest, and a renamed file is recognised by its content hash so its vectors
are kept (a manifest rename) rather than recomputed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from rag.base.paths import is_under
from rag.watch.filters import PathFilter

FINAL = ("indexed", "skipped", "failed")


@dataclass
class Plan:
    renames: list[tuple[str, str]] = field(default_factory=list)  # (old, new): no re-embedding
    forgets: list[str] = field(default_factory=list)  # files or whole vanished folders
    index: list[str] = field(default_factory=list)  # new or changed files

    def __bool__(self) -> bool:
        return bool(self.renames or self.forgets or self.index)


def records_under(lib, path: str) -> list:
    """Manifest records at or below `path` (uses the manifest's indexed query when available)."""
    manifest = getattr(lib, "manifest", None)
    if manifest is not None and hasattr(manifest, "under"):
        return manifest.under(path)
    return [r for r in lib.documents() if is_under(r.path, path)]


def record_sha(rec) -> str:
    return getattr(rec, "sha256", "") or getattr(rec, "hash", "") or ""


def file_sha256(path: str) -> str | None:
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def pair_by_hash(vanished: Iterable, candidates: Iterable[str]) -> list[tuple[str, str]]:
    """Match vanished manifest records to new files with the same content -> (old, new) renames.

    Only candidates whose size equals a vanished record's size are hashed, so this is free when
    nothing was renamed. Each record and each candidate is used at most once.
    """
    by_size: dict[int, list] = {}
    for rec in vanished:
        if record_sha(rec) and rec.status in FINAL:
            by_size.setdefault(int(rec.size), []).append(rec)
    if not by_size:
        return []
    pairs: list[tuple[str, str]] = []
    used: set[int] = set()
    for path in candidates:
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        recs = [r for r in by_size.get(size, []) if id(r) not in used]
        if not recs:
            continue
        sha = file_sha256(path)
        for rec in recs:
            if sha is not None and record_sha(rec) == sha:
                used.add(id(rec))
                pairs.append((rec.path, path))
                break
    return pairs


def collapse_missing(paths: Iterable[str], root: str | None = None) -> list[str]:
    """Replace paths whose parent folders are gone by the topmost missing folder (below `root`).

    Why: forgetting a folder is one library call; forgetting its 500 files one by one is 500.
    """
    out: set[str] = set()
    for path in paths:
        top = path
        parent = os.path.dirname(top)
        while parent and parent != top and (root is None or parent.startswith(root + os.sep)) \
                and not os.path.exists(parent):
            top, parent = parent, os.path.dirname(parent)
        out.add(top)
    ordered = sorted(out)
    # drop entries already covered by an ancestor in the list
    result: list[str] = []
    for p in ordered:
        if not any(p.startswith(q + os.sep) for q in result):
            result.append(p)
    return result


def plan_folder(lib, folder: str, path_filter: PathFilter) -> Plan:
    """What to do so the library matches `folder` on disk now."""
    disk = {path: st for path, st in path_filter.walk(folder)}
    plan = Plan()
    vanished = []
    for rec in records_under(lib, folder):
        st = disk.pop(rec.path, None)
        if st is None:
            if not os.path.exists(rec.path):  # filtered-out files that still exist are left alone
                vanished.append(rec)
            continue
        if rec.status in FINAL and rec.size == st.st_size and rec.mtime == st.st_mtime:
            continue
        plan.index.append(rec.path)  # changed, or left half-done by a crash
    new = sorted(disk)
    plan.renames = pair_by_hash(vanished, new)
    renamed_old = {old for old, _ in plan.renames}
    renamed_new = {new_path for _, new_path in plan.renames}
    plan.forgets = collapse_missing([r.path for r in vanished if r.path not in renamed_old], folder)
    plan.index.extend(p for p in new if p not in renamed_new)
    return plan
