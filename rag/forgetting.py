"""Forgetting: what a forget records, erases, and still owes after a crash.

Why its own room: this is the privacy-critical path (PRIVACY.md, "Forgetting"). A forget first
records its intent (tombstones, and a scrub flag) in the same transaction that deletes the
manifest rows, then deletes the vectors and rewrites both stores; a crash anywhere is finished by
the next process that opens the library, a reader included (`rag.library.finish_owed_forget`).
`Forgetting` is the part of `Library` that does this; it relies on the library's manifest,
store, write queue and locks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from rag.ingest.indexer import norm_path
from rag.store.manifest import Manifest
from rag.store.reads import checkpoint

MANIFEST_NAME = "library.sqlite3"
CHROMA_DIR = "chroma"


class Forgetting:
    """Library's forget, scrub and wipe (mixed into `rag.library.Library`)."""

    def forget(self, path: str | os.PathLike) -> int:
        """Remove a file, or every file under a folder: text, vectors and keyword index."""
        return self.forget_many([path])

    def forget_many(self, paths: Iterable[str | os.PathLike], *, scrub: bool = True) -> int:
        """Forget several files/folders, then scrub once (compaction rewrites the files).

        Forget wins: indexing in progress stops at its next check, the forget runs, then the
        indexing goes on without the forgotten paths (queued index jobs skip them too).
        `scrub=False` skips the rewrite (e.g. the watcher deleting files the user deleted):
        the data is unreachable at once and physically gone at the next scrubbing forget.
        """
        paths = [norm_path(p) for p in paths]
        queue = self._queue()
        if not queue.on_writer:
            queue.preempt(paths)
        return queue.call(lambda _job: self._forget_now(paths, scrub), name="forget",
                          paths=paths, priority=True)

    def _forget_now(self, paths: list[str], scrub: bool) -> int:
        recs = {r.id: r for p in paths for r in self.manifest.under(p)}
        if recs:  # the intent is on disk before anything is erased
            self.manifest.bury(recs, scrub=scrub)
        self.finish_forgets()  # also finishes an earlier forget a crash cut short
        return len(recs)

    def finish_forgets(self) -> None:
        """Do what recorded forgets still owe: delete tombstoned vectors, then (if flagged)
        rewrite both stores. Idempotent, so a crash anywhere here is finished by a re-run."""

        def run() -> None:
            dead = self.manifest.tombstones()
            if dead:
                self.store.delete_docs(dead)
                self.manifest.clear_tombstones(dead)
            if self.manifest.scrub_pending():
                self.scrub()

        self._call("finish forgets", run, priority=True)

    def scrub(self) -> None:
        """Physically erase deleted text and vectors: SQLite vacuum + chroma rebuild."""
        from rag.store.manifest import SCRUB_PENDING

        def run() -> None:
            self.manifest.compact()
            self._checkpoint()
            keep = self.manifest.doc_ids()
            if keep:
                self.store.compact(keep)
            else:  # nothing survives: the whole vector store goes
                self._drop_store()
            self.manifest.set_meta(SCRUB_PENDING, "0")

        self._call("scrub", run, priority=True)

    def _checkpoint(self) -> None:
        """The vacuumed pages must reach the main file and the WAL be emptied, which a reader
        mid-query (this process's or another's) delays: retry until done (readers are short)."""
        import time

        deadline = time.monotonic() + 30
        while not checkpoint(self.manifest) and time.monotonic() < deadline:
            time.sleep(0.01)

    def wipe(self) -> None:
        """Delete every document, vector and chunk of text in this library."""
        from rag.store.manifest import SCRUB_PENDING

        def run() -> None:
            self.manifest.wipe()  # flags the scrub: a crash before the end is finished on open
            self._checkpoint()
            self._drop_store()
            self.manifest.set_meta(SCRUB_PENDING, "0")

        queue = self._queue()
        if not queue.on_writer:
            queue.preempt(["/"])
        self._call("wipe", run, priority=True)

    def _drop_store(self) -> None:
        with self._swap.write(), self._store_lock.exclusive():
            if self._store is not None:
                self._store.close()
                self._store = None
            if (self.data_dir / CHROMA_DIR).exists():  # errors propagate: the flag stays set
                shutil.rmtree(self.data_dir / CHROMA_DIR)


def forget_owed(data_dir: Path) -> bool:
    """True while a recorded forget is unfinished (a crash or a kill cut it short): forgotten
    text or vectors may still be in the library's files."""
    import sqlite3

    path = Path(data_dir) / MANIFEST_NAME
    if not path.exists():
        return False
    try:
        manifest = Manifest(path, read_only=True)
    except sqlite3.Error:  # not a library of this kind (a team mirror): it records no forgets
        return False
    try:
        return bool(manifest.tombstones()) or manifest.scrub_pending()
    except sqlite3.Error:
        return False
    finally:
        manifest.close()

