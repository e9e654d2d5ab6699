"""Stress (issue 14): index, search, forget and a watcher at once on one real library, then check
the invariants. ~20 s in the normal suite (`slow`), 60 s in the fault suite (`make bench`).

Threads: a watcher on folder W (a producer writes canary notes into it); a manual indexer that
writes a note into folder M and indexes it, naming it twice (inputs are de-duplicated); a searcher;
a forgetter that removes notes as the GUI does (keep out of the watched folder, then forget),
often while the watcher is still indexing them; and readers in other processes
(`hearth search --queries`). At the end: the manifest's chunk ids equal chroma's, every live
canary is found in exactly one document, and no forgotten canary is in any file of the data dir.
"""

from __future__ import annotations

import random
import threading

import pytest
from hostile import canary, find_in_dir, hearth, note

from rag.library import Library
from rag.watch import WatchService


def _stress(tmp_path, embedder, seconds: float) -> None:
    watched, manual, data = tmp_path / "W", tmp_path / "M", tmp_path / "data"
    watched.mkdir()
    manual.mkdir()
    lib = Library.open(data, embedder=embedder, owner="stress test")
    svc = WatchService(lib, settle_seconds=0.2, debounce_seconds=0.1, health_interval=0.3,
                       polling_interval=0.3)
    svc.add_folder(watched)
    svc.start()
    stop = threading.Event()
    lock = threading.Lock()
    live: dict[str, str] = {}  # path -> canary, may be forgotten
    forgettable: list[str] = []
    forgotten: dict[str, str] = {}
    errors: list[str] = []
    counts = {"searches": 0, "indexed": 0, "forgets": 0, "written": 0, "readers": 0}
    rng = random.Random(14)

    def guarded(fn):
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported at the end
                import traceback

                errors.append(f"{fn.__name__}: {exc!r}\n{traceback.format_exc()}")
                stop.set()
        return threading.Thread(target=run, name=fn.__name__, daemon=True)

    def producer() -> None:  # new notes in the watched folder
        i = 0
        while not stop.wait(0.15):
            word = canary()
            path = watched / f"w{i:04}.txt"
            note(path, word)
            with lock:
                live[str(path)] = word
                forgettable.append(str(path))  # may be forgotten while still being indexed
            counts["written"] += 1
            i += 1

    def indexer() -> None:  # the user adding files by hand, naming each twice
        i = 0
        while not stop.is_set():
            word = canary()
            path = manual / f"m{i:04}.txt"
            note(path, word)
            report = lib.index([path, manual / f"m{i:04}.txt"])
            assert report.count("failed") == 0, report.to_json()
            with lock:
                live[str(path)] = word
                forgettable.append(str(path))
            counts["indexed"] += 1
            i += 1

    def searcher() -> None:
        while not stop.wait(0.01):  # paced: a hot loop would starve the writers of CPU
            with lock:
                word = rng.choice(list(live.values())) if live else "harbour"
            lib.search(word, k=5, mode=rng.choice([None, "keyword"]))
            counts["searches"] += 1

    def forgetter() -> None:
        while not stop.wait(1.0):
            with lock:
                if len(forgettable) < 3:
                    continue
                picks = [forgettable.pop(rng.randrange(len(forgettable))) for _ in range(2)]
            svc.exclude(picks)  # as the GUI does: first keep them out, then forget
            lib.forget_many(picks)
            with lock:
                for p in picks:
                    forgotten[p] = live.pop(p)
            counts["forgets"] += 1

    def other_processes() -> None:  # readers in other processes while this one writes
        queries = tmp_path / "queries.txt"
        while not stop.is_set():
            with lock:
                words = list(live.values())[:20] or ["harbour"]
            queries.write_text("\n".join(words) + "\n")
            run = hearth(data, "search", "--queries", queries, "--json", "-k", "3")
            assert run.returncode == 0, run.stderr
            assert len(run.stdout.splitlines()) == len(words)
            counts["readers"] += 1

    threads = [guarded(f) for f in (producer, indexer, searcher, forgetter, other_processes)]
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(300)
    try:
        assert not errors, "\n".join(errors)
        assert svc.wait_idle(300)
        print(f"\nstress {seconds:.0f} s: {counts}, live {len(live)}, forgotten {len(forgotten)}")
        assert counts["forgets"] and counts["searches"] and counts["readers"]
        docs = {d.path: d for d in lib.documents()}
        assert not [d for d in docs.values() if d.status != "indexed"], docs
        manifest = {cid for d in docs.values() for cid in lib.manifest.chunk_ids(d.id)}
        assert manifest == set(lib.store._col.get(include=[])["ids"])
        for path, word in live.items():
            hits = lib.search(word, k=5, mode="keyword")
            assert {h.path for h in hits if word in h.text} == {path}, (path, hits)
        assert not set(forgotten) & set(docs)
    finally:
        svc.stop()
        lib.close()
    needles = {f"{p} ({w})": w.encode() for p, w in forgotten.items()}
    assert find_in_dir(data, needles) == []
    assert find_in_dir(data, {"a live one": next(iter(live.values())).encode()})  # control


@pytest.mark.slow
def test_stress_index_search_forget_watch(tmp_path, embedder):
    _stress(tmp_path, embedder, 20)


@pytest.mark.faults
def test_stress_long(tmp_path, embedder):
    _stress(tmp_path, embedder, 60)

