import os
import stat

from rag.store.manifest import Manifest


def rows(n, prefix="t"):
    return [(f"{prefix}:{i}", i, 1, 0, 10, f"chunk {i} about {prefix} zebras") for i in range(n)]


def test_documents_round_trip_and_counts(tmp_path):
    m = Manifest(tmp_path / "lib.sqlite3")
    a = m.upsert("/d/a.pdf", status="indexing", title="A", sha256="h1", size=10, mtime=1.0)
    m.replace_chunks(a, "A", rows(3, "a"))
    b = m.upsert("/d/sub/b.txt", status="failed", reason="corrupt")
    rec = m.get("/d/a.pdf")
    assert rec.status == "indexed" and rec.chunks == 3 and rec.sha256 == "h1"
    assert m.get_by_id(b).reason == "corrupt"
    assert m.counts() == {"documents": 2, "chunks": 3, "by_status": {"indexed": 1, "failed": 1}}
    assert [r.path for r in m.under("/d")] == ["/d/a.pdf", "/d/sub/b.txt"]
    assert [r.path for r in m.under("/d/sub")] == ["/d/sub/b.txt"]
    assert m.under("/d/su") == []  # prefix of a name is not a folder
    assert stat.S_IMODE(os.stat(tmp_path / "lib.sqlite3").st_mode) == 0o600
    m.close()


def test_under_and_sizes_are_index_lookups_with_exact_edges(tmp_path):
    m = Manifest(tmp_path / "lib.sqlite3")
    paths = ["/d", "/d-x/a", "/d.txt", "/d/a", "/d/z/z", "/d0/a", "/e/a", "/dd/a"]
    for i, p in enumerate(paths):
        m.upsert(p, status="indexed", size=100 + i % 3)
    assert [r.path for r in m.under("/d")] == ["/d", "/d/a", "/d/z/z"]
    assert [r.path for r in m.under("/d/")] == ["/d/a", "/d/z/z"]
    assert len(m.under("/")) == len(paths)
    assert sorted(r.path for r in m.with_sizes({100})) == sorted(paths[0::3])
    assert m.with_sizes(set()) == [] and m.with_sizes({7}) == []
    seen: list[str] = []  # the statements the two methods really run, parameters filled in
    m._db.set_trace_callback(seen.append)
    m.under("/d")
    m.with_sizes({100, 101})
    m._db.set_trace_callback(None)
    selects = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2
    for sql in selects:
        plan = " ".join(str(r[-1]) for r in m._db.execute("EXPLAIN QUERY PLAN " + sql))
        assert "INDEX" in plan and "SCAN documents" not in plan, plan
    m.close()


def test_replace_chunks_swaps_atomically_and_keyword_search(tmp_path):
    m = Manifest(tmp_path / "lib.sqlite3")
    a = m.upsert("/a.txt", status="indexing")
    m.replace_chunks(a, "", rows(2, "old"))
    m.replace_chunks(a, "", rows(4, "new"))
    assert m.chunk_ids(a) == [f"new:{i}" for i in range(4)]
    hits = m.keyword_search('"zebras"', 10)
    assert {h for h, _ in hits} == {f"new:{i}" for i in range(4)}
    assert all(score > 0 for _, score in hits)
    got = m.fetch_chunks(["new:2"])["new:2"]
    assert got.path == "/a.txt" and got.text == "chunk 2 about new zebras"
    assert m.keyword_search('"zebras"', 10, doc_ids=[a + 1]) == []
    m.close()


def test_rename_folder_keeps_chunks(tmp_path):
    m = Manifest(tmp_path / "lib.sqlite3")
    a = m.upsert("/old/x.txt", status="indexing")
    m.replace_chunks(a, "", rows(2))
    m.upsert("/old/y/z.txt", status="skipped", reason="empty")
    m.upsert("/older/keep.txt", status="indexed")
    assert m.rename("/old", "/new") == 2
    assert m.get("/new/x.txt").chunks == 2 and m.get("/new/x.txt").id == a
    assert m.get("/new/y/z.txt").reason == "empty"
    assert m.get("/older/keep.txt") is not None
    assert m.fetch_chunks(["t:0"])["t:0"].path == "/new/x.txt"
    m.close()


def test_delete_and_compact_leave_no_text(tmp_path):
    path = tmp_path / "lib.sqlite3"
    m = Manifest(path)
    a = m.upsert("/s.txt", status="indexing")
    m.replace_chunks(a, "", [("c:0", 0, None, 0, 5, "CANARY-q7zx9 secret text")])
    m.delete_document(a)
    m.compact()
    m.close()
    blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"CANARY-Q7ZX9" not in blobs.upper()


def test_reopen_sees_committed_state(tmp_path):
    m = Manifest(tmp_path / "lib.sqlite3")
    a = m.upsert("/a.txt", status="indexing")
    m.close()
    m2 = Manifest(tmp_path / "lib.sqlite3")
    assert m2.get("/a.txt").status == "indexing" and m2.get("/a.txt").id == a
    assert [r.path for r in m2.documents("indexing")] == ["/a.txt"]
    m2.close()
