"""`Library`: the one object every front end (CLI, GUI, watcher, benchmarks) uses.

It owns the writer lock, the manifest, the vector store and the embedder, and exposes indexing,
search, forgetting and renaming. Heavy parts (torch, chromadb) load on first use.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path

from rag.cancel import CancelToken
from rag.chunking import ChunkingConfig
from rag.embeddings import Embedder, SentenceTransformerEmbedder
from rag.errors import HearthError
from rag.indexer import norm_path
from rag.lock import LibraryLock
from rag.manifest import DocumentRecord, Manifest
from rag.paths import data_dir_path, resolve_data_dir
from rag.retrieval import RetrievalConfig, Retriever
from rag.types import Hit, IndexProgress, IndexReport

MANIFEST_NAME = "library.sqlite3"
CHROMA_DIR = "chroma"


class Library:
    def __init__(self, data_dir: Path, *, embedder: Embedder | None = None, owner: str = "Hearth",
                 retrieval: RetrievalConfig | None = None, chunking: ChunkingConfig | None = None,
                 store=None, reads_only: bool = False) -> None:
        """`reads_only`: the caller only searches, so a library on a full disk or read-only
        media is opened for reading rather than refused."""
        self.data_dir = Path(data_dir)
        from rag.privacy import set_log_dir

        set_log_dir(self.data_dir)
        self._lock = LibraryLock(self.data_dir, owner).acquire()
        self.read_only = False
        try:
            self.embedder = embedder or SentenceTransformerEmbedder()
            self.manifest = self._open_manifest(reads_only)
            self._store = store
            self._write = threading.RLock()
            self.retrieval_config = retrieval or RetrievalConfig()
            self.chunking = chunking or ChunkingConfig()
        except BaseException:
            self._lock.release()
            raise
        try:  # a forget that a crash or a full disk interrupted is finished first
            if not self.read_only:
                self.finish_forgets()
        except Exception:  # noqa: BLE001 - still pending; the next forget reports why
            pass

    def _open_manifest(self, reads_only: bool) -> Manifest:
        import sqlite3

        path = self.data_dir / MANIFEST_NAME
        try:
            return Manifest(path)
        except sqlite3.OperationalError:  # e.g. no room for the WAL index on a full disk
            if not reads_only or not path.exists():
                raise
        self.read_only = True
        return Manifest(path, read_only=True)

    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, **kwargs) -> Library:
        """Open (creating if needed) the library; raises LibraryInUse if another process has it."""
        if kwargs.get("reads_only"):
            path = data_dir_path(data_dir)
            if (path / MANIFEST_NAME).exists():
                try:
                    return cls(resolve_data_dir(path), **kwargs)
                except HearthError:  # not writable: reading needs no write access
                    return cls(path, **kwargs)
        return cls(resolve_data_dir(data_dir), **kwargs)

    # -- lazily built parts ----------------------------------------------------------------------
    @property
    def store(self):
        if self._store is None:
            from rag.store import ChromaStore

            with self._write:
                if self._store is None:
                    self._store = ChromaStore(self.data_dir / CHROMA_DIR,
                                              model_id=self.embedder.model_id, dim=self.embedder.dim)
                    # The store has checked the model; note it where `hearth status` can read
                    # it without importing chromadb.
                    if not self.read_only and \
                            self.manifest.get_meta("embedding_model") != self._store.model_id:
                        self.manifest.set_meta("embedding_model", self._store.model_id)
        return self._store

    def _indexer(self):
        from rag.indexer import Indexer

        return Indexer(self.manifest, lambda: self.store, self.embedder, self._write,
                       self.chunking)

    # -- indexing --------------------------------------------------------------------------------
    def iter_index(self, paths: Iterable[str | os.PathLike], cancel: CancelToken | None = None,
                   *, force: bool = False) -> Generator[IndexProgress, None, IndexReport]:
        return self._indexer().run(list(paths), cancel, force=force)

    def index(self, paths: Iterable[str | os.PathLike], *,
              progress: Callable[[IndexProgress], None] | None = None,
              cancel: CancelToken | None = None, force: bool = False) -> IndexReport:
        """Index files and folders (recursively). `force` re-reads unchanged files too."""
        gen = self.iter_index(paths, cancel, force=force)
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                return stop.value
            if progress is not None:
                progress(step)

    def unfinished(self) -> list[DocumentRecord]:
        return self.manifest.documents("indexing") + self.manifest.documents("pending")

    def resume(self, *, progress: Callable[[IndexProgress], None] | None = None,
               cancel: CancelToken | None = None) -> IndexReport:
        """Redo documents a crash or a cancel left half-done (never duplicates: ids are stable)."""
        todo = self.unfinished()
        gone = [r for r in todo if not os.path.exists(r.path)]
        for rec in gone:
            self._indexer().remove(rec.id)
        paths = [r.path for r in todo if os.path.exists(r.path)]
        return self.index(paths, progress=progress, cancel=cancel) if paths else IndexReport()

    # -- queries ---------------------------------------------------------------------------------
    def doc_ids_for(self, paths: Sequence[str | os.PathLike]) -> list[int]:
        ids: set[int] = set()
        for p in paths:
            ids.update(r.id for r in self.manifest.under(norm_path(p)))
        return sorted(ids)

    def search(self, query: str, k: int = 5, paths: Sequence[str | os.PathLike] | None = None,
               mode: str | None = None) -> list[Hit]:
        doc_ids = self.doc_ids_for(paths) if paths else None
        if self.manifest.chunk_count() == 0:
            return []
        store = self.store if not self.read_only else self._store_if_it_opens()
        if store is None:  # full disk or read-only media and chroma can't open: words only
            mode = "keyword"
        retriever = Retriever(self.manifest, store, self.embedder, self.retrieval_config)
        return retriever.search(query, k=k, doc_ids=doc_ids, mode=mode)

    def _store_if_it_opens(self):
        try:
            return self.store
        except HearthError:
            return None

    def documents(self) -> list[DocumentRecord]:
        return self.manifest.documents()

    def status(self) -> dict:
        counts = self.manifest.counts()
        return {
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "by_status": counts["by_status"],
            "data_dir": str(self.data_dir),
            "embedding_model": self.embedder.model_id,
            "embedding_dim": self.embedder.dim,
        }

    # -- changes ---------------------------------------------------------------------------------
    def forget(self, path: str | os.PathLike) -> int:
        """Remove a file, or every file under a folder: text, vectors and keyword index."""
        return self.forget_many([path])

    def forget_many(self, paths: Iterable[str | os.PathLike], *, scrub: bool = True) -> int:
        """Forget several files/folders, then scrub once (compaction rewrites the files).

        `scrub=False` skips the rewrite (e.g. the watcher deleting files the user deleted):
        the data is unreachable at once and physically gone at the next scrubbing forget.
        """
        recs = {r.id: r for p in paths for r in self.manifest.under(norm_path(p))}
        with self._write:
            if recs:  # the intent is on disk before anything is erased
                self.manifest.bury(recs, scrub=scrub)
            self.finish_forgets()  # also finishes an earlier forget a crash cut short
        return len(recs)

    def finish_forgets(self) -> None:
        """Do what recorded forgets still owe: delete tombstoned vectors, then (if flagged)
        rewrite both stores. Idempotent, so a crash anywhere here is finished by a re-run."""
        with self._write:
            dead = self.manifest.tombstones()
            if dead:
                self.store.delete_docs(dead)
                self.manifest.clear_tombstones(dead)
            if self.manifest.scrub_pending():
                self.scrub()

    def scrub(self) -> None:
        """Physically erase deleted text and vectors: SQLite vacuum + chroma rebuild."""
        from rag.manifest import SCRUB_PENDING

        with self._write:
            self.manifest.compact()
            keep = self.manifest.doc_ids()
            if keep:
                self.store.compact(keep)
            else:  # nothing survives: the whole vector store goes
                self._drop_store()
            self.manifest.set_meta(SCRUB_PENDING, "0")

    def rename(self, old: str | os.PathLike, new: str | os.PathLike) -> int:
        """A file or folder moved: re-point its documents. Vectors key on doc_id, so no re-embed."""
        old_s, new_s = norm_path(old), norm_path(new)
        with self._write:
            indexer = None
            for rec in self.manifest.under(old_s):  # a document already at the destination goes
                dest = self.manifest.get(new_s + rec.path[len(old_s):])
                if dest is not None and dest.id != rec.id:
                    indexer = indexer or self._indexer()
                    indexer.remove(dest.id)
            return self.manifest.rename(old_s, new_s)

    def wipe(self) -> None:
        """Delete every document, vector and chunk of text in this library."""
        from rag.manifest import SCRUB_PENDING

        with self._write:
            self.manifest.wipe()  # flags the scrub: a crash before the end is finished on open
            self._drop_store()
            self.manifest.set_meta(SCRUB_PENDING, "0")

    def _drop_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if (self.data_dir / CHROMA_DIR).exists():  # errors propagate: the flag stays set
            shutil.rmtree(self.data_dir / CHROMA_DIR)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self.manifest.close()
        self._lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
