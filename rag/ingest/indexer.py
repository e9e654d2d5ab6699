"""Indexing as a generator: files -> text -> chunks -> vectors -> store, reporting every step.

Crash-safe order per document: read and embed (nothing written yet: a cancel or a kill here
leaves the previous version as it was) -> mark `indexing` (with the new hash) -> delete its old
vectors -> upsert new vectors under deterministic ids -> swap its chunk text and mark `indexed` in
one SQLite transaction. A kill after the mark leaves an `indexing` row that the next run redoes;
deterministic ids mean a redo overwrites rather than duplicates.

Per-chunk reuse: each chunk row keeps a hash of (embedding model id, the text embedded). Before
embedding, chunks whose hash an `indexed` document already has take that vector from the store,
so an edit embeds only the chunks whose text changed, and a moved or copied file none.

Files are read in a warm child process with a time and memory limit (`rag/loaders/worker.py`);
cancel is checked between pages and between embedding batches of `CANCEL_BATCH` chunks. While
one window of chunks embeds on its own thread (`rag/ingest/embed_job.py`), the next files are read and
chunked, so the embedder does not wait for a parse; only this generator writes (issue 28).
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.base.cancel import CancelToken
from rag.base.errors import LoadError, UnsupportedFormat
from rag.base.types import Chunk, FileOutcome, IndexProgress, IndexReport
from rag.embed.embed_variant import record_variant
from rag.ingest.chunking import ChunkingConfig, chunk_pages, embedding_text
from rag.ingest.filefacts import (  # noqa: F401 - re-exported: other modules import them from here
    MAX_REASON,
    _size,
    clean_reason,
    content_hash,
    expand,
    file_sha256,
    norm_path,
    shown_path,
)
from rag.ingest.jobprogress import JobProgress, embedder_cold
from rag.loaders.base import LoadCancelled, os_reason
from rag.loaders.ocr import OcrCancelled
from rag.store.manifest import Manifest, storable

FINAL = ("indexed", "skipped", "failed")
EMBED_BATCH = 128
CANCEL_BATCH = 16  # chunks per embedder call: a cancel waits for at most one of these
WAIT_S = 0.05  # how often progress is reported while the last window finishes embedding
BAD_NAME = "the file name is not valid UTF-8 text; rename the file to index it"


@dataclass
class _Pending:
    path: str
    title: str
    sha: str
    size: int
    mtime: float
    chunks: list[Chunk]
    texts: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    known: bool = False  # had a row before (may have old vectors to delete)
    doc_id: int = 0  # given at commit time


class Indexer:
    overlap = True  # embed a window while the next files are read (issue 28; bench: off)

    def __init__(self, manifest: Manifest, store, embedder, write_lock,
                 chunking: ChunkingConfig | None = None, embed_batch: int = EMBED_BATCH,
                 isolate: bool | None = None, time_limit: float | None = None,
                 memory_limit: int | None = None) -> None:
        """`store` may be a zero-argument callable: opened only when vectors are touched, so a
        re-index that finds nothing changed never starts chromadb. `isolate`: read files in a
        child process with `time_limit` (s without progress) and `memory_limit` (bytes)."""
        from rag.loaders import worker

        self.manifest = manifest
        self._store = store
        self.embedder = embedder
        self.write_lock = write_lock
        self.chunking = chunking or ChunkingConfig()
        self.embed_batch = embed_batch
        self.isolate = (os.environ.get("HEARTH_LOAD_IN_PROCESS") != "1") if isolate is None \
            else isolate
        self.time_limit = worker.limit_from_env("HEARTH_LOAD_SECONDS", worker.TIME_LIMIT_S) \
            if time_limit is None else time_limit
        self.memory_limit = int(worker.limit_from_env("HEARTH_LOAD_MEMORY_MB",
                                                      worker.MEMORY_LIMIT / 2**20) * 2**20) \
            if memory_limit is None else memory_limit
        self.embedded = 0  # chunks sent to the embedder (the rest reused stored vectors)
        self.reused = 0
        self.force = False
        self._window: tuple[list[_Pending], object] | None = None  # embedding meanwhile
        self._committed = 0  # chunks committed in this run (progress)

    @property
    def store(self):
        if callable(self._store) and not hasattr(self._store, "add"):
            self._store = self._store()
        return self._store

    def run(self, paths: Iterable[str | Path], cancel: CancelToken | None = None,
            prune_folders: bool = True, force: bool = False
            ) -> Generator[IndexProgress, None, IndexReport]:
        """Index files/folders; `force` re-reads files even when unchanged (user's "Re-index").
        Yields snapshots: a consumer on another thread reads each report as it was."""
        gen = self._run(paths, cancel, prune_folders, force)
        try:
            while True:
                try:
                    step = next(gen)
                except StopIteration as stop:
                    return stop.value
                yield replace(step)
        finally:
            gen.close()  # stopped early: a file being read in a child stops with it

    def _run(self, paths: Iterable[str | Path], cancel: CancelToken | None,
             prune_folders: bool, force: bool) -> Generator[IndexProgress, None, IndexReport]:
        from rag import loaders

        t0 = time.perf_counter()
        report = IndexReport()
        prog = IndexProgress(stage="finding files")
        yield prog
        files, folders = expand(paths)
        prog.files_total = len(files)
        job = self.job = JobProgress(prog)
        self.force = force
        for path in files:  # weigh first: the bar's total never changes afterwards
            if self._needs_work(path, force):
                job.add(str(path), _size(path))
        job.start()
        pending: list[_Pending] = []
        self._window, self._committed = None, 0
        try:
            for path in files:
                if cancel is not None and cancel.cancelled:
                    report.cancelled = True
                    break
                prog.current = shown_path(str(path))
                prog.stage, prog.pages_done, prog.pages_total = "reading", 0, 0
                outcome = yield from self._prepare_safely(path, loaders, pending, force, cancel)
                if outcome is not None:
                    if outcome.status == "cancelled":
                        report.cancelled = True
                        break
                    report.outcomes.append(outcome)
                    prog.files_done += 1
                    job.complete(str(path))
                else:
                    prog.chunks_total += len(pending[-1].chunks)
                if sum(len(p.chunks) for p in pending) >= self.embed_batch:
                    yield from self._flush(pending, report, prog, cancel)
                    if report.cancelled:
                        break
                yield prog
            if not report.cancelled:
                yield from self._flush(pending, report, prog, cancel)
            yield from self._settle(report, prog)  # the last window (or, cancelled, its end)
        finally:
            if self._window is not None:  # stopped early: no embedding outlives the run
                self._window[1].stop()
                self._window = None
        if prune_folders:  # after the files: a file moved within them reuses its vectors
            self._prune_vanished(folders, report)
        prog.current = ""
        prog.stage = "cancelled" if report.cancelled else "done"
        if not report.cancelled:
            prog.fraction, prog.eta_s = 1.0, 0.0
        report.seconds = time.perf_counter() - t0
        yield prog
        return report

    def _needs_work(self, path: Path, force: bool) -> bool:
        """The cheap half of `_prepare`'s test: False for a file whose size and time match."""
        if force:
            return True
        spath = str(path)
        if not storable(spath):
            return False
        rec = self.manifest.get(spath)
        if rec is None or rec.status not in FINAL:
            return True
        try:
            st = path.stat()
        except OSError:
            return False
        return not (rec.size == st.st_size and rec.mtime == st.st_mtime)

    # -- steps -----------------------------------------------------------------------------------
    def _prepare_safely(self, path: Path, loaders, pending: list[_Pending], force: bool,
                        cancel: CancelToken | None = None
                        ) -> Generator[IndexProgress, None, FileOutcome | None]:
        """Every file ends in an outcome: an unforeseen error in one file (not the library's
        own storage failing, which must stop the run) becomes its reason."""
        import sqlite3

        try:
            return (yield from self._prepare(path, loaders, pending, force, cancel))
        except sqlite3.Error:
            raise
        except MemoryError:
            return FileOutcome(shown_path(str(path)), "failed", "too large to index in memory")
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
                raise
            return FileOutcome(shown_path(str(path)), "failed", os_reason(exc))
        except Exception as exc:  # noqa: BLE001
            return FileOutcome(shown_path(str(path)), "failed",
                               clean_reason(f"could not index this file: {exc}"))

    def _prepare(self, path: Path, loaders, pending: list[_Pending], force: bool = False,
                 cancel: CancelToken | None = None
                 ) -> Generator[IndexProgress, None, FileOutcome | None]:
        """Decide what to do with one file; load+chunk it if it needs indexing (None = queued).
        Nothing is written for a file that is queued: its row changes only at commit."""
        spath = str(path)
        if not storable(spath):  # nothing of it can be stored or printed as it is
            return FileOutcome(shown_path(spath), "failed", BAD_NAME)
        if not loaders.is_supported(path):
            return FileOutcome(spath, "skipped", f"unsupported file type {path.suffix or '(none)'}")
        try:
            st = path.stat()
        except FileNotFoundError:
            return FileOutcome(spath, "failed", "file not found")
        except OSError as exc:
            return FileOutcome(spath, "failed", os_reason(exc))
        rec = self.manifest.get(spath)
        settled = rec is not None and rec.status in FINAL and not force  # force: always re-read
        if settled and rec.size == st.st_size and rec.mtime == st.st_mtime:
            return FileOutcome(spath, "unchanged", chunks=rec.chunks)
        problem = loaders.precheck(path, st)  # type, size, magic: before reading it all
        if problem is not None:
            return self._mark(spath, "failed", problem, st)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            return self._mark(spath, "failed", os_reason(exc), st)
        if settled and rec.sha256 == sha:
            self.manifest.touch(rec.id, st.st_size, st.st_mtime)
            return FileOutcome(spath, "unchanged", chunks=rec.chunks)
        try:
            doc = yield from self._load(path, loaders, cancel)
        except (OcrCancelled, LoadCancelled):
            return FileOutcome(spath, "cancelled", "cancelled before this file was read")
        except UnsupportedFormat as exc:
            return self._mark(spath, "skipped", str(exc), st, sha)
        except LoadError as exc:
            return self._mark(spath, "failed", str(exc), st, sha)
        except Exception as exc:  # a loader bug must not stop the batch
            return self._mark(spath, "failed", f"could not read: {exc}", st, sha)
        title, chunks = chunk_pages(doc.pages, doc.title, self.embedder, self.chunking,
                                    outline=doc.outline)
        if not chunks:
            return self._mark(spath, "skipped", "no text to index", st, sha)
        texts = [embedding_text(title, c.text, c.heading) for c in chunks]
        model = self.embedder.model_id
        pending.append(_Pending(spath, doc.title, sha, st.st_size, st.st_mtime, chunks, texts,
                                [content_hash(model, t) for t in texts], known=rec is not None))
        return None

    def _load(self, path: Path, loaders, cancel: CancelToken | None
              ) -> Generator[IndexProgress, None, object]:
        """Read a file (in the warm child with limits unless isolate=False), reporting pages."""
        from rag.loaders.worker import read_document

        key = str(path)
        return (yield from read_document(
            path, cancel, lambda stage, done, total: self.job.reading(key, stage, done, total),
            self._tick, isolate=self.isolate, time_limit=self.time_limit,
            memory_limit=self.memory_limit))

    def _mark(self, spath: str, status: str, reason: str, st, sha: str = "") -> FileOutcome:
        reason = clean_reason(reason)
        with self.write_lock:
            rec = self.manifest.get(spath)
            if rec is not None and rec.chunks:
                self.store.delete_doc(rec.id)
                self.manifest.replace_chunks(rec.id, "", [], status=status)
            self.manifest.upsert(spath, status=status, reason=reason, sha256=sha,
                                 size=st.st_size, mtime=st.st_mtime)
        return FileOutcome(spath, status, reason)

    def _flush(self, pending: list[_Pending], report: IndexReport, prog: IndexProgress,
               cancel: CancelToken | None) -> Generator[IndexProgress, None, None]:
        """Hand the queued documents to the embedder: the window in flight is finished and
        committed first, then this one starts on its own thread (`rag.ingest.embed_job`) while the
        next files are read; with `overlap` off it is finished here. Stored vectors of
        unchanged chunks are reused, the rest embedded in batches of CANCEL_BATCH (cancel is
        checked between them). A cancel writes nothing of an unfinished window: every document
        in it keeps its previous state."""
        yield from self._settle(report, prog)
        if not pending or report.cancelled:
            return
        from rag.ingest.embed_job import EmbedJob

        window = list(pending)
        pending.clear()
        # a forced re-index (the user's "Re-index") embeds everything again
        vectors: dict = {} if self.force else self._reusable(window)
        todo: dict[str, str] = {}  # hash -> text, each distinct text embedded once
        for p in window:
            for h, t in zip(p.hashes, p.texts, strict=True):
                if h not in vectors:
                    todo.setdefault(h, t)
        # Shortest first: each embedder call then holds chunks of about one length, so short
        # chunks are not padded to a long neighbour's (the embedder sorts within a call too).
        need = sorted(todo, key=lambda h: len(todo[h]))
        self.reused += sum(len(p.hashes) for p in window) - len(need)
        if need and embedder_cold(self.embedder):  # seconds on a cold start: say so, not "0 chunks"
            prog.stage = "loading the embedding model"
            yield prog
            started = time.monotonic()
            self.embedder.load()
            self.job.t0 += time.monotonic() - started  # a one-off: not part of the work rate
        prog.stage = "embedding"
        self._window = (window, EmbedJob(self.embedder, need, [todo[h] for h in need], vectors,
                                         CANCEL_BATCH, cancel).start())
        self._credit()
        yield prog
        if not self.overlap:
            yield from self._settle(report, prog)

    def _settle(self, report: IndexReport, prog: IndexProgress
                ) -> Generator[IndexProgress, None, None]:
        """Wait for the window in flight (reporting its progress), then commit it, unless a
        cancel cut it short: then nothing of it is written."""
        if self._window is None:
            return
        window, ejob = self._window
        while not ejob.wait(WAIT_S):
            prog.stage = "embedding"
            self._credit()
            yield prog
        self._window = None
        self.embedded += ejob.embedded
        if ejob.error is not None:
            raise ejob.error
        if ejob.stopped:
            report.cancelled = True
            return
        import numpy as np

        self._credit((window, ejob))
        allvec = np.stack([ejob.vectors[h] for p in window for h in p.hashes])
        self._commit(window, allvec)
        self._committed += sum(len(p.hashes) for p in window)
        for p in window:
            report.outcomes.append(FileOutcome(p.path, "indexed", chunks=len(p.chunks)))
            prog.files_done += 1
            self.job.complete(p.path)

    def _credit(self, flight: tuple | None = None) -> None:
        """Chunks done = committed + embedded in the window in flight (never moving back)."""
        window, ejob = flight or self._window or ((), None)
        got = 0
        for p in window:
            n = sum(1 for h in p.hashes if h in ejob.vectors)
            got += n
            self.job.embedded(p.path, n, len(p.hashes))
        prog = self.job.prog
        prog.chunks_done = max(prog.chunks_done, self._committed + got)

    def _tick(self) -> IndexProgress:
        """The report while a file is read: the window embedding meanwhile moves it too."""
        if self._window is not None:
            self._credit()
        return self.job.tick()

    def _reusable(self, pending: list[_Pending]) -> dict:
        """{hash: stored vector} for the queued chunks an indexed document already has."""
        found = self.manifest.chunks_by_hash(h for p in pending for h in p.hashes)
        if not found:
            return {}
        stored = self.store.vectors(sorted(set(found.values())))
        return {h: stored[cid] for h, cid in found.items() if cid in stored}

    def _commit(self, pending: list[_Pending], allvec) -> None:
        """Mark, old vectors out, new vectors in (one store call each), then text + status."""
        ids: list[str] = []
        metas: list[dict] = []
        rows_by_doc = []
        with self.write_lock:
            for p in pending:  # a kill from here on leaves `indexing` rows: resume redoes them
                p.known = p.known or self.manifest.get(p.path) is not None
                p.doc_id = self.manifest.upsert(p.path, status="indexing", title=p.title,
                                                sha256=p.sha, size=p.size, mtime=p.mtime)
            for p in pending:
                pids = [f"{p.doc_id}:{p.sha[:12]}:{c.ordinal}" for c in p.chunks]
                ids += pids
                metas += [{"doc_id": p.doc_id, "ordinal": c.ordinal, "page": c.page or -1}
                          for c in p.chunks]
                rows_by_doc.append([(cid, c.ordinal, c.page, c.start, c.end, c.text, h)
                                    for cid, c, h in zip(pids, p.chunks, p.hashes, strict=True)])
            known = [p.doc_id for p in pending if p.known]
            if known:
                self.store.delete_docs(known)
            self.store.add(ids, allvec, metas)
            record_variant(self.manifest, self.embedder)
            for p, rows in zip(pending, rows_by_doc, strict=True):
                self.manifest.replace_chunks(p.doc_id, p.title, rows, status="indexed")

    def _prune_vanished(self, folders: list[Path], report: IndexReport) -> None:
        for folder in folders:
            for rec in self.manifest.under(str(folder)):
                if not os.path.exists(rec.path):
                    self.remove(rec.id)
                    report.outcomes.append(FileOutcome(rec.path, "removed", "file no longer exists"))

    def remove(self, doc_id: int) -> None:
        """Rows out with a tombstone first, then vectors: a crash between is finished on open."""
        with self.write_lock:
            self.manifest.bury([doc_id], scrub=False)
            self.store.delete_doc(doc_id)
            self.manifest.clear_tombstones([doc_id])
