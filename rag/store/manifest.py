"""The library's SQLite manifest: documents, and their chunks in the FTS5 keyword index
(rag/store/chunk_index.py, shared with the team library's mirror).

A document is marked `indexed` only after its vectors are in the store; anything left `indexing`
by a crash is redone on the next open. Chunk text is stored here only (FTS5 content), so a
forget that deletes rows, optimises FTS5 and vacuums leaves no trace of it on disk. A forget is
recorded (tombstones + a pending-scrub flag) in the same transaction that deletes the rows, so a
crash or a full disk half-way through is finished by the next open or forget.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.base.paths import private_file
from rag.store.chunk_index import ChunkIndex, chunk_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_status ON documents(status);
CREATE INDEX IF NOT EXISTS documents_size ON documents(size);
CREATE TABLE IF NOT EXISTS tombstones (doc_id INTEGER PRIMARY KEY);
""" + chunk_schema("documents")
# Version 2 adds `chunks.hash` (SHA-256 of the embedding model id + the text it embedded), so an
# edited document reuses the vectors of its unchanged chunks. Older rows keep an empty hash and are
# embedded again when their document changes (nothing else differs).
MIGRATE_2 = """
ALTER TABLE chunks ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
"""
# A forget first records tombstones (ids whose vectors must go) and, for a scrubbing forget, this
# meta flag, in the same transaction that deletes the rows; both are cleared only once done.
SCRUB_PENDING = "scrub_pending"
SCHEMA_VERSION = "2"


@dataclass
class DocumentRecord:
    id: int
    path: str
    title: str
    sha256: str
    size: int
    mtime: float
    status: str  # pending | indexing | indexed | skipped | failed
    reason: str
    chunks: int
    updated_at: float

    def to_json(self) -> dict:
        return {"path": self.path, "title": self.title, "status": self.status,
                "reason": self.reason, "chunks": self.chunks, "size": self.size}


class Manifest(ChunkIndex):
    """Thread-safe wrapper over one SQLite file (WAL, one connection guarded by a lock)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only:  # `hearth status`: works on a full disk or read-only media
            super().__init__(_open_read_only(self.path), threading.RLock())
            return
        super().__init__(sqlite3.connect(str(self.path), check_same_thread=False,
                                         isolation_level=None), threading.RLock())
        private_file(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA secure_delete=ON")  # deleted text is zeroed, not left in free pages
        self._db.executescript(SCHEMA)
        self._migrate()
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    def _migrate(self) -> None:
        """Bring an older library up to date in one transaction (a crash leaves the old schema,
        and the next open migrates again)."""
        cols = {r[1] for r in self._db.execute("PRAGMA table_info(chunks)")}
        if "hash" not in cols:
            with self._tx():
                for stmt in filter(str.strip, MIGRATE_2.split(";")):
                    self._db.execute(stmt)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                                 (SCHEMA_VERSION,))

    # -- library facts ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- documents -------------------------------------------------------------------------------
    def get(self, path: str) -> DocumentRecord | None:
        if not storable(path):  # a name with undecodable bytes can't be in the library
            return None
        row = self._one("SELECT * FROM documents WHERE path = ?", (path,))
        return DocumentRecord(*row) if row else None

    def get_by_id(self, doc_id: int) -> DocumentRecord | None:
        row = self._one("SELECT * FROM documents WHERE id = ?", (doc_id,))
        return DocumentRecord(*row) if row else None

    def documents(self, status: str | None = None) -> list[DocumentRecord]:
        sql, args = "SELECT * FROM documents", ()
        if status:
            sql, args = sql + " WHERE status = ?", (status,)
        with self._lock:
            return [DocumentRecord(*r) for r in self._db.execute(sql + " ORDER BY path", args)]

    def under(self, path: str) -> list[DocumentRecord]:
        """Documents at `path` or anywhere below it (as a folder)."""
        if not storable(path):
            return []
        sep = os.sep  # stored paths are absolute in the platform's form ('\\' on Windows)
        prefix = path.rstrip(sep) + sep
        # A range on the unique path index ("a/" <= p < "a0", '0' follows '/'): a lookup, not a
        # scan, which matters when the watcher asks this for every new file in a big library.
        upper = prefix[:-1] + chr(ord(sep) + 1)
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM documents WHERE path = ? OR (path >= ? AND path < ?) ORDER BY path",
                (path, prefix, upper),
            ).fetchall()
        return [DocumentRecord(*r) for r in rows]

    def with_sizes(self, sizes: set[int]) -> list[DocumentRecord]:
        """Documents whose recorded file size is one of `sizes` (indexed lookup)."""
        out: list[DocumentRecord] = []
        values = sorted(int(v) for v in sizes)
        with self._lock:
            for i in range(0, len(values), 500):
                part = values[i:i + 500]
                out += [DocumentRecord(*r) for r in self._db.execute(
                    f"SELECT * FROM documents WHERE size IN ({','.join('?' * len(part))})", part)]
        return out

    def upsert(self, path: str, *, status: str, title: str = "", sha256: str = "", size: int = 0,
               mtime: float = 0.0, reason: str = "") -> int:
        with self._lock:
            self._db.execute(
                "INSERT INTO documents(id, path, title, sha256, size, mtime, status, reason, "
                "updated_at) VALUES ((SELECT COALESCE(MAX(m), 0) + 1 FROM (SELECT MAX(id) AS m "
                "FROM documents UNION ALL SELECT MAX(doc_id) FROM tombstones)),?,?,?,?,?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET title=excluded.title, "
                "sha256=excluded.sha256, size=excluded.size, mtime=excluded.mtime, "
                "status=excluded.status, reason=excluded.reason, updated_at=excluded.updated_at",
                (path, title, sha256, size, mtime, status, reason, time.time()),
            )
            return int(self._one("SELECT id FROM documents WHERE path = ?", (path,))[0])

    def set_status(self, doc_id: int, status: str, reason: str = "") -> None:
        with self._lock:
            self._db.execute("UPDATE documents SET status=?, reason=?, updated_at=? WHERE id=?",
                             (status, reason, time.time(), doc_id))

    def touch(self, doc_id: int, size: int, mtime: float) -> None:
        with self._lock:
            self._db.execute("UPDATE documents SET size=?, mtime=? WHERE id=?", (size, mtime, doc_id))

    def rename(self, old: str, new: str) -> int:
        """Re-point a file, or every file under a folder, to a new path. Returns rows moved."""
        moved = 0
        with self._lock, self._tx():
            for rec in self.under(old):
                dest = new + rec.path[len(old):]
                self._db.execute("DELETE FROM documents WHERE path = ? AND id != ?", (dest, rec.id))
                self._db.execute("UPDATE documents SET path = ? WHERE id = ?", (dest, rec.id))
                moved += 1
        return moved

    # -- chunks ----------------------------------------------------------------------------------
    def replace_chunks(self, doc_id: int, title: str, rows: list[tuple], *,
                       status: str = "indexed") -> None:
        """Atomically swap a document's chunks and mark it (default: indexed). A row is
        (chunk_id, ordinal, page, start, end, text[, content hash])."""
        with self._lock, self._tx():
            self._delete_chunks(doc_id)  # also clears the term-frequency cache
            for chunk_id, ordinal, page, start, end, text, *rest in rows:
                self._add_chunk({"chunk_id": chunk_id, "doc_id": doc_id, "ordinal": ordinal,
                                 "page": page, "start": start, "end": end,
                                 "hash": rest[0] if rest else ""}, text, title)
            self._db.execute(
                "UPDATE documents SET status=?, reason='', chunks=?, updated_at=? WHERE id=?",
                (status, len(rows), time.time(), doc_id),
            )
            self._changed()

    def delete_document(self, doc_id: int) -> None:
        self.bury([doc_id], scrub=False)

    def bury(self, doc_ids: Iterable[int], *, scrub: bool) -> None:
        """Delete documents and record, atomically, what must still happen: their vectors
        deleted (a tombstone each) and, if `scrub`, the files rewritten (a pending flag).
        New documents never take a tombstoned id, so a late vector delete can't hit them."""
        ids = [int(d) for d in doc_ids]
        with self._lock, self._tx():
            for doc_id in ids:
                self._db.execute("INSERT OR IGNORE INTO tombstones VALUES (?)", (doc_id,))
                self._delete_chunks(doc_id)
                self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            if scrub:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (SCRUB_PENDING,))

    def tombstones(self) -> list[int]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT doc_id FROM tombstones ORDER BY 1")]

    def clear_tombstones(self, doc_ids: Iterable[int]) -> None:
        with self._lock, self._tx():
            self._db.executemany("DELETE FROM tombstones WHERE doc_id = ?",
                                 [(int(d),) for d in doc_ids])

    def scrub_pending(self) -> bool:
        return self.get_meta(SCRUB_PENDING) == "1"

    def doc_ids(self) -> set[int]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM documents")}

    def chunk_ids(self, doc_id: int) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))]

    def chunks_by_hash(self, hashes: Iterable[str]) -> dict[str, str]:
        """{content hash: chunk id} for chunks of `indexed` documents with these hashes.

        Only `indexed` documents count: their rows and vectors were committed together, so the
        vector under that id was made from that text. A document being re-indexed (a crash may
        have left new vectors under its old ids) is never a source."""
        wanted = sorted({h for h in hashes if h})
        out: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                out.update(self._db.execute(
                    "SELECT c.hash, c.chunk_id FROM chunks c JOIN documents d ON d.id = c.doc_id "
                    f"WHERE d.status = 'indexed' AND c.hash IN ({','.join('?' * len(part))})",
                    part))
        return out

    # -- housekeeping ----------------------------------------------------------------------------
    def counts(self) -> dict:
        with self._lock:
            by_status = dict(self._db.execute("SELECT status, COUNT(*) FROM documents GROUP BY status"))
            chunks = self._one("SELECT COUNT(*) FROM chunks", ())[0]
        return {"documents": sum(by_status.values()), "chunks": int(chunks), "by_status": by_status}

    def compact(self) -> None:
        """Physically remove deleted text: merge FTS5 segments, vacuum, truncate the WAL."""
        with self._lock:
            self._db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def wipe(self) -> None:
        """Delete every row; the scrub flag set in the same transaction is cleared by the caller
        once the vectors are gone too."""
        with self._lock, self._tx():
            self._delete_all_chunks()
            self._db.execute("DELETE FROM documents")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (SCRUB_PENDING,))
        self.compact()

    def close(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()

    def _one(self, sql: str, args: tuple):
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _tx(self):
        return _Transaction(self._db)


def _open_read_only(path: Path) -> sqlite3.Connection:
    """Read without writing: `mode=ro` (shares the WAL with a live writer), else, where even
    the WAL index can't be made (read-only media), the file as it is (`immutable`)."""
    from urllib.parse import quote

    uri = "file:" + quote(str(path.resolve()))
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{uri}?{flags}", uri=True, check_same_thread=False,
                             isolation_level=None)
        try:
            db.execute("SELECT COUNT(*) FROM documents").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            if "immutable" in flags:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def storable(text: str) -> bool:
    """False for names with bytes that aren't UTF-8 (Python keeps them as lone surrogates,
    which SQLite can't store)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
