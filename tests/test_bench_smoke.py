"""Smoke tests of the benchmark code on a handful of real documents (real MiniLM, chroma, FTS5).

They check the plumbing (corpus -> Hearth index -> runs -> metrics; indexing A/B; synthetic
search library), not speed: speed targets live in `python -m bench`, never in unit tests.
"""

from __future__ import annotations

import json

import pytest

from bench.metrics import evaluate

pytestmark = pytest.mark.slow

DOCS = [
    ("101", "Vitamin D and bone density", "Vitamin D supplements increased bone mineral density "
     "in elderly women over two years of follow-up in a randomised trial."),
    ("102", "Malaria vaccine efficacy", "The RTS,S malaria vaccine reduced clinical malaria "
     "episodes in African children by about a third."),
    ("103", "Gut microbiome and obesity", "Germ-free mice colonised with microbiota from obese "
     "donors gained more fat than mice colonised from lean donors."),
    ("104", "Telomere length in smokers", "Smoking was associated with shorter leukocyte "
     "telomeres in a cohort of middle-aged adults."),
]
QUERIES = {"1": "Vitamin D improves bone density in older women.",
           "2": "A malaria vaccine protects African children.",
           "3": "Microbiota from obese people makes mice fat."}
QRELS = {"1": "101", "2": "102", "3": "103"}


@pytest.fixture(scope="module")
def beir(tmp_path_factory):
    root = tmp_path_factory.mktemp("beir")
    with open(root / "corpus.jsonl", "w") as fh:
        for doc_id, title, text in DOCS:
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w") as fh:
        for qid, text in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items()))
    return root


@pytest.fixture(scope="module")
def embedder():
    from rag.embed.embeddings import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.load()
    return emb


def test_scifact_pipeline_scores_a_tiny_corpus(beir, embedder, tmp_path):
    from bench.scifact import MODES, load_split, open_indexed, run_queries

    lib, info = open_indexed(beir, embedder=embedder, base=tmp_path)
    try:
        assert info["indexed"] == len(DOCS) and info["failed"] == 0
        queries, qrels = load_split(beir, "test")
        for mode in MODES:
            run, times = run_queries(lib, queries, mode)
            assert len(times) == len(QUERIES)
            assert all(len(docs) == len(set(docs)) for docs in run.values())  # deduped
            scores = evaluate(run, qrels, queries)
            assert scores["queries"] == 3
            assert scores["ndcg@10"] > 0.9, (mode, run)  # each claim has an obvious abstract
    finally:
        lib.close()
    # Second open: the unchanged corpus is not re-embedded, and the re-index is measured.
    lib, again = open_indexed(beir, embedder=embedder, base=tmp_path)
    lib.close()
    assert again["this_run_unchanged"] == len(DOCS) and again["this_run_indexed"] == 0
    assert again["reindex_fraction"] is not None


def test_indexing_bench_compares_the_same_chunks(tmp_path):
    from bench.indexing import bench_indexing

    out = bench_indexing(rounds=1, pdfs=1, pages=2, texts=2)
    assert out["hearth_chunks_match"] is True
    assert out["chunks"] > 0 and out["pdf_pages"] == 2
    assert out["ratio"] > 0 and out["failed_files"] == 0
    assert out["reindex_fraction"] < 1.0


def test_synthetic_search_library_is_searchable(tmp_path, embedder):
    from bench.search import build_synthetic, measure
    from rag.library import Library

    path = build_synthetic(200, embedder, base=tmp_path)
    with Library.open(path, embedder=embedder, owner="test") as lib:
        assert lib.status()["chunks"] == 200
        from bench.search import _queries

        res = measure(lib, _queries(6))
    assert res["search"]["n"] == 6
    assert res["search"]["p95_ms"] >= res["search"]["p50_ms"] > 0
