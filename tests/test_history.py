"""Saved conversations (app/history.py): CRUD, search, export and a private file, on real SQLite."""

from __future__ import annotations

import json
import os
import stat

from app.history import History, title_from_question


def _chat(h: History) -> int:
    conv = h.create("Lighthouses", scope=["/docs/sea"])
    h.add_message(conv.id, "user", "Who built the Zephyr lighthouse?")
    h.add_message(conv.id, "assistant", "Marta Kowalski built it [1].",
                  sources=[{"n": 1, "path": "/docs/sea/zephyr.pdf", "page": 2, "text": "built 1887"}],
                  model="SmolLM2")
    return conv.id


def test_file_is_private_and_survives_reopen(tmp_path):
    with History.open(tmp_path) as h:
        cid = _chat(h)
    path = tmp_path / "history.sqlite3"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with History.open(tmp_path) as h:
        conv = h.get(cid)
        assert conv is not None and conv.title == "Lighthouses" and conv.scope == ["/docs/sea"]
        msgs = h.messages(cid)
        assert [m.role for m in msgs] == ["user", "assistant"]
        assert msgs[1].sources[0]["page"] == 2 and msgs[1].model == "SmolLM2"


def test_search_rename_delete(tmp_path):
    with History.open(tmp_path) as h:
        cid = _chat(h)
        other = h.create("Bread").id
        h.add_message(other, "user", "How long to feed a 100% starter?")
        assert [c.id for c in h.list("kowalski")] == [cid]  # message text, any case
        assert [c.id for c in h.list("bread")] == [other]  # title
        assert [c.id for c in h.list("100%")] == [other]  # LIKE wildcards are literal
        assert h.list("_") == []
        assert {c.id for c in h.list("")} == {cid, other}
        h.rename(cid, "  Sea  ")
        assert h.get(cid).title == "Sea"
        h.rename(cid, "   ")
        assert h.get(cid).title == "Untitled chat"
        h.delete(cid)
        assert h.get(cid) is None and h.messages(cid) == []  # messages cascade
        assert [c.id for c in h.list()] == [other]


def test_regenerate_replaces_the_last_answer(tmp_path):
    with History.open(tmp_path) as h:
        cid = _chat(h)
        last = h.messages(cid)[-1]
        h.delete_message(last.id)
        h.add_message(cid, "assistant", "Second try [1].")
        assert [m.content for m in h.messages(cid)][-1] == "Second try [1]."
        assert len(h.messages(cid)) == 2


def test_export_markdown_and_json(tmp_path):
    with History.open(tmp_path) as h:
        cid = _chat(h)
        md = h.export_markdown(cid)
        data = h.export_json(cid)
    assert md.startswith("# Lighthouses\n")
    assert "## You\n\nWho built the Zephyr lighthouse?" in md
    assert "## Hearth\n\nMarta Kowalski built it [1]." in md
    assert "- [1] /docs/sea/zephyr.pdf, page 2" in md
    assert "`/docs/sea`" in md
    json.dumps(data)  # serialisable as-is
    assert data["title"] == "Lighthouses" and data["scope"] == ["/docs/sea"]
    assert data["messages"][1]["sources"][0]["path"] == "/docs/sea/zephyr.pdf"


def test_title_from_question():
    assert title_from_question("  What   is\nthis? ") == "What is this?"
    long = title_from_question("word " * 40)
    assert len(long) == 60 and long.endswith("…")


def test_route_reason_is_saved_and_exported(tmp_path):
    with History.open(tmp_path) as h:
        conv = h.create("Routed")
        h.add_message(conv.id, "user", "Why did the lamp change?")
        h.add_message(conv.id, "assistant", "Because [1].", model="gemma-3-270m",
                      route="larger model (gemma-3-270m): asks for reasoning")
    with History.open(tmp_path) as h:
        last = h.messages(conv.id)[-1]
        assert (last.model, last.route) == ("gemma-3-270m",
                                            "larger model (gemma-3-270m): asks for reasoning")
        assert "*Answered by gemma-3-270m: larger model" in h.export_markdown(conv.id)
        assert h.export_json(conv.id)["messages"][1]["route"].startswith("larger model")


def test_version_1_file_is_migrated(tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.executescript(
        "CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL, created REAL"
        " NOT NULL, updated REAL NOT NULL, scope TEXT NOT NULL DEFAULT '[]');"
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL,"
        " role TEXT NOT NULL, content TEXT NOT NULL, sources TEXT NOT NULL DEFAULT '[]',"
        " model TEXT NOT NULL DEFAULT '', created REAL NOT NULL);"
        "INSERT INTO conversations VALUES (1, 'Old', 0, 0, '[]');"
        "INSERT INTO messages VALUES (1, 1, 'user', 'old question', '[]', '', 0);"
        "PRAGMA user_version = 1;")
    db.commit()
    db.close()
    with History.open(tmp_path) as h:
        assert [(m.content, m.route) for m in h.messages(1)] == [("old question", "")]
        h.add_message(1, "assistant", "new answer", route="only one model enabled")
        assert h.messages(1)[-1].route == "only one model enabled"


def test_wipe_leaves_no_trace_in_the_file(tmp_path):
    canary = "quokka-canary-7731"
    with History.open(tmp_path) as h:
        for i in range(30):
            conv = h.create(f"{canary} chat {i}")
            h.add_message(conv.id, "user", f"Tell me about {canary} number {i} " * 20)
        h.wipe()
        assert h.list() == []
        again = h.create("After the wipe")  # still usable
        assert [c.id for c in h.list()] == [again.id]
    raw = (tmp_path / "history.sqlite3").read_bytes()
    assert canary.encode() not in raw
    assert not [p for p in tmp_path.iterdir() if p.name != "history.sqlite3"]  # no journal left
