"""Indexing as a generator: files -> text -> chunks -> vectors -> store, reporting every step.

Crash-safe order per document: mark `indexing` (with the new hash) -> delete its old vectors ->
upsert new vectors under deterministic ids -> swap its chunk text and mark `indexed` in one SQLite
transaction. A kill at any point leaves either the old state or an `indexing` row that the next
run redoes; deterministic ids mean a redo overwrites rather than duplicates.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.cancel import CancelToken
from rag.chunking import ChunkingConfig, chunk_pages, embedding_text
from rag.errors import LoadError, UnsupportedFormat
from rag.loaders.base import os_reason
from rag.manifest import Manifest, storable
from rag.types import Chunk, FileOutcome, IndexProgress, IndexReport

FINAL = ("indexed", "skipped", "failed")
EMBED_BATCH = 128
BAD_NAME = "the file name is not valid UTF-8 text; rename the file to index it"
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


@dataclass
class _Pending:
    doc_id: int
    path: str
    title: str
    sha: str
    chunks: list[Chunk]
    texts: list[str] = field(default_factory=list)
    known: bool = False  # had a row before (may have old vectors to delete)


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


def shown_path(path: str) -> str:
    """A path fit to print and store in reports: undecodable bytes shown as \\xNN escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def norm_path(path: str | Path) -> str:
    """One spelling per file: absolute, symlinks resolved (the watcher sees real paths too)."""
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(files to consider, folders walked); hidden files and folders are left out of walks."""
    files: list[Path] = []
    folders: list[Path] = []
    for raw in paths:
        p = Path(norm_path(raw))
        if p.is_dir():
            folders.append(p)
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        else:
            files.append(p)
    return files, folders


class Indexer:
    def __init__(self, manifest: Manifest, store, embedder, write_lock,
                 chunking: ChunkingConfig | None = None, embed_batch: int = EMBED_BATCH) -> None:
        """`store` may be a zero-argument callable: opened only when vectors are touched, so a
        re-index that finds nothing changed never starts chromadb."""
        self.manifest = manifest
        self._store = store
        self.embedder = embedder
        self.write_lock = write_lock
        self.chunking = chunking or ChunkingConfig()
        self.embed_batch = embed_batch

    @property
    def store(self):
        if callable(self._store) and not hasattr(self._store, "add"):
            self._store = self._store()
        return self._store

    def run(self, paths: Iterable[str | Path], cancel: CancelToken | None = None,
            prune_folders: bool = True, force: bool = False
            ) -> Generator[IndexProgress, None, IndexReport]:
        """Index files/folders; `force` re-reads files even when unchanged (user's "Re-index")."""
        from rag import loaders

        t0 = time.perf_counter()
        report = IndexReport()
        files, folders = expand(paths)
        prog = IndexProgress(files_total=len(files))
        if prune_folders:
            self._prune_vanished(folders, report)
        pending: list[_Pending] = []
        for path in files:
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            prog.current = shown_path(str(path))
            outcome = self._prepare_safely(path, loaders, pending, force, cancel)
            if outcome is not None:
                report.outcomes.append(outcome)
                prog.files_done += 1
            else:
                prog.chunks_total += len(pending[-1].chunks)
            if sum(len(p.chunks) for p in pending) >= self.embed_batch:
                yield from self._flush(pending, report, prog, cancel)
            yield prog
        if not report.cancelled:
            yield from self._flush(pending, report, prog, cancel)
        prog.current = ""
        report.seconds = time.perf_counter() - t0
        yield prog
        return report

    # -- steps -----------------------------------------------------------------------------------
    def _prepare_safely(self, path: Path, loaders, pending: list[_Pending], force: bool,
                        cancel: CancelToken | None = None) -> FileOutcome | None:
        """Every file ends in an outcome: an unforeseen error in one file (not the library's
        own storage failing, which must stop the run) becomes its reason."""
        import sqlite3

        try:
            return self._prepare(path, loaders, pending, force, cancel)
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
                 cancel: CancelToken | None = None) -> FileOutcome | None:
        """Decide what to do with one file; load+chunk it if it needs indexing (None = queued)."""
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
        from rag.ocr import OcrCancelled, ocr_session

        try:
            with ocr_session(cancel=cancel):  # OCR of scanned pages stops between pages
                doc = loaders.load_document(path)
        except OcrCancelled:
            return FileOutcome(spath, "unchanged" if settled else "skipped",
                               "cancelled before this file was read")
        except UnsupportedFormat as exc:
            return self._mark(spath, "skipped", str(exc), st, sha)
        except LoadError as exc:
            return self._mark(spath, "failed", str(exc), st, sha)
        except Exception as exc:  # a loader bug must not stop the batch
            return self._mark(spath, "failed", f"could not read: {exc}", st, sha)
        title, chunks = chunk_pages(doc.pages, doc.title, self.embedder, self.chunking)
        if not chunks:
            return self._mark(spath, "skipped", "no text to index", st, sha)
        with self.write_lock:
            doc_id = self.manifest.upsert(spath, status="indexing", title=doc.title, sha256=sha,
                                          size=st.st_size, mtime=st.st_mtime)
        texts = [embedding_text(title, c.text) for c in chunks]
        pending.append(_Pending(doc_id, spath, doc.title, sha, chunks, texts, known=rec is not None))
        return None

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
        """Embed the queued chunks in large batches, then commit document by document."""
        if not pending:
            return
        texts = [t for p in pending for t in p.texts]
        vectors = []
        for i in range(0, len(texts), self.embed_batch):
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                return  # queued documents stay `indexing`; resume() picks them up
            vectors.append(self.embedder.embed(texts[i:i + self.embed_batch]))
            prog.chunks_done += len(texts[i:i + self.embed_batch])
            yield prog
        import numpy as np

        allvec = np.concatenate(vectors) if len(vectors) > 1 else vectors[0]
        self._commit(pending, allvec)
        for p in pending:
            report.outcomes.append(FileOutcome(p.path, "indexed", chunks=len(p.chunks)))
            prog.files_done += 1
        pending.clear()

    def _commit(self, pending: list[_Pending], allvec) -> None:
        """Old vectors out, new vectors in (one store call each), then text + status per doc."""
        ids: list[str] = []
        metas: list[dict] = []
        rows_by_doc = []
        for p in pending:
            pids = [f"{p.doc_id}:{p.sha[:12]}:{c.ordinal}" for c in p.chunks]
            ids += pids
            metas += [{"doc_id": p.doc_id, "ordinal": c.ordinal, "page": c.page or -1}
                      for c in p.chunks]
            rows_by_doc.append([(cid, c.ordinal, c.page, c.start, c.end, c.text)
                                for cid, c in zip(pids, p.chunks, strict=True)])
        with self.write_lock:
            known = [p.doc_id for p in pending if p.known]
            if known:
                self.store.delete_docs(known)
            self.store.add(ids, allvec, metas)
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
