"""One writer, free readers (issue 14): real Library, real chroma, real MiniLM, real files.

Timing is never left to luck: a `GatedEmbedder` (the real embedder; a batch that holds a marker
word waits for the test's event) holds the writer in the middle of an index, between reading a
file and committing it, which is exactly where a forget used to lose and a search used to wait.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from hostile import canary, find_in_dir, hearth, note

from rag.base.cancel import CancelToken
from rag.ingest.indexer import expand
from rag.library import Library

pytestmark = pytest.mark.slow


class GatedEmbedder:
    """The real embedder. A batch holding `marker` sets `entered` and waits for `release`."""

    def __init__(self, inner, marker: str) -> None:
        self.inner, self.marker = inner, marker
        self.entered, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, texts):
        if any(self.marker in t for t in texts):
            self.entered.set()
            assert self.release.wait(300), "the test never released the gate"
        return self.inner.embed(texts)


def in_thread(fn, *args, **kwargs) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def ids_agree(lib: Library) -> tuple[set[str], set[str]]:
    manifest = {cid for d in lib.documents() for cid in lib.manifest.chunk_ids(d.id)}
    return manifest, set(lib.store._col.get(include=[])["ids"])


def test_inputs_are_indexed_once(tmp_path, embedder):
    """`hearth index d d/a.txt`, a symlink to a file of d, d twice: each file once, no failure
    (duplicates used to reach one chroma upsert and fail the whole run)."""
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    a, b = note(d / "a.txt", canary()), note(d / "sub" / "b.txt", canary())
    (d / "link.txt").symlink_to(a)
    (tmp_path / "outside.txt").symlink_to(b)
    files, folders = expand([d, a, d / "link.txt", tmp_path / "outside.txt", d, d / "sub"])
    assert sorted(map(str, files)) == sorted({str(a), str(b)}), files
    assert len(folders) == 2
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report = lib.index([d, a, d / "link.txt", tmp_path / "outside.txt", d, d / "sub"])
        assert report.count("failed") == 0, report.to_json()
        assert sorted(o.path for o in report.outcomes if o.status == "indexed") == \
            sorted([str(a), str(b)])
        manifest, chroma = ids_agree(lib)
        assert manifest == chroma and manifest
    run = hearth(tmp_path / "cli", "index", d, a, "--json")  # the CLI, as the issue typed it
    assert run.returncode == 0, run.stderr
    assert run.json()["indexed"] == 2 and run.json()["failed"] == 0


def test_reads_never_wait_for_a_write(tmp_path, embedder):
    """A search, the document list and the status answer while the writer is stuck mid-index;
    searches keep working while a forget rewrites (scrubs) the vector store."""
    docs = tmp_path / "docs"
    docs.mkdir()
    kept = canary()
    note(docs / "kept.txt", kept)
    slow = canary()
    gate = GatedEmbedder(embedder, slow)
    with Library.open(tmp_path / "data", embedder=gate) as lib:
        lib.index([docs])
        note(docs / "slow.txt", slow)
        writer, box = in_thread(lib.index, [docs])
        assert gate.entered.wait(120)
        t0 = time.monotonic()
        hits = lib.search(kept, k=3)
        assert any(kept in h.text for h in hits)
        assert {d.path for d in lib.documents()} >= {str(docs / "kept.txt")}
        assert lib.status()["documents"] >= 1
        print(f"\nsearch + documents + status while the writer is held: "
              f"{time.monotonic() - t0:.3f} s")
        assert writer.is_alive()  # all of the above happened during the write
        gate.release.set()
        writer.join(120)
        assert box["value"].count("indexed") == 1

        for i in range(6):
            note(docs / f"gone{i}.txt", canary())
        lib.index([docs])
        stop, errors, searches = threading.Event(), [], [0]

        def search_loop() -> None:
            while not stop.is_set():
                try:
                    assert any(kept in h.text for h in lib.search(kept, k=3))
                    searches[0] += 1
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)
                    return

        reader = threading.Thread(target=search_loop, daemon=True)
        reader.start()
        assert lib.forget_many([docs / f"gone{i}.txt" for i in range(6)]) == 6  # with a scrub
        stop.set()
        reader.join(60)
        assert errors == [] and searches[0] > 0
        manifest, chroma = ids_agree(lib)
        assert manifest == chroma


def test_forget_wins_over_indexing_in_flight(tmp_path, embedder):
    """The forget arrives while its file is read but not yet committed: it waits for nothing
    but the next cancel check, the file is gone afterwards, the other files still get indexed."""
    docs = tmp_path / "docs"
    docs.mkdir()
    secret = canary()
    note(docs / "a-secret.txt", secret)
    others = [note(docs / f"b{i}.txt", canary()) for i in range(3)]
    gate = GatedEmbedder(embedder, secret)
    data = tmp_path / "data"
    with Library.open(data, embedder=gate) as lib:
        indexing, ibox = in_thread(lib.index, [docs])
        assert gate.entered.wait(120)
        forgetting, fbox = in_thread(lib.forget_many, [docs / "a-secret.txt"])
        gate.release.set()
        forgetting.join(120)
        indexing.join(120)
        assert "error" not in fbox and "error" not in ibox, (fbox, ibox)
        assert lib.search(secret, k=3, mode="keyword") == []
        paths = {d.path for d in lib.documents()}
        assert str(docs / "a-secret.txt") not in paths
        assert paths == {str(p) for p in others}
        manifest, chroma = ids_agree(lib)
        assert manifest == chroma
    assert find_in_dir(data, {"secret": secret.encode()}) == []


def test_forget_wins_under_an_active_watcher(tmp_path, embedder):
    """Canary: the watcher is indexing the file when the user removes it (as the GUI does:
    keep it out of the folder, then forget). Nothing of it stays in any file of the data dir."""
    from rag.watch import WatchService

    docs = tmp_path / "docs"
    docs.mkdir()
    kept, secret = canary(), canary()
    note(docs / "kept.txt", kept)
    gate = GatedEmbedder(embedder, secret)
    data = tmp_path / "data"
    lib = Library.open(data, embedder=gate)
    svc = WatchService(lib, settle_seconds=0.2, debounce_seconds=0.1, health_interval=0.2,
                       polling_interval=0.2)
    try:
        svc.add_folder(docs)
        svc.start()
        path = note(docs / "secret.txt", secret)  # its path stays, in watched.json's exclusions
        assert gate.entered.wait(120), "the watcher never started indexing the new file"
        assert svc.exclude([str(path)])
        forgetting, box = in_thread(lib.forget_many, [path])
        gate.release.set()
        forgetting.join(120)
        assert "error" not in box, box
        assert svc.wait_idle(120)
        assert str(path) not in {d.path for d in lib.documents()}
        assert any(kept in h.text for h in lib.search(kept, k=3))
    finally:
        gate.release.set()
        svc.stop()
        lib.close()
    assert find_in_dir(data, {"secret": secret.encode(),
                              "secret (utf-16)": secret.encode("utf-16-le")}) == []
    assert find_in_dir(data, {"kept": kept.encode()}) != []  # the scan does see stored text


def test_a_cancelled_job_is_remembered(tmp_path, embedder):
    """Cancel mid-run: no document is left 'indexing', and reopening does not restart it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    marker = canary()
    note(docs / "a.txt", marker)
    for i in range(60):  # enough chunks that the embedder is called before the last file
        note(docs / f"b{i:02}.txt", canary())
    gate = GatedEmbedder(embedder, marker)
    cancel = CancelToken()
    data = tmp_path / "data"
    with Library.open(data, embedder=gate) as lib:
        job, box = in_thread(lib.index, [docs], cancel=cancel)
        assert gate.entered.wait(120)
        cancel.cancel()
        t0 = time.monotonic()
        gate.release.set()
        job.join(120)
        print(f"\ncancelled run ended {time.monotonic() - t0:.2f} s after the held batch was let go "
              "(that batch is embedded first)")
        assert box["value"].cancelled
    with Library.open(data, embedder=embedder) as lib:
        assert lib.unfinished() == []
        assert lib.resume().outcomes == []


def test_readers_in_other_processes_while_this_one_writes(tmp_path, embedder):
    """`hearth search` and `hearth status` work while this process holds the library and is in
    the middle of a write; a second writer (`hearth index`) is refused with who holds it."""
    docs, more = tmp_path / "docs", tmp_path / "more"
    docs.mkdir()
    more.mkdir()
    word = canary()
    note(docs / "known.txt", word)
    slow = canary()
    gate = GatedEmbedder(embedder, slow)
    data = tmp_path / "data"
    with Library.open(data, embedder=gate, owner="the test's writer") as lib:
        lib.index([docs])
        note(docs / "slow.txt", slow)
        writer, box = in_thread(lib.index, [docs])
        assert gate.entered.wait(120)
        found = hearth(data, "search", word, "--json")
        assert found.returncode == 0, found.stderr
        assert any(word in h["text"] for h in found.json())
        status = hearth(data, "status", "--json")
        assert status.returncode == 0 and status.json()["in_use_by"] == "the test's writer"
        note(more / "x.txt", canary())
        second = hearth(data, "index", more)
        assert second.returncode != 0 and "in use by the test's writer" in second.stderr
        assert writer.is_alive()  # every read above ran during the write
        gate.release.set()
        writer.join(120)
        assert box["value"].count("indexed") == 1
        again = hearth(data, "search", slow, "--json", "--mode", "keyword")
        assert again.returncode == 0 and any(slow in h["text"] for h in again.json())


def test_watch_stop_honours_its_timeout(tmp_path, embedder):
    """`stop(timeout)` returns in time while a file is mid-index; `start()` waits for that old
    worker instead of un-cancelling it, and the old worker stays cancelled."""
    from rag.watch import WatchService

    docs = tmp_path / "docs"
    docs.mkdir()
    marker = canary()
    gate = GatedEmbedder(embedder, marker)
    lib = Library.open(tmp_path / "data", embedder=gate)
    svc = WatchService(lib, settle_seconds=0.2, debounce_seconds=0.1, health_interval=0.2,
                       polling_interval=0.2)
    try:
        svc.add_folder(docs)
        svc.start()
        note(docs / "held.txt", marker)
        assert gate.entered.wait(120)
        old_cancel = svc._cancel
        t0 = time.monotonic()
        assert svc.stop(timeout=0.3) is False  # still inside the embedder
        took = time.monotonic() - t0
        assert took < 5, took
        assert old_cancel.cancelled
        starting, box = in_thread(svc.start)
        assert starting.is_alive() or "error" in box  # waits for the old worker
        gate.release.set()
        starting.join(120)
        assert "error" not in box, box
        assert old_cancel.cancelled and svc._cancel is not old_cancel
        assert svc.running
    finally:
        gate.release.set()
        svc.stop()
        lib.close()


def test_watch_run_loads_the_embedder_at_start(tmp_path):
    """A cold `hearth watch run`: the model loads before any file arrives, so a new file is
    searchable (by another process, while the watcher holds the library) soon after it
    settles."""
    import json
    import subprocess
    import sys

    from hostile import ROOT, hearth_env

    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    assert hearth(data, "watch", "add", docs).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "app", "watch", "run", "--json"],
                            env=hearth_env(data), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        lines = iter(proc.stdout.readline, "")
        messages = []
        for line in lines:  # events, not sleeps: wait for the watcher to say it is ready
            messages.append(json.loads(line)["message"])
            if messages[-1] == "Ready (the embedding model is loaded)":
                break
        assert not list(docs.iterdir())  # it loaded with no file to index
        word = canary()
        note(docs / "new.txt", word)
        written = os.stat(docs / "new.txt").st_mtime
        for line in lines:
            status = json.loads(line)
            if status["message"] == "Up to date" and status["done"] >= 1:
                break
        indexed = time.time()
        found = hearth(data, "search", word, "--json", "--mode", "keyword")
        assert found.returncode == 0 and any(word in h["text"] for h in found.json())
        after_settle = indexed - (written + 1.0)  # `hearth watch run` settles files for 1 s
        print(f"\nnew file indexed {after_settle:.2f} s after it settled (target <= 3 s)")
        # The figure is the measurement; the bound only tells warm from cold (a cold model load
        # took 20-60 s on this machine), so a busy CI machine cannot make it flaky.
        assert after_settle <= 10.0
    finally:
        proc.terminate()
        proc.wait(60)


def test_a_reader_waits_a_bounded_time_then_falls_back(tmp_path, embedder):
    """The writer holds the vector files longer than a reader will wait (here 1 s): the reader
    neither crashes nor waits forever; it answers from the keyword index alone."""
    import subprocess
    import sys

    from hostile import ROOT, hearth_env

    from rag.store.lock import StoreLock

    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    word = canary()
    note(docs / "a.txt", word)
    with Library.open(data, embedder=embedder, owner="a slow writer") as lib:
        lib.index([docs])
        held = StoreLock(data)
        with held.exclusive():  # as a writer in the middle of changing the vector files
            env = {**hearth_env(data), "HEARTH_READ_WAIT_S": "1"}
            t0 = time.monotonic()
            run = subprocess.run([sys.executable, "-m", "app", "search", word, "--json"],
                                 env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
            took = time.monotonic() - t0
        held.close()
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    import json

    assert any(word in h["text"] for h in json.loads(run.stdout))
    print(f"\nreader with the vector files held: answered by keywords in {took:.1f} s")
