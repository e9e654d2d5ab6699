"""'Forget wins' across clients (issue #27 item 6), on a real `chroma run` server.

Two clients (two TeamLibrary objects, each with its own data dir and mirror) share a library.
Client A indexes a folder; client B forgets one of its files while A's run is going, at a point
chosen from A's own progress events: after A has read the file but before its batch is checked
and sent ("read"), after the check but before the commit ("commit"), from another thread racing
the commit ("race"), or by forgetting the whole folder ("folder"). Afterwards neither client's
search, document list or status shows the forgotten document and the server holds none of its
chunks. Then indexing it again, explicitly after the forget, works.
"""

from __future__ import annotations

import threading

import pytest
from chroma_server import ChromaServer
from test_team_server import team, write_docs

from rag.base.types import IndexProgress
from rag.server.team import TeamLibrary, doc_key
from rag.server.team_forget import FORGOTTEN_MEANWHILE

N = 5
TARGET = "notes/kappa-3.txt"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ChromaServer(tmp_path_factory.mktemp("srv") / "chroma").start()
    yield srv
    srv.stop()


def chunks_on_server(lib: TeamLibrary, rel: str) -> list[str]:
    return list(lib.server.chunks.get(where={"doc_key": doc_key(rel)}, include=[])["ids"])


def assert_forgotten_everywhere(libs: list[TeamLibrary], rel: str, marker: str) -> None:
    others = {f"notes/kappa-{i}.txt" for i in range(N)} - {rel}
    for lib in libs:
        assert all(h.path != rel for h in lib.search(marker, k=N))
        assert all(h.path != rel for h in lib.search(marker, k=N, mode="keyword"))
        assert {d.path for d in lib.documents()} == others
        assert lib.status()["by_status"] == {"indexed": N - 1}
        assert lib.status()["chunks"] == N - 1
    assert chunks_on_server(libs[0], rel) == []


@pytest.mark.parametrize("when", ["read", "commit", "race", "folder"])
@pytest.mark.parametrize("before", ["new", "changed"])
def test_forget_by_another_client_wins_over_a_run_in_progress(server, tmp_path, embedder,
                                                              when, before):
    share = tmp_path / "share"
    files = write_docs(share / "notes", "kappa", N)
    lib = f"forget-{when}-{before}"
    a = team(server, tmp_path / "a", share, embedder, library=lib)
    b = team(server, tmp_path / "b", share, embedder, library=lib)
    forgot: list[int] = []
    racer: list[threading.Thread] = []
    path = share / "notes" if when == "folder" else share / TARGET

    def forget_from_b() -> None:
        forgot.append(b.forget_many([path]))

    def progress(p: IndexProgress) -> None:
        if forgot or racer:
            return
        if when == "read" and p.stage == "reading" and p.current == TARGET:
            forget_from_b()  # A holds the file read and chunked, nothing of it sent yet
        elif when in ("commit", "folder") and p.stage == "embedding":
            forget_from_b()  # A's check before the commit has passed: its check after must act
        elif when == "race" and p.stage == "embedding":
            racer.append(threading.Thread(target=forget_from_b))
            racer[0].start()  # B's requests interleave with A's commit however they happen to

    try:
        if before == "changed":  # the documents are on the server already and A rewrites them
            assert a.index([share / "notes"]).count("indexed") == N
            assert b.search("kappa3marker", k=1)[0].path == TARGET  # B's mirror holds it too
            for f in files:
                f.write_text(f.read_text(encoding="utf-8") + "Revised.\n", encoding="utf-8")
        report = a.index([share / "notes"], progress=progress)
        for t in racer:
            t.join(60)
        assert forgot, "B's forget never ran"
        if when == "folder":
            assert {o.status for o in report.outcomes} == {"removed"}
            assert all(o.reason == FORGOTTEN_MEANWHILE for o in report.outcomes)
            for lib_ in (a, b):
                assert lib_.documents() == [] and lib_.search("kappa field work", k=N) == []
            assert a.server.count() == 0
        elif when == "race":  # either A withdrew its write, or B's forget found and deleted it
            assert_forgotten_everywhere([a, b], TARGET, "kappa3marker")
        else:
            assert [o.status for o in report.outcomes if o.path == TARGET] == ["removed"]
            assert report.count("indexed") == N - 1
            assert forgot == [1 if before == "changed" else 0]  # "new": no record yet, a tombstone
            assert_forgotten_everywhere([a, b], TARGET, "kappa3marker")

        # a run started after the forget finished may index the document again: it's allowed
        again = b.index([share / "notes"])
        assert TARGET in {o.path for o in again.outcomes if o.status == "indexed"}
        for lib_ in (a, b):
            assert lib_.search("kappa3marker", k=1)[0].path == TARGET
            assert lib_.status()["by_status"] == {"indexed": N}
        assert len(chunks_on_server(a, TARGET)) == 1
    finally:
        a.close()
        b.close()


def test_a_forget_is_not_undone_by_a_later_forget_elsewhere(server, tmp_path, embedder):
    """Tombstones are per path: forgetting another document later does not block this one,
    and a second forget of the same document after it was indexed again wins again."""
    share = tmp_path / "share"
    write_docs(share / "notes", "kappa", N)
    a = team(server, tmp_path / "a", share, embedder, library="forget-twice")
    b = team(server, tmp_path / "b", share, embedder, library="forget-twice")
    try:
        assert a.index([share / "notes"]).count("indexed") == N
        assert b.forget_many([share / TARGET]) == 1
        assert a.index([share / "notes"]).count("indexed") == 1  # indexed again, explicitly
        assert b.forget_many([share / "notes" / "kappa-0.txt"]) == 1
        assert b.forget_many([share / TARGET]) == 1
        others = {f"notes/kappa-{i}.txt" for i in range(1, N)} - {TARGET}
        assert {d.path for d in a.documents()} == others
        assert chunks_on_server(a, TARGET) == [] and a.server.count() == N - 2
    finally:
        a.close()
        b.close()


def test_an_unfinished_forget_holds_until_it_is_run_again(server, tmp_path, embedder):
    """A forgetting client killed half-way leaves its tombstone `forgetting`: runs leave the
    path out (a failure record included) until the same forget is run again and finishes."""
    from rag.server.team_forget import stone_id

    share = tmp_path / "share"
    write_docs(share / "notes", "kappa", N)
    (share / "notes" / "kappa-9.txt").write_text("", encoding="utf-8")  # "no text to index"
    a = team(server, tmp_path / "a", share, embedder, library="forget-stuck")
    b = team(server, tmp_path / "b", share, embedder, library="forget-stuck")
    try:
        for rel in (TARGET, "notes/kappa-9.txt"):  # what a forget killed after its first write
            b.server.put_tombstones({stone_id(rel): {"path": rel, "nonce": "killed",
                                                     "state": "forgetting", "at": 0.0}})
        report = a.index([share / "notes"])
        gone = {o.path for o in report.outcomes if o.status == "removed"}
        assert gone == {TARGET, "notes/kappa-9.txt"} and report.count("indexed") == N - 1
        assert TARGET not in {d.path for d in b.documents()} and chunks_on_server(a, TARGET) == []
        assert b.forget_many([share / TARGET]) == 0  # run again: it finishes
        again = a.index([share / "notes"])
        assert [o.path for o in again.outcomes if o.status == "indexed"] == [TARGET]
        assert b.search("kappa3marker", k=1)[0].path == TARGET
    finally:
        a.close()
        b.close()
