"""Saved conversations: one private SQLite file (`<data_dir>/history.sqlite3`, mode 0600).

Why a separate file from the library manifest: chats are the app's data, not the index's; wiping
or rebuilding the library must not lose them, and forgetting a chat must not touch the index.
Qt-free so the CLI and tests can use it; the GUI calls it from its main thread only (every call is
a few milliseconds).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.base.paths import private_file

FILENAME = "history.sqlite3"
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    scope TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    model TEXT NOT NULL DEFAULT '',
    route TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
"""


@dataclass
class Message:
    id: int
    conversation_id: int
    role: str  # "user" | "assistant"
    content: str
    sources: list[dict] = field(default_factory=list)
    model: str = ""
    created: float = 0.0
    route: str = ""  # why the router picked `model` (empty with one model)

    def to_json(self) -> dict:
        return {
            "role": self.role,
            "content": self.content,
            "sources": self.sources,
            "model": self.model,
            "route": self.route,
            "created": self.created,
        }


@dataclass
class Conversation:
    id: int
    title: str
    created: float
    updated: float
    scope: list[str] = field(default_factory=list)


class History:
    """CRUD, text search and export for conversations."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        private_file(self.path)
        self._db = sqlite3.connect(self.path)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA secure_delete = ON")  # deleted chats are zeroed on disk
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._db.commit()

    @classmethod
    def open(cls, data_dir: str | os.PathLike) -> History:
        return cls(Path(data_dir) / FILENAME)

    def _migrate(self) -> None:
        """Version 1 files lack `messages.route`; add it in place (old rows get '')."""
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(messages)")}
        if "route" not in columns:
            self._db.execute("ALTER TABLE messages ADD COLUMN route TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self._db.close()

    def wipe(self) -> None:
        """Delete every conversation and message, leaving no trace in the file.

        secure_delete zeroes freed pages; VACUUM then rebuilds the file without them.
        """
        self._db.execute("DELETE FROM messages")
        self._db.execute("DELETE FROM conversations")
        self._db.commit()
        self._db.execute("VACUUM")

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- conversations -----------------------------------------------------------------------
    def create(self, title: str = "New chat", scope: list[str] | None = None) -> Conversation:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO conversations (title, created, updated, scope) VALUES (?, ?, ?, ?)",
            (title, now, now, json.dumps(scope or [])),
        )
        self._db.commit()
        return Conversation(cur.lastrowid, title, now, now, list(scope or []))

    def get(self, conversation_id: int) -> Conversation | None:
        row = self._db.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return _conversation(row) if row else None

    def list(self, search: str = "") -> list[Conversation]:
        """Newest first; `search` matches the title or any message text, case-insensitively."""
        if not search.strip():
            rows = self._db.execute("SELECT * FROM conversations ORDER BY updated DESC, id DESC")
        else:
            like = "%" + _escape_like(search.strip()) + "%"
            rows = self._db.execute(
                "SELECT * FROM conversations c WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS ("
                " SELECT 1 FROM messages m WHERE m.conversation_id = c.id"
                " AND m.content LIKE ? ESCAPE '\\') ORDER BY updated DESC, id DESC",
                (like, like),
            )
        return [_conversation(r) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        title = title.strip() or "Untitled chat"
        self._db.execute(
            "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)
        )
        self._db.commit()

    def set_scope(self, conversation_id: int, scope: list[str]) -> None:
        self._db.execute(
            "UPDATE conversations SET scope = ? WHERE id = ?", (json.dumps(scope), conversation_id)
        )
        self._db.commit()

    def delete(self, conversation_id: int) -> None:
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._db.commit()

    # -- messages ----------------------------------------------------------------------------
    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        sources: list[dict] | None = None,
        model: str = "",
        route: str = "",
    ) -> Message:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO messages (conversation_id, role, content, sources, model, route, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, role, content, json.dumps(sources or []), model, route, now),
        )
        self._db.execute(
            "UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id)
        )
        self._db.commit()
        return Message(cur.lastrowid, conversation_id, role, content, list(sources or []), model,
                       now, route)

    def delete_message(self, message_id: int) -> None:
        self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
        self._db.commit()

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self._db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        return [
            Message(
                r["id"], r["conversation_id"], r["role"], r["content"],
                json.loads(r["sources"] or "[]"), r["model"], r["created"], r["route"],
            )
            for r in rows
        ]

    # -- export ------------------------------------------------------------------------------
    def export_json(self, conversation_id: int) -> dict:
        conv = self.get(conversation_id)
        if conv is None:
            raise KeyError(conversation_id)
        return {
            "title": conv.title,
            "created": conv.created,
            "updated": conv.updated,
            "scope": conv.scope,
            "messages": [m.to_json() for m in self.messages(conversation_id)],
        }

    def export_markdown(self, conversation_id: int) -> str:
        data = self.export_json(conversation_id)
        lines = [f"# {data['title']}", ""]
        if data["scope"]:
            lines += ["Limited to: " + ", ".join(f"`{p}`" for p in data["scope"]), ""]
        for m in data["messages"]:
            who = "You" if m["role"] == "user" else "Hearth"
            lines += [f"## {who}", "", m["content"].strip(), ""]
            if m.get("route"):
                lines += [f"*Answered by {m['model']}: {m['route']}*", ""]
            # [n] in an answer means passage n when the answer has passages (saved with it)
            refs = [s for s in m["sources"] if s.get("evidence")] or m["sources"]
            for i, s in enumerate(refs, 1):
                page = f", page {s['page']}" if s.get("page") is not None else ""
                quote = f": “{s['quote']}”" if s.get("quote") else ""
                lines.append(f"- [{s.get('n', i)}] {s.get('path', '')}{page}{quote}")
            if m["sources"]:
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def title_from_question(question: str, limit: int = 60) -> str:
    """A conversation's default title: its first question, on one line, shortened."""
    text = " ".join(question.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        row["id"], row["title"], row["created"], row["updated"], json.loads(row["scope"] or "[]")
    )
