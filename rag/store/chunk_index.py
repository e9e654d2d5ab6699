"""The chunk index: chunk rows with their text in FTS5, and the reads `Retriever` makes of it.

Why one module: the embedded library's manifest (rag/store/manifest.py) and the team library's local
mirror of a server's chunks (rag/server/team_mirror.py) keep chunks the same way, so BM25 ranks them
the same way in both; only the table of documents the chunks belong to differs. A chunk's text
lives only in `chunks_fts`, under the rowid of its `chunks` row.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from rag.store.keyword import bm25_sql


def chunk_schema(docs: str) -> str:
    """The `chunks` table (rows of the documents table `docs`) and its FTS5 text."""
    return f"""
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT UNIQUE NOT NULL,
    doc_id INTEGER NOT NULL REFERENCES {docs}(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, title, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


@dataclass
class ChunkRow:
    chunk_id: str
    doc_id: int
    path: str
    page: int | None
    start: int
    end: int
    text: str


class ChunkIndex:
    """Chunk reads and writes over one SQLite connection guarded by one lock. `DOCS` names the
    documents table (it has `id` and `path`); writers call `_changed()` after a change."""

    DOCS = "documents"

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock
        self._df_cache: dict[str, int] = {}  # term -> chunks containing it; cleared on writes
        self._chunk_count: int | None = None  # likewise

    def _changed(self) -> None:
        self._df_cache.clear()
        self._chunk_count = None

    # -- writes (callers hold the lock, inside their transaction) ------------------------------
    def _add_chunk(self, columns: dict[str, object], text: str, title: str) -> None:
        """One `chunks` row (`columns`) and its text in FTS5 under the same rowid."""
        names = ", ".join(columns)
        cur = self._db.execute(f"INSERT INTO chunks({names}) VALUES "  # noqa: S608 - our names
                               f"({','.join('?' * len(columns))})", list(columns.values()))
        self._db.execute("INSERT INTO chunks_fts(rowid, text, title) VALUES (?,?,?)",
                         (cur.lastrowid, text, title))

    def _delete_chunks(self, doc_id: int) -> None:
        self._changed()
        self._db.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE doc_id = ?)",
            (doc_id,),
        )
        self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))

    def _delete_all_chunks(self) -> None:
        self._changed()
        self._db.execute("DELETE FROM chunks_fts")
        self._db.execute("DELETE FROM chunks")

    # -- reads -----------------------------------------------------------------------------------
    def chunk_count(self) -> int:
        with self._lock:
            if self._chunk_count is None:
                self._chunk_count = int(
                    self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
            return self._chunk_count

    def term_doc_counts(self, terms: list[str]) -> dict[str, int]:
        """How many chunks contain each term or phrase (stemmed like the index). Cached: the
        costly terms are the common ones, and common terms recur across queries."""
        out: dict[str, int] = {}
        with self._lock:
            for term in terms:
                if term not in self._df_cache:
                    q = '"' + term.replace('"', '""') + '"'
                    try:
                        n = self._db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts "
                                             "MATCH ?", (q,)).fetchone()[0]
                    except sqlite3.OperationalError:
                        n = 0
                    self._df_cache[term] = int(n)
                out[term] = self._df_cache[term]
        return out

    def keyword_search(self, match: str, k: int, doc_ids: list[int] | None = None
                       ) -> list[tuple[str, float]]:
        """FTS5 BM25 (lower bm25() is better; returned as a positive score)."""
        if not match or (doc_ids is not None and not doc_ids):
            return []
        sql = bm25_sql(None if doc_ids is None else len(doc_ids))
        args: list = [match, *(int(d) for d in doc_ids or ()), k]
        with self._lock:
            try:
                rows = self._db.execute(sql, args).fetchall()
            except sqlite3.OperationalError:
                return []
        return [(cid, -float(s)) for cid, s in rows]

    def fetch_chunks(self, chunk_ids: Iterable[str]) -> dict[str, ChunkRow]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT c.chunk_id, c.doc_id, d.path, c.page, c.start, c.end, f.text FROM chunks c "
                f"JOIN {self.DOCS} d ON d.id = c.doc_id JOIN chunks_fts f ON f.rowid = c.rowid "
                f"WHERE c.chunk_id IN ({marks})", ids,
            ).fetchall()
        return {r[0]: ChunkRow(*r) for r in rows}
