"""WatchService end to end: real watchdog, real files, real Library, real MiniLM embedder.

The embedder is wrapped (delegating, not faked) to count embedding calls, which proves that
renames and moves are free. Waits poll with timeouts; nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import wait_for

from bench.common import CountingEmbedder
from rag.embed.embeddings import SentenceTransformerEmbedder
from rag.library import Library
from rag.watch import WatchService

pytestmark = pytest.mark.slow

FAST = {"settle_seconds": 0.25, "debounce_seconds": 0.1, "health_interval": 0.2,
        "polling_interval": 0.2}


class RecordingLibrary:
    """Delegates to the real Library and records every index outcome, per path."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.indexed: Counter[str] = Counter()

    def __getattr__(self, name):
        return getattr(self.lib, name)

    def index(self, paths, **kw):
        report = self.lib.index(paths, **kw)
        for o in report.outcomes:
            if o.status == "indexed":
                self.indexed[o.path] += 1
        return report


@pytest.fixture(scope="module")
def real_embedder():
    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up"])
    return emb


@pytest.fixture
def env(tmp_path, real_embedder):
    """A fresh library, a docs folder and a running service; yields a small helper object."""
    docs = tmp_path / "docs"
    docs.mkdir()
    counter = CountingEmbedder(real_embedder)
    lib = RecordingLibrary(Library.open(tmp_path / "data", embedder=counter))
    statuses = []
    svc = WatchService(lib, on_status=statuses.append, **FAST)
    yield type("Env", (), {"docs": docs, "lib": lib, "svc": svc, "emb": counter,
                           "statuses": statuses, "tmp": tmp_path})
    svc.stop()
    with contextlib.suppress(Exception):  # a test may have closed it already
        lib.close()




def docs_by_path(lib) -> dict:
    return {r.path: r for r in lib.documents()}


def indexed(lib, path: Path) -> bool:
    rec = docs_by_path(lib).get(str(path))
    return rec is not None and rec.status == "indexed"


def top_path(lib, query: str) -> str | None:
    hits = lib.search(query, k=1)
    return hits[0].path if hits else None


def test_create_modify_in_place_and_delete(env):
    env.svc.add_folder(env.docs)
    env.svc.start()
    note = env.docs / "garden.txt"
    note.write_text("Tomatoes need six hours of sunlight every day.")
    wait_for(lambda: indexed(env.lib, note))
    first_sha = docs_by_path(env.lib)[str(note)].sha256
    with open(note, "a") as fh:
        fh.write("\nThe zucchini harvest was enormous this August.")
    wait_for(lambda: docs_by_path(env.lib)[str(note)].sha256 != first_sha
             and indexed(env.lib, note))
    assert top_path(env.lib, "zucchini harvest August") == str(note)
    note.unlink()
    wait_for(lambda: str(note) not in docs_by_path(env.lib))
    assert env.lib.search("zucchini harvest", k=3) == []
    assert env.lib.indexed[str(note)] == 2  # created once, edited once
    assert env.statuses and env.statuses[-1].folders[0].state == "watching"


def test_atomic_save_replaces_content_without_junk(env):
    env.svc.add_folder(env.docs)
    env.svc.start()
    note = env.docs / "plan.md"
    note.write_text("# Plan\nBuy flour and yeast.")
    wait_for(lambda: indexed(env.lib, note))
    tmp = env.docs / ".plan.md.swp"  # editor writes the new version aside, then renames it over
    tmp.write_text("# Plan\nBuy rye flour, caraway seeds and sourdough starter.")
    os.replace(tmp, note)
    wait_for(lambda: "caraway" in "".join(h.text for h in env.lib.search("caraway seeds", k=1)))
    assert env.svc.wait_idle(10)
    assert list(docs_by_path(env.lib)) == [str(note)]


def test_rename_file_and_move_folder_cost_zero_embeddings(env):
    (env.docs / "projects").mkdir()
    for i in range(12):
        (env.docs / "projects" / f"p{i}.txt").write_text(f"Project {i} notes about milestone {i}.")
    (env.docs / "recipe.txt").write_text("Pancakes: flour, milk, eggs, a pinch of salt.")
    env.svc.add_folder(env.docs)  # not running yet: indexes on this thread
    assert len(docs_by_path(env.lib)) == 13
    env.svc.start()
    assert env.svc.wait_idle(10)
    before = env.emb.texts
    (env.docs / "recipe.txt").rename(env.docs / "pancakes.txt")
    (env.docs / "projects").rename(env.docs / "archive")
    wait_for(lambda: str(env.docs / "pancakes.txt") in docs_by_path(env.lib)
             and str(env.docs / "archive" / "p11.txt") in docs_by_path(env.lib))
    assert env.svc.wait_idle(10)
    paths = set(docs_by_path(env.lib))
    assert paths == {str(env.docs / "pancakes.txt")} | {
        str(env.docs / "archive" / f"p{i}.txt") for i in range(12)}
    assert env.emb.texts == before, (dict(env.lib.indexed), [s.message for s in env.statuses])
    assert top_path(env.lib, "pancakes flour milk eggs") == str(env.docs / "pancakes.txt")


def test_move_between_two_watched_folders_is_a_rename(env):
    other = env.tmp / "other"
    other.mkdir()
    (env.docs / "letter.txt").write_text("Dear Sam, the lighthouse keeper retired in May.")
    env.svc.add_folder(env.docs)
    env.svc.add_folder(other)
    env.svc.start()
    assert env.svc.wait_idle(10)
    before = env.emb.texts
    shutil.move(str(env.docs / "letter.txt"), str(other / "letter.txt"))
    wait_for(lambda: list(docs_by_path(env.lib)) == [str(other / "letter.txt")])
    assert env.emb.texts == before


def test_burst_of_500_files_each_indexed_exactly_once(env):
    env.svc.add_folder(env.docs)
    env.svc.start()
    assert env.svc.wait_idle(10)
    paths = []
    for i in range(500):
        p = env.docs / f"burst{i:03d}.txt"
        p.write_text(f"Burst file number {i}.")
        paths.append(str(p))
    wait_for(lambda: sum(1 for p in paths if env.lib.indexed[p]) == 500, timeout=120)
    assert env.svc.wait_idle(30)
    assert all(env.lib.indexed[p] == 1 for p in paths)
    assert env.lib.status()["documents"] == 500


def test_slowly_written_file_is_indexed_once_after_completion(env):
    env.svc.add_folder(env.docs)
    env.svc.start()
    target = env.docs / "minutes.txt"
    pieces = [f"Item {i}: the committee discussed budget line {i}.\n" for i in range(8)]
    with open(target, "w") as fh:
        for piece in pieces:  # each pause is shorter than the settle period
            fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(0.08)
    wait_for(lambda: indexed(env.lib, target))
    assert env.svc.wait_idle(10)
    assert env.lib.indexed[str(target)] == 1
    assert docs_by_path(env.lib)[str(target)].size == len("".join(pieces))


def test_junk_files_are_ignored(env):
    env.svc.add_folder(env.docs)
    env.svc.start()
    for name in [".hidden.txt", ".report.md.swp", "report.md~", "~$budget.docx", "movie.part",
                 "paper.pdf.crdownload", "scratch.tmp", "photo.xyz", ".#notes.txt"]:
        (env.docs / name).write_text("junk that must never be indexed")
    real = env.docs / "real.txt"
    real.write_text("A real document about kayaking.")
    wait_for(lambda: indexed(env.lib, real))
    assert env.svc.wait_idle(10)
    assert list(docs_by_path(env.lib)) == [str(real)]


def test_changes_while_closed_are_reconciled(env, real_embedder):
    keep = env.docs / "keep.txt"
    keep.write_text("Unchanged file about owls.")
    edit = env.docs / "edit.txt"
    edit.write_text("Version one about foxes.")
    gone = env.docs / "gone.txt"
    gone.write_text("This file will be deleted while Hearth is closed.")
    (env.docs / "sub").mkdir()
    moved = env.docs / "sub" / "travel.txt"
    moved.write_text("Packing list: passport, charger, rain jacket.")
    env.svc.add_folder(env.docs)
    env.lib.close()
    # --- Hearth is closed: the user edits, deletes, adds and renames -------------------------
    edit.write_text("Version two about badgers and their setts.")
    gone.unlink()
    new = env.docs / "new.txt"
    new.write_text("A brand new note about herons.")
    old_time = time.time() - 60  # not just written: no need to wait for it to settle
    os.utime(new, (old_time, old_time))
    os.utime(edit, (old_time, old_time))
    (env.docs / "sub").rename(env.docs / "trips")
    # --- reopen ---------------------------------------------------------------------------------
    emb = CountingEmbedder(real_embedder)
    lib = RecordingLibrary(Library.open(env.tmp / "data", embedder=emb))
    svc = WatchService(lib, **FAST)
    try:
        svc.start()
        wait_for(lambda: str(new) in docs_by_path(lib))
        assert svc.wait_idle(20)
        assert set(docs_by_path(lib)) == {str(keep), str(edit), str(new),
                                          str(env.docs / "trips" / "travel.txt")}
        assert set(lib.indexed) == {str(edit), str(new)}  # the rename was matched by hash
        assert top_path(lib, "badgers setts") == str(edit)
    finally:
        svc.stop()
        lib.close()


def test_missing_folder_pauses_keeps_documents_and_resumes(env):
    (env.docs / "a.txt").write_text("Notes on the unplugged drive.")
    env.svc.add_folder(env.docs)
    env.svc.start()
    assert env.svc.wait_idle(10)
    aside = env.tmp / "aside"
    env.docs.rename(aside)  # the drive goes away
    wait_for(lambda: env.svc.folders()[0].state == "missing")
    assert "kept" in env.svc.folders()[0].notice
    assert env.svc.wait_idle(10)
    assert list(docs_by_path(env.lib)) == [str(env.docs / "a.txt")]
    aside.rename(env.docs)  # ...and comes back
    wait_for(lambda: env.svc.folders()[0].state == "watching")
    (env.docs / "b.txt").write_text("Written after the drive returned.")
    wait_for(lambda: indexed(env.lib, env.docs / "b.txt"))
    env.svc.remove_folder(env.docs, forget=True)  # the user confirms removal
    wait_for(lambda: not docs_by_path(env.lib))
    assert env.svc.folders() == []


def test_deleted_folder_keeps_documents_until_confirmed(env):
    (env.docs / "sub").mkdir()
    for i in range(5):
        (env.docs / "sub" / f"n{i}.txt").write_text(f"Note {i} about the old archive.")
    env.svc.add_folder(env.docs)
    env.svc.start()
    assert env.svc.wait_idle(10)
    shutil.rmtree(env.docs)  # every file's delete event arrives, then the folder's own
    wait_for(lambda: env.svc.folders()[0].state == "missing")
    assert env.svc.wait_idle(10)
    assert len(docs_by_path(env.lib)) == 5  # nothing forgotten without the user's consent
    env.svc.remove_folder(env.docs, forget=True)
    wait_for(lambda: not docs_by_path(env.lib))


def test_pause_and_resume_catches_up(env):
    env.svc.add_folder(env.docs)
    env.svc.start()
    env.svc.set_paused(env.docs, True)
    assert env.svc.folders()[0].state == "paused"
    late = env.docs / "late.txt"
    late.write_text("Written while paused: indexed on resume.")
    old = time.time() - 60
    os.utime(late, (old, old))
    assert env.svc.wait_idle(10) and not docs_by_path(env.lib)
    env.svc.set_paused(env.docs, False)
    wait_for(lambda: indexed(env.lib, late))
    assert env.svc.folders()[0].state == "watching"


def test_removed_documents_stay_removed_until_added_again(env, real_embedder):
    (env.docs / "sub").mkdir()
    gone = env.docs / "gone.txt"
    gone.write_text("Notes about quokkas that the user removes.")
    inner = env.docs / "sub" / "inner.txt"
    inner.write_text("Notes about wombats in a removed subfolder.")
    env.svc.add_folder(env.docs)
    env.svc.start()
    wait_for(lambda: indexed(env.lib, gone) and indexed(env.lib, inner))
    assert env.svc.exclude([str(gone), str(env.docs / "sub")]) == [
        str(gone), str(env.docs / "sub")]
    env.lib.forget_many([str(gone), str(env.docs / "sub")])
    # Edits, new files in the removed folder and a control file in the watched one.
    with open(gone, "a") as fh:
        fh.write("\nAn edit after removal.")
    (env.docs / "sub" / "later.txt").write_text("A new file in the removed subfolder.")
    control = env.docs / "control.txt"
    control.write_text("A new note about echidnas.")
    wait_for(lambda: indexed(env.lib, control))
    assert env.svc.wait_idle(20)
    held = set(docs_by_path(env.lib))
    assert held == {str(control)}
    env.svc.stop()
    # A restart reconciles the folder from disk: the exclusions were saved with it.
    svc = WatchService(env.lib, **FAST)
    try:
        svc.start()
        assert svc.wait_idle(30)
        assert set(docs_by_path(env.lib)) == {str(control)}
        # Added again by hand: the exclusion goes, and the watcher follows the file again.
        assert svc.include([str(gone)]) == [str(gone)]
        env.lib.index([str(gone)])
        before = docs_by_path(env.lib)[str(gone)].sha256
        with open(gone, "a") as fh:
            fh.write("\nAnd an edit after it came back.")
        wait_for(lambda: docs_by_path(env.lib)[str(gone)].sha256 != before)
        assert str(inner) not in docs_by_path(env.lib)  # still kept out
    finally:
        svc.stop()
