"""An interrupted forget is finished, never leaked (issue 18, item 1).

Reproduction: index 4 notes (one carries a canary), start `hearth forget secret.txt`, SIGKILL it
the moment `DATA/chroma.new` appears (the vector store is being rewritten), run the same forget
again. Before the fix the manifest row was already gone, the re-run found nothing to scrub, and
the vectors and the file-hash prefix stayed in chroma's files for good.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hostile import (
    canary,
    find_in_dir,
    hearth,
    hearth_env,
    kill_when,
    library_ids,
    note,
    start,
)


def _fingerprints(data: Path, embedder, path: Path) -> tuple[list[str], list[bytes]]:
    """Chunk ids and the first 64 bytes of each stored vector of one document."""
    from rag.library import Library

    with Library.open(data, embedder=embedder, owner="test") as lib:
        ids = lib.store.ids_for_doc(lib.manifest.get(str(path)).id)
        got = lib.store._col.get(ids=ids, include=["embeddings"])
        return list(got["ids"]), [np.asarray(v, np.float32).tobytes()[:64]
                                  for v in got["embeddings"]]


def _needles(word: str, file_hash: str, ids: list[str], vectors: list[bytes]) -> dict:
    needles = {"canary": word.encode(), "canary utf-16": word.encode("utf-16-le"),
               "file hash prefix": file_hash[:12].encode()}
    needles.update({f"chunk id {c}": c.encode() for c in ids})
    needles.update({f"vector {i}": v for i, v in enumerate(vectors)})
    return needles


@pytest.mark.slow
def test_forget_killed_while_rewriting_vectors_is_finished_by_the_rerun(tmp_path, embedder):
    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    gone, kept = canary(), canary()
    secret = note(docs / "secret.txt", gone)
    for i, word in enumerate([kept, canary(), canary()]):
        note(docs / f"note{i}.txt", word)
    assert hearth(data, "index", docs, "--json").json()["indexed"] == 4
    file_hash = hashlib.sha256(secret.read_bytes()).hexdigest()
    ids, vectors = _fingerprints(data, embedder, secret)
    needles = _needles(gone, file_hash, ids, vectors)
    assert find_in_dir(data, needles)  # positive control: the scan sees it before

    for _attempt in range(3):  # the rewrite lasts ~0.1 s; a poll may miss it, then retry
        proc = start(data, "forget", secret, "--json", quiet=True)
        if kill_when(proc, lambda: (data / "chroma.new").exists()):
            break
        hearth(data, "index", docs)  # it finished: put the note back and try again
    else:
        pytest.fail("never caught the forget while it rewrote the vector store")

    again = hearth(data, "forget", secret, "--json")
    assert again.returncode == 0, again.stderr
    leftovers = find_in_dir(data, needles)
    assert leftovers == [], "forgotten document still on disk:\n" + "\n".join(leftovers)
    assert find_in_dir(data, {"kept": kept.encode()})  # the scan still sees kept text
    manifest_ids, chroma_ids = library_ids(data, embedder)
    assert manifest_ids == chroma_ids and len(manifest_ids) >= 3
    hits = hearth(data, "search", kept, "--json", "-k", "1").json()
    assert hits and kept in hits[0]["text"]


def _recorded_forget(docs: Path, data: Path, embedder) -> tuple[str, str, int, list[str]]:
    """secret.txt and keep.txt indexed, then secret.txt's forget recorded and "the crash": rows
    gone, tombstone and scrub flag on disk, vectors and old pages still there."""
    from rag.library import Library

    docs.mkdir()
    gone, kept = canary(), canary()
    secret = note(docs / "secret.txt", gone)
    note(docs / "keep.txt", kept)
    with Library.open(data, embedder=embedder, owner="test") as lib:
        assert lib.index([docs]).count("indexed") == 2
        doc_id = lib.manifest.get(str(secret)).id
        ids = lib.store.ids_for_doc(doc_id)
        lib.manifest.bury([doc_id], scrub=True)
        assert lib.manifest.tombstones() == [doc_id]
    return gone, kept, doc_id, ids


@pytest.mark.slow
def test_a_recorded_forget_is_finished_when_the_library_next_opens(tmp_path, embedder):
    """The state a crash right after the recording transaction leaves: rows gone, tombstone and
    scrub flag on disk, vectors and old pages still there. Any next open finishes it."""
    from rag.library import Library

    docs, data = tmp_path / "docs", tmp_path / "data"
    gone, kept, doc_id, ids = _recorded_forget(docs, data, embedder)
    keep = docs / "keep.txt"
    needles = {"canary": gone.encode(), "hash": ids[0].split(":")[1].encode()}
    assert find_in_dir(data, needles)  # still on disk: the crash came before the scrub

    with Library.open(data, embedder=embedder, owner="test") as lib:
        assert lib.manifest.tombstones() == [] and not lib.manifest.scrub_pending()
        assert lib.store.ids_for_doc(doc_id) == []
        assert lib.index([keep, note(docs / "new.txt", canary())]).count("indexed") == 1
    assert find_in_dir(data, needles) == []
    manifest_ids, chroma_ids = library_ids(data, embedder)
    assert manifest_ids == chroma_ids and manifest_ids


def test_a_new_document_never_takes_a_tombstoned_id(tmp_path):
    """Otherwise finishing a late tombstone would delete the newcomer's vectors."""
    from rag.store.manifest import Manifest

    m = Manifest(tmp_path / "m.sqlite3")
    first = m.upsert("/a.txt", status="indexed")
    last = m.upsert("/b.txt", status="indexed")
    m.bury([last], scrub=True)
    assert m.tombstones() == [last] and m.scrub_pending()
    assert m.upsert("/c.txt", status="pending") > last > first
    m.clear_tombstones([last])
    assert m.tombstones() == []
    m.close()


@pytest.mark.slow
@pytest.mark.parametrize("first_reader", ["status", "search"])
def test_an_owed_forget_is_finished_by_the_next_reader(tmp_path, embedder, first_reader):
    """Only readers run after the cut-short forget. While another process holds the writer lock
    the reader cannot finish it and `status` says so, naming the holder; once the lock is free
    the first reader (`hearth status` or `hearth search`) takes the write side briefly and
    finishes it: canary, vector ids and file name are gone from every file."""
    import subprocess
    import sys

    from rag.library import forget_owed

    docs, data = tmp_path / "docs", tmp_path / "data"
    gone, kept, _doc_id, ids = _recorded_forget(docs, data, embedder)
    needles = {"canary": gone.encode(), "hash": ids[0].split(":")[1].encode(),
               "file name": b"secret.txt"}
    assert find_in_dir(data, needles) and forget_owed(data)

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from rag.store.lock import LibraryLock\n"
        "lock = LibraryLock(Path(sys.argv[1]), 'the test writer').acquire()\n"
        "print('held', flush=True); sys.stdin.read()"), str(data)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=hearth_env(data))
    try:
        assert holder.stdout.readline().strip() == "held"
        status = hearth(data, "status", "--json").json()
        assert status["forget_owed"] is True and status["in_use_by"] == "the test writer"
        text = hearth(data, "status").stdout
        assert "A forget was cut short" in text and "the test writer will finish it" in text
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)

    if first_reader == "search":
        hits = hearth(data, "search", kept, "--json", "-k", "1").json()
        assert hits and kept in hits[0]["text"]
    status = hearth(data, "status", "--json").json()
    assert status["forget_owed"] is False and status["documents"] == 1
    assert find_in_dir(data, needles) == [], find_in_dir(data, needles)
    manifest_ids, chroma_ids = library_ids(data, embedder)
    assert manifest_ids == chroma_ids and manifest_ids


def test_the_window_says_when_a_forget_is_still_owed(qtbot, tmp_path):
    """The window opens the library as its writer, which finishes an owed forget; if that could
    not run (a full disk), the status the library reports makes the window say so."""
    from app.gui.launch import create_window

    window = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(window)
    window.backend.library_opened.emit({"documents": 1, "forget_owed": True})
    assert "A forget was cut short" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()
    window.backend.library_opened.emit({"documents": 1, "forget_owed": False})
    assert window.statusBar().currentMessage() == ""
