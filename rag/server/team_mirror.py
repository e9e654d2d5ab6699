"""This client's keyword mirror of a server library: chunk text + FTS5 BM25, kept in step.

Why a mirror: the open-source Chroma server (1.x) has no ranked keyword search (its sparse
vectors and Search API answer "not supported for local chroma"; `where_document` only filters),
so BM25 runs here, on a copy of the server's chunk text. It stays correct when other clients
add or forget documents: before every search the client reads the server's version token (one
small request); when it changed, the document list is compared (key + generation) and only
new/changed documents' chunks are fetched, vanished ones dropped. The token is read *before*
the list, so a change made during a refresh is seen by the next search. The mirror is a cache:
deleting it costs one full refresh, nothing else.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from rag.base.paths import private_file
from rag.store.chunk_index import ChunkIndex, chunk_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, path TEXT NOT NULL, title TEXT NOT NULL,
    gen TEXT NOT NULL, chunks INTEGER NOT NULL
);
""" + chunk_schema("docs")


class Mirror(ChunkIndex):
    """The chunk index `Retriever` reads (as the manifest is one), over the server's chunks."""

    DOCS = "docs"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        super().__init__(sqlite3.connect(str(self.path), check_same_thread=False,
                                         isolation_level=None), threading.RLock())
        private_file(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA secure_delete=ON")  # forgotten text is zeroed here too
        self._db.executescript(SCHEMA)

    # -- refresh ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def generations(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, gen FROM docs"))

    def sync(self, server, records: dict[str, dict]) -> None:
        """Make the mirror hold exactly the `indexed` documents of `records` (server state)."""
        want = {k: r for k, r in records.items() if r.get("status") == "indexed"}
        have = self.generations()
        gone = [k for k in have if k not in want or want[k].get("gen") != have[k]]
        new = [k for k in want if have.get(k) != want[k].get("gen")]
        if gone:
            self.remove(gone)
        if not new:
            return
        fetched = server.chunks_of(new)
        for key in new:
            rec, rows = want[key], fetched.get(key, [])
            sha = str(rec.get("sha", ""))[:12]
            if len(rows) != int(rec.get("chunks", -1)) or any(
                    cid.split(":")[1] != sha for cid, _, _ in rows):
                continue  # being rewritten right now: the next search picks it up
            self._put(key, rec, rows)

    def _put(self, key: str, rec: dict, rows: list[tuple[str, dict, str]]) -> None:
        title = str(rec.get("title", ""))
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._delete_key(key)
            cur = self._db.execute("INSERT INTO docs(key, path, title, gen, chunks) VALUES "
                                   "(?,?,?,?,?)", (key, str(rec.get("path", "")), title,
                                                   str(rec.get("gen", "")), len(rows)))
            doc_id = cur.lastrowid
            for cid, meta, text in sorted(rows, key=lambda r: int(r[1].get("ordinal", 0))):
                page = int(meta.get("page", -1))
                self._add_chunk({"chunk_id": cid, "doc_id": doc_id,
                                 "ordinal": int(meta.get("ordinal", 0)),
                                 "page": None if page < 0 else page,
                                 "start": int(meta.get("start", 0)),
                                 "end": int(meta.get("end", 0))}, text, title)
            self._changed()

    def _delete_key(self, key: str) -> None:
        row = self._db.execute("SELECT id FROM docs WHERE key = ?", (key,)).fetchone()
        if row is not None:
            self._delete_chunks(row[0])
            self._db.execute("DELETE FROM docs WHERE id = ?", (row[0],))

    def remove(self, keys: list[str]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            for key in keys:
                self._delete_key(key)
            self._changed()

    def reset(self) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._delete_all_chunks()
            self._db.execute("DELETE FROM docs")
            self._db.execute("DELETE FROM meta")

    # -- what the team library reads ----------------------------------------------------------
    def keys_for(self, doc_ids: list[int]) -> list[str]:
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            return [r[0] for r in self._db.execute(
                f"SELECT key FROM docs WHERE id IN ({marks})", [int(d) for d in doc_ids])]

    def ids_under(self, rel: str) -> list[int]:
        """Mirror ids of the document at library path `rel`, or of every one under it."""
        rel = rel.rstrip("/")
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT id FROM docs WHERE path = ? OR substr(path, 1, ?) = ?",
                (rel, len(rel) + 1, rel + "/"))]

    def close(self) -> None:
        with self._lock:
            self._db.close()
