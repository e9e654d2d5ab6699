"""`Library`: the one object every front end (CLI, GUI, watcher, benchmarks) uses.

It owns the writer lock, the manifest, the vector store and the embedder, and exposes indexing,
search, forgetting and renaming. Heavy parts (torch, chromadb) load on first use.

One writer, free readers: every change runs on the library's writer thread
(`rag.store.write_queue.WriteQueue`), whichever thread asks (GUI lane, watcher, CLI); searches, status
and document lists read on the caller's thread through their own SQLite connection and never
wait for a write (only for the few milliseconds a scrub swaps the vector files). Opened with
`reads_only=True` in another process, the library takes no writer lock at all: many processes
can read while one writes (see `rag.store.lock.StoreLock`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path

from rag.base.cancel import CancelToken
from rag.base.errors import HearthError
from rag.base.paths import data_dir_path, resolve_data_dir
from rag.base.types import Hit, IndexProgress, IndexReport
from rag.embed.embed_variant import (
    VARIANT_META,
    library_embedder,
    note_variant,
    rerecord_after_force,
)
from rag.embed.embeddings import Embedder
from rag.forgetting import CHROMA_DIR, MANIFEST_NAME, Forgetting, forget_owed
from rag.ingest.chunking import (
    CHUNKING_META,
    ChunkingConfig,
    chunking_notice,
    chunking_version,
    stamp_chunking,
)
from rag.ingest.indexer import expand, norm_path
from rag.ingest.jobprogress import run_to_report
from rag.retrieve.retrieval import RetrievalConfig, Retriever
from rag.store.lock import LibraryLock, ReadWriteLock, StoreLock
from rag.store.manifest import DocumentRecord, Manifest
from rag.store.reads import NoLibraryYet, ReadingManifest
from rag.store.write_queue import Job, WriteQueue

CANCELLED = "cancelled_docs"  # meta: ids a cancelled job left unfinished (not resumed by itself)


class Library(Forgetting):
    on_server = False  # this library lives here (rag.server.team.TeamLibrary: on a Chroma server)

    def __init__(self, data_dir: Path, *, embedder: Embedder | None = None, owner: str = "Hearth",
                 retrieval: RetrievalConfig | None = None, chunking: ChunkingConfig | None = None,
                 store=None, reads_only: bool = False) -> None:
        """`reads_only`: the caller only searches. An existing library is then opened without
        the writer lock (another process may be writing it) and nothing is written, so it also
        works on a full disk or read-only media."""
        self.data_dir = Path(data_dir)
        from rag.offline.privacy import set_log_dir

        set_log_dir(self.data_dir)
        self.reader = reads_only  # a reader creates nothing and never takes the writer lock
        if self.reader and forget_owed(self.data_dir):  # PRIVACY.md: finished at the next open
            finish_owed_forget(self.data_dir, embedder, owner)
        self._lock = None if self.reader else LibraryLock(self.data_dir, owner).acquire()
        self.read_only = self.reader
        self._store_lock = StoreLock(self.data_dir)
        self._swap = ReadWriteLock()  # this process's readers vs the store swap of a scrub
        self._writes: WriteQueue | None = None
        try:
            self._manifest = self._open_manifest(reads_only)
            self.embedder = embedder or library_embedder(self._manifest, self.data_dir)
            self.embedder_notice = self._note_variant()
            # Readers' own connection (WAL: they read a snapshot while the writer writes).
            self.reads = self._manifest if self.read_only else \
                ReadingManifest(self.data_dir / MANIFEST_NAME)
            self._store = store
            self._write = threading.RLock()
            self.retrieval_config = retrieval or RetrievalConfig()
            self.chunking = chunking or ChunkingConfig()
            if not self.read_only:
                stamp_chunking(self._manifest, self.chunking)
                self._writes = WriteQueue()
        except BaseException:
            self._store_lock.close()
            if self._lock is not None:
                self._lock.release()
            raise
        try:  # a forget that a crash or a full disk interrupted is finished first
            if not self.read_only:
                self.finish_forgets()
        except Exception:  # noqa: BLE001 - still pending; the next forget reports why
            pass

    def _open_manifest(self, reads_only: bool) -> Manifest | NoLibraryYet:
        import sqlite3

        path = self.data_dir / MANIFEST_NAME
        if self.reader:
            try:
                return Manifest(path, read_only=True)
            except sqlite3.Error:  # no library here yet (or its writer is making it right now)
                return NoLibraryYet()
        try:
            return Manifest(path)
        except sqlite3.OperationalError:  # e.g. no room for the WAL index on a full disk
            if not reads_only or not path.exists():
                raise
        self.read_only = True
        return Manifest(path, read_only=True)

    def _note_variant(self) -> str:
        """Record which embedder made this library's vectors (a library indexed before the
        record existed was made by PyTorch) and say so when this one differs."""
        if not self.read_only and self._manifest.get_meta(VARIANT_META) is None and \
                self._manifest.chunk_count() > 0:
            self._manifest.set_meta(VARIANT_META, "torch")
        return note_variant(self._manifest.get_meta(VARIANT_META), self.embedder)

    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, **kwargs) -> Library:
        """Open (creating if needed) the library; raises LibraryInUse if another process writes
        it. With `reads_only` it is a reader: it creates nothing (not even the folder), takes no
        lock that excludes anyone, and sees what a writer adds later."""
        if kwargs.get("reads_only"):
            return cls(data_dir_path(data_dir), **kwargs)
        return cls(resolve_data_dir(data_dir), **kwargs)

    # -- lazily built parts ----------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        """The library's manifest; for a reader that found no library yet, the real one as soon
        as a writer has made it."""
        if isinstance(self._manifest, NoLibraryYet) and (self.data_dir / MANIFEST_NAME).exists():
            self._manifest = self.reads = self._open_manifest(True)
        return self._manifest

    @property
    def store(self):
        if self._store is None:
            from rag.store.store import ChromaStore

            with self._write:
                if self._store is None:
                    self._store = ChromaStore(self.data_dir / CHROMA_DIR,
                                              model_id=self.embedder.model_id, dim=self.embedder.dim,
                                              lock=self._store_lock, reader=self.reader,
                                              swap_guard=self._swap.write)
                    # The store has checked the model; note it where `hearth status` can read
                    # it without importing chromadb.
                    if not self.read_only and \
                            self.manifest.get_meta("embedding_model") != self._store.model_id:
                        self.manifest.set_meta("embedding_model", self._store.model_id)
        return self._store

    def _indexer(self):
        from rag.ingest.indexer import Indexer

        return Indexer(self.manifest, lambda: self.store, self.embedder, self._write,
                       self.chunking)

    def _queue(self) -> WriteQueue:
        if self._writes is None:
            raise HearthError("This library is open for reading only: another Hearth process "
                              "is writing it, or its disk is full or read-only.")
        return self._writes

    def _call(self, name: str, fn: Callable[[], object], paths: Sequence[str] = (),
              priority: bool = False):
        return self._queue().call(lambda _job: fn(), name=name, paths=paths, priority=priority)

    def _load_embedder(self) -> None:
        load = getattr(self.embedder, "load", None)
        if load is not None:
            load()
        else:
            self.embedder.embed(["warm up"])

    def ready_to_search(self) -> None:
        """Load the embedder and open the vector store (seconds on a cold start), as the first
        search would; idempotent, so a caller may wait for it on the side and stop waiting."""
        self._load_embedder()
        if self.read_only:
            self._store_if_it_opens()
        else:
            _ = self.store

    def warm(self) -> None:
        """Load the embedder and open the vector store now (a watcher does this at start, so
        the first changed file is not kept waiting for the model)."""
        self._load_embedder()
        if not self.read_only:
            self._call("open the vector store", lambda: self.store)
        if os.environ.get("HEARTH_LOAD_IN_PROCESS") != "1":
            try:  # a warm file-reader child (rag/loaders/worker.py) for the first file
                from rag.loaders import worker

                worker._release(worker._acquire())
            except Exception:  # noqa: BLE001 - the first load starts one itself
                pass

    # -- indexing --------------------------------------------------------------------------------
    def iter_index(self, paths: Iterable[str | os.PathLike], cancel: CancelToken | None = None,
                   *, force: bool = False, keep_out: Callable[[str], bool] | None = None
                   ) -> Generator[IndexProgress, None, IndexReport]:
        """Index on the writer thread, yielding its progress here. `keep_out(path)`: files to
        leave alone, asked on the writer thread when the job starts (the watcher's exclusions)."""
        paths = [norm_path(p) for p in paths]
        return self._queue().stream(lambda job: self._index_job(job, paths, force, keep_out),
                                    name="index", paths=paths, cancel=cancel, indexes=True)

    def _index_job(self, job: Job, paths: list[str], force: bool,
                   keep_out: Callable[[str], bool] | None
                   ) -> Generator[IndexProgress, None, IndexReport]:
        """Runs on the writer thread. A forget of some of these paths preempts it: the forget
        runs at once, then the rest is indexed (without what was forgotten)."""
        from rag.base.paths import is_under

        self._clear_cancelled(paths)
        todo, merged = list(paths), IndexReport()
        while True:
            skip = set(job.skip)
            if skip or keep_out is not None:
                files, _folders = expand(todo)
                todo = [str(f) for f in files if not any(is_under(str(f), s) for s in skip)
                        and not (keep_out is not None and keep_out(str(f)))]
            report = yield from self._indexer().run(todo, job.token, force=force)
            seen = {o.path for o in merged.outcomes}
            merged.outcomes += [o for o in report.outcomes if o.path not in seen]
            merged.seconds += report.seconds
            if not (report.cancelled and job.token.preempted.is_set()
                    and not job.token.by_caller):
                merged.cancelled = report.cancelled
                break
            job.token.preempted.clear()
            self._queue().run_priority()  # the forget that asked for the way
        if merged.cancelled:
            self._remember_cancelled(paths)
        elif force and rerecord_after_force(self.manifest, self.embedder, merged):
            self.manifest.set_meta(CHUNKING_META, str(chunking_version(self.chunking)))
            self.embedder_notice = note_variant(self.manifest.get_meta(VARIANT_META),
                                                self.embedder)
        return merged

    def _remember_cancelled(self, paths: list[str]) -> None:
        """A cancelled job is not restarted by itself (at the next launch, `resume`): note the
        documents it left unfinished. Indexing them again by hand clears the note."""
        import json

        left = {r.id for p in paths for r in self.manifest.under(p)
                if r.status in ("indexing", "pending")}
        if left:
            old = set(json.loads(self.manifest.get_meta(CANCELLED) or "[]"))
            self.manifest.set_meta(CANCELLED, json.dumps(sorted(old | left)))

    def _clear_cancelled(self, paths: list[str]) -> None:
        import json

        old = set(json.loads(self.manifest.get_meta(CANCELLED) or "[]"))
        if old:
            again = {r.id for p in paths for r in self.manifest.under(p)}
            if old & again:
                self.manifest.set_meta(CANCELLED, json.dumps(sorted(old - again)))

    def cancelled_ids(self) -> set[int]:
        import json

        return set(json.loads(self.reads.get_meta(CANCELLED) or "[]"))

    def index(self, paths: Iterable[str | os.PathLike], *,
              progress: Callable[[IndexProgress], None] | None = None,
              cancel: CancelToken | None = None, force: bool = False,
              keep_out: Callable[[str], bool] | None = None) -> IndexReport:
        """Index files and folders (recursively). `force` re-reads unchanged files too."""
        steps = self.iter_index(paths, cancel, force=force, keep_out=keep_out)
        return run_to_report(steps, progress)

    def unfinished(self) -> list[DocumentRecord]:
        """Documents a crash left half-done (not those a cancelled job left: the user stopped
        them)."""
        cancelled = self.cancelled_ids()
        return [r for r in self.reads.documents("indexing") + self.reads.documents("pending")
                if r.id not in cancelled]

    def resume(self, *, progress: Callable[[IndexProgress], None] | None = None,
               cancel: CancelToken | None = None) -> IndexReport:
        """Redo documents a crash left half-done (never duplicates: ids are stable)."""
        todo = self.unfinished()
        gone = [r for r in todo if not os.path.exists(r.path)]
        if gone:
            self._call("resume", lambda: [self._indexer().remove(r.id) for r in gone])
        paths = [r.path for r in todo if os.path.exists(r.path)]
        return self.index(paths, progress=progress, cancel=cancel) if paths else IndexReport()

    # -- queries (any thread; never queued behind a write) -----------------------------------
    def _reading(self) -> Manifest:
        if isinstance(self.reads, NoLibraryYet):
            self.manifest  # noqa: B018 - opens the real one once a writer has made it
        refresh = getattr(self.reads, "refresh", None)
        if refresh is not None:
            refresh()
        return self.reads

    def doc_ids_for(self, paths: Sequence[str | os.PathLike]) -> list[int]:
        reads = self._reading()
        ids: set[int] = set()
        for p in paths:
            ids.update(r.id for r in reads.under(norm_path(p)))
        return sorted(ids)

    def search(self, query: str, k: int = 5, paths: Sequence[str | os.PathLike] | None = None,
               mode: str | None = None, one_page_once: bool | None = None) -> list[Hit]:
        reads = self._reading()
        doc_ids = self.doc_ids_for(paths) if paths else None
        if reads.chunk_count() == 0:
            return []
        with self._swap.read():  # a scrub's store swap waits for this search, and vice versa
            store = self.store if not self.read_only else self._store_if_it_opens()
            if store is None:  # full disk or read-only media and chroma can't open: words only
                mode = "keyword"
            retriever = Retriever(reads, store, self.embedder, self.retrieval_config)
            return retriever.search(query, k=k, doc_ids=doc_ids, mode=mode,
                                    one_page_once=one_page_once)

    def _store_if_it_opens(self):
        try:
            return self.store
        except HearthError:
            return None

    def documents(self) -> list[DocumentRecord]:
        return self._reading().documents()

    def notices(self) -> list[str]:
        """What the user should know about how this library's vectors were made (plain words;
        none when re-indexing would change nothing)."""
        return [n for n in (self._embedder_notice(),
                            chunking_notice(self._reading(), self.chunking)) if n]

    def _embedder_notice(self) -> str:
        """A fallback to PyTorch, else vectors of another embedder family ("" for neither)."""
        return getattr(self.embedder, "notice", "") or self.embedder_notice

    def status(self) -> dict:
        counts = self._reading().counts()
        return {
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "by_status": counts["by_status"],
            "data_dir": str(self.data_dir),
            "embedding_model": self.embedder.model_id,
            "embedding_dim": self.embedder.dim,
            "embedder": getattr(self.embedder, "variant", "torch"),
            "vectors_made_by": self.reads.get_meta(VARIANT_META),
            "embedder_notice": self._embedder_notice(),
            "chunking_notice": chunking_notice(self.reads, self.chunking),
            "forget_owed": forget_owed(self.data_dir),
        }

    # -- changes ---------------------------------------------------------------------------------
    def rename(self, old: str | os.PathLike, new: str | os.PathLike) -> int:
        """A file or folder moved: re-point its documents. Vectors key on doc_id, so no re-embed."""
        old_s, new_s = norm_path(old), norm_path(new)

        def run() -> int:
            indexer = None
            for rec in self.manifest.under(old_s):  # a document already at the destination goes
                dest = self.manifest.get(new_s + rec.path[len(old_s):])
                if dest is not None and dest.id != rec.id:
                    indexer = indexer or self._indexer()
                    indexer.remove(dest.id)
            return self.manifest.rename(old_s, new_s)

        return self._call("rename", run, paths=[old_s, new_s])

    def close(self) -> None:
        """Stop the writer (what is queued is cancelled; a running job stops at its next
        check), then close the stores and release the lock."""
        if self._writes is not None:
            self._writes.close()
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.reads is not self.manifest:
            self.reads.close()
        self.manifest.close()
        self._store_lock.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def finish_owed_forget(data_dir: Path, embedder: Embedder | None = None,
                       owner: str = "Hearth") -> bool:
    """Finish a forget another process left owed, by taking the write side for as long as that
    takes; True when nothing is owed any more. A reader calls it so the forgotten text does not
    wait for the next writer. While another process writes the library, that writer owes it
    (False, and `status` says so); so does a library on a full disk or read-only media."""
    from rag.base.errors import LibraryInUse

    try:
        Library(Path(data_dir), embedder=embedder,
                owner=f"{owner} (finishing a forget)").close()  # opening finishes it
    except (LibraryInUse, OSError, HearthError):
        return False
    except Exception:  # noqa: BLE001 - e.g. SQLite refusing to write: still owed, still readable
        return False
    return not forget_owed(data_dir)
