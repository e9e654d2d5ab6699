"""A full disk and a read-only library folder: every command says so in one plain line and
exits 1 (or simply works, for reads); nothing is lost and all is well once space returns.

Reproduction (issue 18, item 4): with the data dir on a nearly full filesystem, `hearth index`
printed sqlite's "database or disk is full" or chroma's "Error in compaction" tracebacks, forget
left the document half-scrubbed, and even `hearth search` died writing library.lock (Errno 28).
The filesystem is a real small tmpfs, mounted for the test (root only; skipped elsewhere).
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
from hostile import canary, find_in_dir, hearth, library_ids, note

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem holding `folder`."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\1" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def one_plain_line(run, *words: str) -> None:
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hearth: "), run.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_full_disk_then_read_only_then_recovery(tmp_path, small_disk, embedder):
    docs, more = tmp_path / "docs", tmp_path / "more"
    docs.mkdir()
    more.mkdir()
    words = [canary() for _ in range(4)]
    for i, w in enumerate(words):
        note(docs / f"note{i}.txt", w)
    for i in range(30):
        note(more / f"extra{i}.txt", canary())
    data = small_disk / "data"
    assert hearth(data, "index", docs, "--json").json()["indexed"] == 4

    filler = fill(small_disk)
    one_plain_line(hearth(data, "index", more), "disk", "full")
    one_plain_line(hearth(data, "forget", docs / "note0.txt"), "disk", "full")
    hits = hearth(data, "search", words[1], "--json", "--mode", "keyword")  # reads still work
    assert hits.returncode == 0, hits.stderr
    assert any(words[1] in h["text"] for h in hits.json())
    status = hearth(data, "status", "--json")
    assert status.returncode == 0 and status.json()["in_use_by"] is None, status.stderr

    filler.unlink()  # space is back: the interrupted forget and the index both complete
    again = hearth(data, "forget", docs / "note0.txt", "--json")
    assert again.returncode == 0, again.stderr
    assert again.json()["forgotten"] == 1
    assert hearth(data, "index", more, "--json").returncode == 0
    assert find_in_dir(data, {"forgotten": words[0].encode()}) == []
    manifest_ids, chroma_ids = library_ids(data, embedder)
    assert manifest_ids == chroma_ids and len(manifest_ids) >= 33

    view = small_disk.parent / "read-only-view"  # the same library, seen through a ro mount
    view.mkdir()
    subprocess.run(["mount", "--bind", str(small_disk), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        ro_data = view / "data"
        for args in (("index", more), ("forget", docs / "note1.txt"),
                     ("search", words[2]), ("models", "add", docs / "note1.txt")):
            run = hearth(ro_data, *args)
            if run.returncode == 0:  # a read that needs nothing written
                assert args[0] == "search" and words[2] in run.stdout
            else:
                one_plain_line(run)
        status = hearth(ro_data, "status", "--json")
        assert status.returncode == 0 and status.json()["documents"] == 33, status.stderr
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)
