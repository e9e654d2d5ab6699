"""`python -m bench pdfqa` (issue 12): the hit rule, the scores, the skip, and a real small run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

for _p in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1]):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import makedocs  # noqa: E402

from bench.pdfqa import bench_pdfqa, find_corpus, is_hit, render, score  # noqa: E402

Q = {"id": "q1", "file": "a.pdf", "page": 10, "alt_pages": [40], "answerable": True,
     "kind": "fact", "question": "?"}


def test_hit_rule_is_file_and_page_within_one_or_alt():
    assert is_hit(Q, "/x/a.pdf", 10) and is_hit(Q, "/x/a.pdf", 9) and is_hit(Q, "/x/a.pdf", 11)
    assert is_hit(Q, "/y/a.pdf", 40)
    assert not is_hit(Q, "/x/a.pdf", 12) and not is_hit(Q, "/x/b.pdf", 10)
    assert not is_hit(Q, "/x/a.pdf", None)


def test_scores_and_misses():
    q2 = {**Q, "id": "q2"}
    q3 = {**Q, "id": "q3"}
    un = {"id": "u", "answerable": False, "file": None, "page": None}
    results = {"q1": [("a.pdf", 10)], "q2": [("b.pdf", 1)] * 3 + [("a.pdf", 11)],
               "q3": [("b.pdf", 1)] * 10, "u": [("a.pdf", 1)]}
    s = score([Q, q2, q3, un], results)
    assert s["questions"] == 3
    assert s["hit@1"] == round(1 / 3, 4) and s["hit@3"] == round(1 / 3, 4)
    assert s["hit@5"] == round(2 / 3, 4)
    assert s["mrr@10"] == round((1 + 1 / 4) / 3, 4)
    assert [m["id"] for m in s["misses"]] == ["q3"]



def test_scores_per_split_when_questions_carry_one():
    """pdfqa-more: hit@k and MRR per split (tune / test) besides the overall figures."""
    tune = {**Q, "id": "t1", "split": "tune"}
    test1 = {**Q, "id": "s1", "split": "test"}
    test2 = {**Q, "id": "s2", "split": "test"}
    un = {"id": "u", "answerable": False, "file": None, "page": None, "split": "test"}
    results = {"t1": [("a.pdf", 10)], "s1": [("b.pdf", 1), ("a.pdf", 40)],
               "s2": [("b.pdf", 1)] * 10, "u": [("a.pdf", 1)]}
    s = score([tune, test1, test2, un], results)
    assert s["questions"] == 3 and s["hit@1"] == round(1 / 3, 4)
    assert s["by_split"]["tune"] == {"hit@1": 1.0, "hit@3": 1.0, "hit@5": 1.0, "hit@10": 1.0,
                                     "mrr@10": 1.0, "questions": 1}
    t = s["by_split"]["test"]
    assert t["questions"] == 2 and t["hit@1"] == 0.0 and t["hit@3"] == 0.5
    assert t["mrr@10"] == 0.25
    assert s["misses"] == []  # s2 missed, but a test question is never listed by id
    tune_miss = score([{**tune, "id": "t2"}], {"t2": [("b.pdf", 1)] * 10})["misses"]
    assert tune_miss == [{"id": "t2", "kind": "fact", "want": "a.pdf p10", "rank": None,
                          "got": ["b.pdf p1"] * 3, "split": "tune"}]
    assert "by_split" not in score([Q], {"q1": [("a.pdf", 10)]})
    out = {"questions_file": "/d/pdfqa-more/questions.jsonl", "index": {},
           "scores": {m: s for m in ("dense", "keyword", "hybrid")}}
    table = render(out)
    assert "| pdfqa-more (3 answerable) |" in table
    assert "| hybrid (default), test split (2) | 0.000 | 0.500 | 0.500 | 0.250 | 1 (not listed) |" in table
    assert "| hybrid (default), tune split (1) | 1.000 | 1.000 | 1.000 | 1.000 | — |" in table

def test_skips_cleanly_without_the_corpus(tmp_path):
    out = bench_pdfqa(str(tmp_path / "nowhere"), str(tmp_path / "questions.jsonl"), save=False,
                      doc=False)
    assert "skipped" in out and "get-corpus.sh" in out["skipped"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_corpus(str(empty), tmp_path / "questions.jsonl") is None  # no PDFs in it
    makedocs.make_pdf(empty / "x.pdf", ["text"])
    assert find_corpus(str(empty), tmp_path / "questions.jsonl") == empty


def test_small_real_run(tmp_path, monkeypatch):
    """Two generated PDFs through the real pipeline: the right page is found in every mode."""
    monkeypatch.setenv("HEARTH_BENCH_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = "General remarks about the installation of software packages. " * 6
    makedocs.make_pdf(corpus / "a.pdf", [filler, "The boiler pressure must stay below two bar "
                                         "or the relief valve opens.", filler, filler])
    makedocs.make_pdf(corpus / "b.pdf", [filler, filler, "Radiators are bled with a square key "
                                         "turned a quarter turn.", filler])
    qfile = tmp_path / "questions.jsonl"
    qs = [{"id": "a1", "file": "a.pdf", "page": 2, "kind": "fact", "answerable": True,
           "question": "What pressure makes the relief valve open on the boiler?",
           "alt_pages": []},
          {"id": "b1", "file": "b.pdf", "page": 3, "kind": "howto", "answerable": True,
           "question": "How do I bleed a radiator?", "alt_pages": []}]
    qfile.write_text("\n".join(json.dumps(q) for q in qs) + "\n")
    out = bench_pdfqa(str(corpus), str(qfile), save=False, doc=False)
    assert out["index"]["chunks"] >= 4 and out["index"]["chunks_per_s"] > 0
    for mode in ("dense", "keyword", "hybrid"):
        assert out["scores"][mode]["hit@1"] == 1.0, out["scores"][mode]
    assert out["text"]["files"]["a.pdf"]["hearth (pdfium)"]["long_per_1000"] == 0
    table = render(out)
    assert "hybrid (default) | 1.000 | 1.000 | 1.000 | 1.000" in table


def test_generalise_table_has_every_split_and_scifact(tmp_path):
    """Issue 29: one table with pdfqa-dev, the tune and test splits and SciFact."""
    from bench.generalise import BEGIN, END, render, rows, update_doc

    m = {"hit@1": 0.5, "hit@3": 0.75, "hit@5": 1.0, "mrr@10": 0.625}
    dev = {"scores": {mode: m for mode in ("hybrid", "dense", "keyword")}}
    more = {"scores": {mode: {**m, "by_split": {"tune": m, "test": {**m, "hit@1": 0.25}},
                              "latency": {"p50_ms": 42.0}} for mode in ("hybrid", "dense",
                                                                       "keyword")}}
    block = render(rows(dev, more), {"ndcg@10": 0.7464, "source": "searched in this run"})
    line = next(x for x in block.splitlines() if x.startswith("| hybrid (default)"))
    assert line == ("| hybrid (default) | 0.500 / 0.750 / 1.000 / 0.625 | 0.500 / 0.750 / "
                    "1.000 / 0.625 | 0.250 / 0.750 / 1.000 / 0.625 | 42.0 ms |")
    assert "SciFact test nDCG@10 (hybrid): 0.7464 (searched in this run)" in block
    doc = tmp_path / "b.md"
    doc.write_text(f"before\n{BEGIN}\nold\n{END}\nafter\n")
    update_doc(block, doc)
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| keyword |" in text
