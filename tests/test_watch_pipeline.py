"""Watch pipeline without a Library: filters, stability, queue, persistence, real watchdog events."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from conftest import wait_for
from watchdog.observers.inotify import InotifyObserver

from rag.base.errors import HearthError
from rag.watch.filters import PathFilter, junk_reason
from rag.watch.folders import FolderStore
from rag.watch.observer import FolderWatcher, filesystem_type
from rag.watch.queue import ChangeQueue
from rag.watch.reconcile import collapse_missing
from rag.watch.stability import StabilityTracker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- filters -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [".hidden.txt", ".notes.md.swp", "notes.md~", ".#notes.md",
                                  "~$report.docx", ".~lock.report.docx#", "#notes.md#",
                                  "film.part", "paper.pdf.crdownload", "save.tmp", "a.md.bak"])
def test_junk_names_are_rejected(name):
    assert junk_reason(name) is not None


def test_filter_keeps_real_documents_and_drops_unsupported(tmp_path):
    root = str(tmp_path)
    f = PathFilter([root], exclude=[str(tmp_path / "data")])
    assert f.wanted(f"{root}/notes.md")
    assert f.wanted(f"{root}/sub/report.pdf")
    assert f.reason(f"{root}/picture.xyz") == "unsupported file type"
    assert f.reason(f"{root}/.git/notes.md") == "inside a hidden folder"
    assert f.reason(f"{root}/data/library.txt") == "inside the library's data folder"
    assert not f.dir_ok(f"{root}/sub/.cache")


def test_watched_folder_may_live_under_a_hidden_folder(tmp_path):
    root = str(tmp_path / ".config" / "notes")
    assert PathFilter([root]).wanted(root + "/todo.txt")


def test_walk_yields_only_wanted_regular_files(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".b.txt").write_text("b")
    (tmp_path / "c.txt~").write_text("c")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "d.txt").write_text("d")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.md").write_text("e")
    found = [Path(p).name for p, _ in PathFilter([str(tmp_path)]).walk(str(tmp_path))]
    assert found == ["a.txt", "e.md"]


# -- stability ---------------------------------------------------------------------------------
def test_stability_requires_quiet_period(tmp_path):
    clock = FakeClock()
    tracker = StabilityTracker(settle_seconds=1.0, clock=clock)
    f = tmp_path / "x.txt"
    f.write_text("one")
    tracker.touch(str(f))
    assert tracker.check(str(f)) == "changing"
    clock.now += 0.5
    with open(f, "a") as fh:
        fh.write(" two")  # size changes: the settle period starts again
    assert tracker.check(str(f)) == "changing"
    clock.now += 0.9
    assert tracker.check(str(f)) == "changing"
    clock.now += 0.2
    assert tracker.check(str(f)) == "stable"
    f.unlink()
    assert tracker.check(str(f)) == "gone"


# -- queue -------------------------------------------------------------------------------------
def _queue(tmp_path, **kw):
    clock = FakeClock()
    q = ChangeQueue(debounce_seconds=0.5, settle_seconds=1.0, clock=clock, **kw)
    return q, clock


def test_queue_coalesces_duplicate_events_and_waits_for_settle(tmp_path):
    q, clock = _queue(tmp_path)
    f = tmp_path / "a.txt"
    f.write_text("hello")
    for _ in range(20):
        q.upsert(str(f))
    assert q.pending() == 1
    assert not q.take_ready()  # debounce not over
    clock.now += 0.6
    assert not q.take_ready()  # not settled yet
    clock.now += 0.6
    batch = q.take_ready()
    assert batch.upserts == [str(f)] and q.pending() == 0


def test_queue_move_rewrites_pending_paths_and_supersedes_dest_delete(tmp_path):
    q, clock = _queue(tmp_path)
    src, dest = str(tmp_path / "old"), str(tmp_path / "new")
    q.upsert(src + "/a.txt")
    q.delete(dest)
    q.move(src, dest, is_dir=True)
    q.move(src + "/b.txt", dest + "/b.txt")  # watchdog's synthetic sub-move: dropped
    batch = q.take_ready()
    assert [(m.src, m.dest) for m in batch.moves] == [(src, dest)]
    with q._cond:
        assert set(q._items) == {dest + "/a.txt"}


def test_queue_upsert_of_vanished_file_becomes_delete(tmp_path):
    q, clock = _queue(tmp_path)
    path = str(tmp_path / "temp.txt")
    q.upsert(path)  # file never existed on disk by the time we look
    clock.now += 0.6
    assert q.take_ready().deletes == [path]


def test_queue_holds_deletes_while_files_arrive(tmp_path):
    q, clock = _queue(tmp_path, hold_seconds=5.0)
    (tmp_path / "b").mkdir()
    new = tmp_path / "b" / "a.txt"
    new.write_text("moved across folders")
    q.delete(str(tmp_path / "a" / "a.txt"))
    q.upsert(str(new))
    clock.now += 0.6
    assert not q.take_ready().deletes  # the create is still settling: could be the same file
    clock.now += 0.6
    batch = q.take_ready()
    assert batch.deletes and batch.upserts  # released together so they can be paired


def test_collapse_missing_uses_topmost_missing_folder(tmp_path):
    root = str(tmp_path)
    (tmp_path / "keep").mkdir()
    paths = [f"{root}/gone/a.txt", f"{root}/gone/sub/b.txt", f"{root}/keep/c.txt"]
    assert collapse_missing(paths, root) == [f"{root}/gone", f"{root}/keep/c.txt"]


# -- persistence -------------------------------------------------------------------------------
def test_folder_store_persists_privately_and_atomically(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    store = FolderStore(data)
    store.add(docs / "sub")
    folder, absorbed = store.add(docs)  # a parent absorbs the watched subfolder
    assert absorbed == [str(docs / "sub")]
    with pytest.raises(HearthError):
        store.add(docs / "sub")
    store.update(folder.path, paused=True)
    path = data / "watched.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(data.glob("*.tmp"))
    raw = json.loads(path.read_text())
    assert [f["path"] for f in raw["folders"]] == [str(docs)]
    again = FolderStore(data).list()
    assert [(f.path, f.paused) for f in again] == [(str(docs), True)]
    assert FolderStore(data).remove(docs) and FolderStore(data).list() == []


def test_folder_store_exclusions_persist_merge_and_undo(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    docs = tmp_path / "docs"
    (docs / "sub" / "deep").mkdir(parents=True)
    store = FolderStore(data)
    store.add(docs / "sub")
    assert store.exclude([docs / "sub" / "deep" / "a.txt", tmp_path / "elsewhere.txt",
                          docs / "sub"]) == [str(docs / "sub" / "deep" / "a.txt")]
    store.add(docs)  # absorbing the subfolder keeps what was kept out of it
    assert store.excluded() == [str(docs / "sub" / "deep" / "a.txt")]
    assert store.exclude([docs / "sub" / "deep"]) == [str(docs / "sub" / "deep")]
    assert store.excluded() == [str(docs / "sub" / "deep")]  # the folder covers its file
    assert store.exclude([docs / "sub" / "deep" / "b.txt"]) == []  # already covered
    again = FolderStore(data)
    assert [f.excluded for f in again.list()] == [[str(docs / "sub" / "deep")]]
    assert again.list()[0].to_json()["excluded"] == [str(docs / "sub" / "deep")]
    assert again.include([docs / "sub"]) == [str(docs / "sub" / "deep")]
    assert FolderStore(data).excluded() == []


def test_filter_says_why_a_removed_path_is_skipped(tmp_path):
    f = PathFilter([str(tmp_path)], exclude=[str(tmp_path / "data")],
                   removed=[str(tmp_path / "old")])
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x.txt").write_text("kept out")
    (tmp_path / "new.txt").write_text("wanted")
    assert "removed from the library" in f.reason(str(tmp_path / "old" / "x.txt"))
    assert "data folder" in f.reason(str(tmp_path / "data" / "y.txt"))
    assert [p for p, _ in f.walk(str(tmp_path))] == [str(tmp_path / "new.txt")]


def test_filesystem_type_from_mount_table():
    mounts = ("/dev/sda1 / ext4 rw 0 0\n"
              "server:/export /mnt/nas nfs4 rw 0 0\n"
              "//pc/share /mnt/my\\040share cifs rw 0 0\n")
    assert filesystem_type("/mnt/nas/docs", mounts) == "nfs4"
    assert filesystem_type("/mnt/my share/x", mounts) == "cifs"
    assert filesystem_type("/mnt/nasty", mounts) == "ext4"


# -- real watchdog -----------------------------------------------------------------------------
@pytest.fixture
def watched(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    q = ChangeQueue(debounce_seconds=0.05, settle_seconds=0.1)
    watcher = FolderWatcher(str(root), q, PathFilter([str(root)]))
    watcher.start()
    yield root, q, watcher
    watcher.stop()


def _drain(q: ChangeQueue, until, timeout: float = 10.0):
    """Collect batches until `until(collected)` holds."""
    got = {"moves": [], "deletes": [], "upserts": [], "scans": []}

    def step():
        b = q.take_ready()
        for key in got:
            got[key].extend(getattr(b, key))
        return until(got)

    wait_for(step, timeout)
    return got


def test_real_events_create_modify_atomic_save_and_junk(watched):
    root, q, watcher = watched
    assert watcher.mode == "watching"
    note = root / "note.txt"
    note.write_text("v1")
    (root / ".note.txt.swp").write_text("swap")
    (root / "~$report.docx").write_text("lock")
    (root / "video.part").write_text("partial")
    got = _drain(q, lambda g: str(note) in g["upserts"])
    # atomic save: write a temp file, then rename it over the original
    tmp = root / ".note.txt.tmp123"
    tmp.write_text("v2")
    os.replace(tmp, note)
    got2 = _drain(q, lambda g: str(note) in g["upserts"])
    every = [p for g in (got, got2) for k in g for p in (g[k] if k != "moves" else [])]
    assert all(Path(p).name == "note.txt" for p in every), every
    assert not got2["moves"] and not got2["deletes"]


def test_real_events_rename_file_and_move_folder(watched):
    root, q, watcher = watched
    (root / "a").mkdir()
    (root / "a" / "x.txt").write_text("x")
    (root / "y.txt").write_text("y")
    _drain(q, lambda g: len(g["upserts"]) + len(g["scans"]) >= 2)
    (root / "y.txt").rename(root / "z.txt")
    (root / "a").rename(root / "b")
    got = _drain(q, lambda g: len(g["moves"]) >= 2)
    pairs = [(Path(m.src).name, Path(m.dest).name, m.is_dir) for m in got["moves"]]
    assert pairs == [("y.txt", "z.txt", False), ("a", "b", True)]  # no per-file sub-moves


def test_limit_error_falls_back_to_polling_with_notice(tmp_path):
    class LimitedObserver(InotifyObserver):
        """The real inotify observer, as it behaves when the kernel's watch limit is reached."""

        def start(self):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    root = tmp_path / "docs"
    root.mkdir()
    q = ChangeQueue(debounce_seconds=0.05, settle_seconds=0.1)
    watcher = FolderWatcher(str(root), q, PathFilter([str(root)]), polling_interval=0.1,
                            native_factory=LimitedObserver)
    watcher.start()
    try:
        assert watcher.mode == "polling"
        assert "limit" in watcher.notice and "max_user_watches" in watcher.notice
        (root / "late.md").write_text("seen by polling")
        _drain(q, lambda g: str(root / "late.md") in g["upserts"])
    finally:
        watcher.stop()


def test_network_filesystem_uses_polling(tmp_path):
    root = tmp_path / "nas"
    root.mkdir()
    mounts = f"/dev/sda1 / ext4 rw 0 0\nserver:/x {tmp_path} nfs4 rw 0 0\n"
    watcher = FolderWatcher(str(root), ChangeQueue(), PathFilter([str(root)]),
                            polling_interval=0.1, mounts_text=mounts)
    watcher.start()
    try:
        assert watcher.mode == "polling" and "nfs4" in watcher.notice
    finally:
        watcher.stop()


def test_reconcile_plan_hashes_only_when_size_or_mtime_differ(tmp_path, monkeypatch):
    """plan_folder against manifest records (a stand-in for the Library, which is not under test)."""
    from types import SimpleNamespace

    from rag.watch import reconcile

    root = tmp_path / "docs"
    root.mkdir()
    same = root / "same.txt"
    same.write_text("unchanged")
    edited = root / "edited.txt"
    edited.write_text("edited later")
    moved = root / "moved.txt"
    moved.write_text("moved while closed")
    st_same, st_moved = same.stat(), moved.stat()

    def rec(path, st, sha):
        return SimpleNamespace(path=str(path), size=st.st_size, mtime=st.st_mtime,
                               sha256=sha, status="indexed")

    records = [rec(same, st_same, "x" * 64),  # sha deliberately wrong: must not be hashed
               rec(edited, SimpleNamespace(st_size=1, st_mtime=0.0), "y" * 64),
               rec(root / "old-name.txt", st_moved, reconcile.file_sha256(str(moved))),
               rec(root / "gone" / "deleted.txt", SimpleNamespace(st_size=99, st_mtime=0.0),
                   "z" * 64)]
    lib = SimpleNamespace(documents=lambda: records)
    hashed = []
    real_sha = reconcile.file_sha256
    monkeypatch.setattr(reconcile, "file_sha256", lambda p: hashed.append(p) or real_sha(p))
    plan = reconcile.plan_folder(lib, str(root), PathFilter([str(root)]))
    assert plan.renames == [(str(root / "old-name.txt"), str(moved))]
    assert plan.forgets == [str(root / "gone")]
    assert plan.index == [str(edited)]
    assert hashed == [str(moved)]  # only the size-matched candidate for a vanished document
