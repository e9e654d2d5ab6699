"""Integration: real files -> real loaders, MiniLM, chroma on disk, FTS5 -> search, forget, lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus import QUESTIONS, build_corpus
from makedocs import make_corrupt_pdf, make_encrypted_pdf, make_pdf, make_scanned_pdf

from rag.base.errors import EmbeddingMismatch, LibraryInUse
from rag.library import Library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    from conftest import CountingEmbedder

    root = tmp_path_factory.mktemp("lib")
    docs = build_corpus(root / "docs")
    counting = CountingEmbedder(embedder)
    lib = Library.open(root / "data", embedder=counting)
    report = lib.index([docs])
    yield lib, docs, report, counting
    lib.close()


def test_first_index_reports_every_file(indexed):
    lib, docs, report, _ = indexed
    assert report.count("indexed") == 5 and report.count("failed") == 0
    status = lib.status()
    assert status["documents"] == 5 and status["chunks"] == lib.store.count() > 5
    assert {Path(d.path).name for d in lib.documents()} == {
        "volcanoes.pdf", "astronomy.pdf", "bread.txt", "rainforest.docx", "tea.html"}


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_search_finds_the_right_file_and_page(indexed, question):
    lib, _, _, _ = indexed
    name, page = QUESTIONS[question]
    top = lib.search(question, k=3)[0]
    assert Path(top.path).name == name
    assert top.page == page


def test_dense_and_keyword_modes_both_work(indexed):
    lib, _, _, _ = indexed
    dense = lib.search("hot avalanche of gas", k=2, mode="dense")
    kw = lib.search("Pompeii", k=2, mode="keyword")
    assert dense[0].page == 2 and kw[0].page == 2 and kw[0].keyword_rank == 1


def test_scope_restricts_results(indexed):
    lib, docs, _, _ = indexed
    hits = lib.search("Which Roman town was destroyed?", k=5, paths=[docs / "more"])
    assert hits and all("/more/" in h.path for h in hits)
    assert lib.search("anything", paths=[docs / "nothing-here"]) == []


def test_unchanged_reindex_embeds_nothing(indexed):
    lib, docs, _, counting = indexed
    before = counting.texts
    report = lib.index([docs])
    assert report.count("unchanged") == 5 and report.count("indexed") == 0
    assert counting.texts == before, "no re-embedding of unchanged files"


def test_touched_but_identical_file_is_not_reembedded(indexed):
    lib, docs, _, counting = indexed
    before = counting.texts
    os.utime(docs / "bread.txt", (1, 1))
    assert lib.index([docs / "bread.txt"]).count("unchanged") == 1
    assert counting.texts == before


def test_changed_file_replaces_its_chunks(tmp_path, embedder):
    f = tmp_path / "notes.txt"
    f.write_text("Alpacas are domesticated camelids from South America.")
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        lib.index([f])
        f.write_text("Narwhals are medium-sized toothed whales with a long tusk.")
        assert lib.index([f]).count("indexed") == 1
        assert lib.status()["chunks"] == lib.store.count() == 1
        assert "Narwhals" in lib.search("alpacas camelids", k=1)[0].text


def test_vanished_file_is_removed_on_folder_reindex(tmp_path, embedder):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("Otters hold hands while sleeping so they do not drift apart.")
    (d / "b.txt").write_text("Koalas sleep up to twenty hours a day in eucalyptus trees.")
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        lib.index([d])
        (d / "a.txt").unlink()
        report = lib.index([d])
        assert report.count("removed") == 1
        assert [Path(r.path).name for r in lib.documents()] == ["b.txt"]
        assert lib.store.count() == lib.status()["chunks"]


def test_bad_inputs_get_reasons_and_the_rest_is_indexed(tmp_path, embedder):
    d = tmp_path / "mixed"
    d.mkdir()
    make_pdf(d / "good.pdf", ["Hedgehogs eat insects, worms and snails at night."])
    make_corrupt_pdf(d / "corrupt.pdf")
    make_encrypted_pdf(d / "locked.pdf", "secret")
    make_scanned_pdf(d / "scan.pdf")
    (d / "empty.txt").write_text("")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (d / "sound.mp3").write_bytes(b"ID3\x04\x00")
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report = lib.index([d])
        by_name = {Path(o.path).name: o for o in report.outcomes}
        assert by_name["good.pdf"].status == "indexed"
        for bad in ("corrupt.pdf", "locked.pdf", "scan.pdf", "empty.txt", "binary.txt", "sound.mp3"):
            assert by_name[bad].status in ("failed", "skipped"), bad
            assert by_name[bad].reason, bad
        assert "password" in by_name["locked.pdf"].reason
        assert "unsupported" in by_name["sound.mp3"].reason
        assert lib.search("what do hedgehogs eat", k=1)[0].path.endswith("good.pdf")
        # failures are remembered and not retried while the file is unchanged
        assert lib.index([d]).count("failed") == 0


def test_forget_removes_text_vectors_and_keywords(tmp_path, embedder):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "secret.txt").write_text("The vault code is ZQX-CANARY-4471 and nobody else knows it.")
    (d / "other.txt").write_text("Lighthouses guide ships along dangerous coasts at night.")
    data = tmp_path / "data"
    with Library.open(data, embedder=embedder) as lib:
        lib.index([d])
        assert lib.forget(d / "secret.txt") == 1
        assert lib.search("vault code", k=5, mode="keyword") == []
        assert lib.store.count() == lib.status()["chunks"] == 1
    blob = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    assert b"ZQX-CANARY-4471" not in blob


def test_rename_keeps_vectors_without_reembedding(tmp_path, counting_embedder):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("Glaciers carve U-shaped valleys as they move downhill.")
    with Library.open(tmp_path / "data", embedder=counting_embedder) as lib:
        lib.index([d])
        calls = counting_embedder.texts
        (d / "a.txt").rename(d / "b.txt")
        assert lib.rename(d / "a.txt", d / "b.txt") == 1
        assert lib.index([d]).count("unchanged") == 1
        assert counting_embedder.texts == calls
        assert lib.search("glaciers valleys", k=1, mode="keyword")[0].path == str(d / "b.txt")


def test_second_writer_gets_a_clear_message(tmp_path, embedder):
    with Library.open(tmp_path / "data", embedder=embedder, owner="the Hearth desktop app"):
        with pytest.raises(LibraryInUse, match="in use by the Hearth desktop app"):
            Library.open(tmp_path / "data", embedder=embedder)
    Library.open(tmp_path / "data", embedder=embedder).close()  # free again once closed


def test_refuses_to_mix_embedding_models(tmp_path, embedder):
    from conftest import CountingEmbedder

    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        lib.index([build_corpus(tmp_path / "docs") / "bread.txt"])
    other = CountingEmbedder(embedder)
    other.model_id = "some/other-model"
    with Library.open(tmp_path / "data", embedder=other) as lib:
        with pytest.raises(EmbeddingMismatch):
            lib.search("sourdough")


def test_wipe_deletes_everything(tmp_path, embedder):
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        lib.index([build_corpus(tmp_path / "docs")])
        lib.wipe()
        assert lib.status()["documents"] == 0 and lib.search("basalt") == []
        assert lib.index([tmp_path / "docs" / "bread.txt"]).count("indexed") == 1


def test_force_reindex_replaces_chunks_in_place(tmp_path, counting_embedder):
    f = tmp_path / "a.txt"
    f.write_text("Bees communicate the direction of flowers with a waggle dance.")
    with Library.open(tmp_path / "data", embedder=counting_embedder) as lib:
        lib.index([f])
        before = counting_embedder.texts
        assert lib.index([f], force=True).count("indexed") == 1
        assert counting_embedder.texts == before + 1
        assert lib.store.count() == lib.status()["chunks"] == 1


def test_fewer_results_are_a_prefix_of_more(indexed):
    """Up to the candidate depth (300), `-k 10` is the top of `-k 100`. This tiny corpus fits in
    any depth, so it guards the property; the depth-free scaling itself is tested in
    test_bench_fusion.py (fixed floors), and at scale by the SciFact CLI check in `make bench`."""
    lib, _, _, _ = indexed
    for question in QUESTIONS:
        many = [h.chunk_id for h in lib.search(question, k=20)]
        assert len(many) > 5
        for k in (1, 3, 5):
            assert [h.chunk_id for h in lib.search(question, k=k)] == many[:k]


def test_keyword_only_hits_get_their_real_similarity(indexed):
    """A chunk found by BM25 but outside the dense candidates must not look unrelated (0)."""
    from dataclasses import replace

    lib, _, _, _ = indexed
    question = "lactic acid 79 AD"  # bread is closest in meaning; only BM25 sees "79 AD"
    every = {h.chunk_id: h.similarity for h in lib.search(question, k=100, mode="dense")}
    saved = lib.retrieval_config
    lib.retrieval_config = replace(saved, dense_candidates=1)
    try:
        hits = lib.search(question, k=3)  # a dense pool of only three candidates
    finally:
        lib.retrieval_config = saved
    keyword_only = [h for h in hits if h.dense_rank is None]
    assert keyword_only, "the test needs a hit that only BM25 found"
    for h in keyword_only:
        assert h.similarity is not None
        assert abs(h.similarity - every[h.chunk_id]) < 1e-4
