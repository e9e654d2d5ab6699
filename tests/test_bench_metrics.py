"""The benchmark's scoring and report code (pure Python, no models): values checked by hand."""

from __future__ import annotations

import math

from bench.metrics import dedupe_docs, evaluate, ndcg_at_k, read_qrels, recall_at_k
from bench.report import BEGIN, END, render, update_doc


def test_ndcg_matches_hand_computation():
    rel = {"a": 1, "b": 1}
    # relevant at ranks 1 and 3: (1 + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert math.isclose(ndcg_at_k(["a", "x", "b"], rel, 10), expected)
    assert ndcg_at_k(["a", "b"], rel) == 1.0
    assert ndcg_at_k(["x", "y"], rel) == 0.0
    assert ndcg_at_k(["x"] * 10 + ["a"], rel, 10) == 0.0  # rank 11 is outside @10


def test_recall_and_evaluate_average_over_judged_queries():
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    run = {"q1": ["a", "z"], "q2": ["c"], "q3": ["whatever"]}
    assert recall_at_k(run["q1"], qrels["q1"], 100) == 0.5
    scores = evaluate(run, qrels)
    assert scores["queries"] == 2
    assert math.isclose(scores["recall@100"], 0.75)
    missing = evaluate({}, qrels)
    assert missing["ndcg@10"] == 0.0 and missing["queries"] == 2


def test_dedupe_keeps_best_rank_of_each_document():
    assert dedupe_docs(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_read_qrels_skips_header(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n1\t11\t2\n2\t12\t1\n")
    assert read_qrels(path) == {"1": {"10": 1, "11": 2}, "2": {"12": 1}}


def _results() -> dict:
    return {
        "machine": {"cpu": "Test CPU", "logical_cores": 2, "physical_cores": 2, "ram_gb": 8,
                    "os": "Linux", "python": "3.11", "load_avg_at_start": [0.1, 0.1, 0.1]},
        "scifact": {"scores": {"test": {
            "dense": {"ndcg@10": 0.6, "recall@100": 0.9},
            "keyword": {"ndcg@10": 0.65, "recall@100": 0.9},
            "hybrid": {"ndcg@10": 0.75, "recall@100": 0.95}}},
            "index": {"reindex_fraction": 0.001, "reindex_unchanged_s": 0.5, "index_s": 500.0,
                      "documents": 10}},
        "coldstart": {"available": False, "reason": "no GUI"},
        "indexing": {"error": "boom"},
    }


def test_report_renders_rows_and_replaces_only_the_marked_block(tmp_path):
    text = render(_results())
    assert "Test CPU" in text
    assert "| SciFact test nDCG@10, hybrid (default) | 0.750" in text
    assert "not available: no GUI" in text
    assert "boom" in text  # a failed part is shown, not silently dropped
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nNotes before.\n\n{BEGIN}\nold table\n{END}\n\nNotes after.\n")
    update_doc(_results(), doc)
    out = doc.read_text()
    assert "old table" not in out
    assert out.startswith("# Benchmarks\n\nNotes before.") and out.rstrip().endswith("Notes after.")
    assert out.count(BEGIN) == 1
