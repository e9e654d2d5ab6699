"""The single index writer for watch events: applies batches and reconciliation plans to a Library.

Order matters and is fixed: moves (manifest renames, no embedding), then deletes (first paired
with new files by content hash, so a move between two watched folders is still a rename), then
new and changed files (Library.index hashes only what changed in size or mtime).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable

from rag.base.cancel import CancelToken
from rag.base.paths import is_under
from rag.base.types import IndexProgress
from rag.watch.filters import PathFilter
from rag.watch.queue import Batch
from rag.watch.reconcile import FINAL, Plan, collapse_missing, pair_by_hash, records_under

log = logging.getLogger(__name__)


class SyncWriter:
    """Applies work to the library. `root_present(path)` says whether the watched folder holding
    `path` is present (False for an unplugged drive): deletes under an absent root are not
    applied, so documents survive until the folder returns or the user removes it."""

    def __init__(self, lib, path_filter: PathFilter, *, requeue: Callable[[str, bool], None],
                 root_present: Callable[[str], bool],
                 progress: Callable[[IndexProgress], None] | None = None,
                 settle_seconds: float = 0.0) -> None:
        self.lib = lib
        self.settle_seconds = settle_seconds
        self.filter = path_filter
        self.requeue = requeue
        self.root_present = root_present
        self.progress = progress
        self.stats = {"indexed": 0, "unchanged": 0, "renamed": 0, "removed": 0, "failed": 0,
                      "skipped": 0}

    # -- primitives ------------------------------------------------------------------------
    def _rename(self, old: str, new: str) -> int:
        if old == new or not records_under(self.lib, old):
            return 0  # nothing indexed there, or this move was already applied (folder move)
        # Whatever was indexed at the destination has been replaced on disk: forget it first so
        # its text and vectors do not linger (the manifest rename would only drop its row).
        if records_under(self.lib, new):
            self.stats["removed"] += self.lib.forget_many([new], scrub=False)
        moved = self.lib.rename(old, new)
        self.stats["renamed"] += moved
        return moved

    def forget_all(self, paths: list[str]) -> None:
        """Forget each path (file or folder) the library holds, then scrub the files once."""
        held = [p for p in paths if records_under(self.lib, p)]
        if held:
            self.stats["removed"] += self.lib.forget_many(held)

    def _index(self, files: list[str], cancel: CancelToken) -> None:
        files = sorted(set(files))
        if not files:
            return
        # Asked again on the library's writer thread when the job starts: a file the user
        # removed after this batch was taken is not brought back.
        report = self.lib.index(files, progress=self.progress, cancel=cancel,
                                keep_out=self.filter.excluded)
        for outcome in report.outcomes:
            if outcome.status in self.stats:
                self.stats[outcome.status] += 1

    # -- batches from the watcher -----------------------------------------------------------
    def apply_batch(self, batch: Batch, cancel: CancelToken) -> None:
        for move in batch.moves:
            if not self.root_present(move.dest):
                continue
            if self._rename(move.src, move.dest) == 0 and not records_under(self.lib, move.dest):
                # nothing was indexed there yet (e.g. a new folder renamed from "New Folder")
                self.requeue(move.dest, move.is_dir)
        scanned = self._expand_scans(batch.scans)
        deletes = [p for p in batch.deletes if self.root_present(p)]
        vanished = {r.path: r for p in deletes for r in records_under(self.lib, p)
                    if not os.path.exists(r.path)}
        new_files = [p for p in batch.upserts + scanned if not records_under(self.lib, p)]
        for rec in self._vanished_like(new_files):
            vanished.setdefault(rec.path, rec)
        if vanished:
            # A "new" file with the content of a document whose file vanished is that document,
            # moved (between watched folders, or reported as delete+create): rename, don't embed.
            pairs = pair_by_hash(list(vanished.values()), new_files)
            for old, new in pairs:
                self._rename(old, new)
            paired_new = {new for _, new in pairs}
            paired_old = {old for old, _ in pairs}
            batch.upserts = [p for p in batch.upserts if p not in paired_new]
            scanned = [p for p in scanned if p not in paired_new]
            gone = [r.path for r in vanished.values()
                    if r.path not in paired_old and any(is_under(r.path, d) for d in deletes)]
            self.forget_all(collapse_missing(gone))
        for path in scanned:
            self.requeue(path, False)  # files found in a new folder settle like any other new file
        if cancel.cancelled:
            return
        self._index([p for p in batch.upserts if os.path.isfile(p)], cancel)

    def _vanished_like(self, new_files: list[str]) -> list:
        """Indexed documents whose file is gone and whose size equals one of `new_files`.

        Why not wait for the delete event: watchdog reports the "from" half of a move between
        two watched folders only after its pairing timeout, when the new file may already be
        settled and indexed.
        """
        sizes = set()
        for path in new_files:
            with contextlib.suppress(OSError):
                sizes.add(os.stat(path).st_size)
        if not sizes:
            return []
        manifest = getattr(self.lib, "manifest", None)
        same_size = (manifest.with_sizes(sizes) if hasattr(manifest, "with_sizes")
                     else [r for r in self.lib.documents() if r.size in sizes])
        return [r for r in same_size
                if r.status in FINAL and not os.path.exists(r.path) and self.root_present(r.path)]

    def _expand_scans(self, scans: list[str]) -> list[str]:
        files: list[str] = []
        for folder in scans:
            if os.path.isdir(folder):
                files.extend(path for path, _st in self.filter.walk(folder))
            elif os.path.isfile(folder) and self.filter.wanted(folder):
                files.append(folder)
        return files

    # -- reconciliation ----------------------------------------------------------------------
    def apply_plan(self, plan: Plan, cancel: CancelToken, *, settle: bool = True) -> None:
        for old, new in plan.renames:
            self._rename(old, new)
        self.forget_all(plan.forgets)
        # Files touched within the settle period may still be being written: let them settle.
        now, ready = time.time(), []
        for path in plan.index:
            try:
                recent = now - os.stat(path).st_mtime < self.settle_seconds
            except OSError:
                continue
            if recent and settle:
                self.requeue(path, False)
            else:
                ready.append(path)
        if not cancel.cancelled:
            self._index(ready, cancel)
