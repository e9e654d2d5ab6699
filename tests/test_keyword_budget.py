"""Keyword speed at scale: the postings budget of `drop_common` and the FTS5 query shape."""

from rag.store.keyword import drop_common, fts_query
from rag.store.manifest import Manifest

COUNTS = {"rare": 10, "mid": 40_000, "wide": 70_000, "vast": 150_000}


def test_budget_drops_the_commonest_terms_first():
    terms = ["vast", "rare", "wide", "mid"]
    # 1M chunks: all are under 20 %, but together they are in 270k chunks
    assert drop_common(terms, COUNTS, 1_000_000) == ["rare", "mid"]
    assert drop_common(terms, COUNTS, 1_000_000, max_postings=120_000) == ["rare", "wide", "mid"]
    assert drop_common(terms, COUNTS, 1_000_000, max_postings=10**9) == terms


def test_budget_keeps_the_rarest_two_even_when_over_it():
    counts = {"a": 300_000, "b": 200_000, "c": 250_000}
    assert drop_common(["a", "b", "c"], counts, 1_000_000) == ["b", "c"]


def test_small_library_is_unaffected_by_the_budget():
    counts = {"x": 2_000, "y": 2_500, "z": 3_000, "w": 900}
    terms = ["x", "y", "z", "w"]
    # 12,923 chunks (SciFact): only the 20 % rule applies
    assert drop_common(terms, counts, 12_923) == ["x", "y", "w"]
    assert drop_common(terms, counts, 12_923, max_postings=10**9) == ["x", "y", "w"]


def test_keyword_search_ranks_like_a_plain_bm25_query(tmp_path):
    m = Manifest(tmp_path / "lib.sqlite3")
    expected = {}
    for d in range(3):
        doc = m.upsert(f"/d{d}.txt", status="indexing")
        rows = []
        for i in range(40):
            words = ["otter"] * (1 + (i * 7 + d) % 5) + ["river"] * (i % 3) + ["filler"] * (i % 11)
            rows.append((f"{doc}:s:{i}", i, None, 0, 0, " ".join(words)))
        m.replace_chunks(doc, "", rows, status="indexed")
        expected[doc] = {r[0] for r in rows}
    match = fts_query("otter river")
    plain = m._db.execute(
        "SELECT c.chunk_id, bm25(chunks_fts, 1.0, 0.5) AS s FROM chunks_fts JOIN chunks c "
        "ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? ORDER BY s LIMIT 200",
        (match,)).fetchall()
    got = m.keyword_search(match, 200)
    assert [round(s, 9) for _, s in got] == [round(-s, 9) for _, s in plain]
    assert len(got) == 120 and {c for c, _ in got} == {c for c, _ in plain}
    one = m.keyword_search(match, 200, doc_ids=[2])
    assert one and {c for c, _ in one} <= expected[2]
    assert [s for _, s in one] == sorted((s for _, s in one), reverse=True)
    m.close()
