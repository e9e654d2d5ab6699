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


# -- bench answers: trust figures (issue 26), on real rag Answer / Evidence / Claim objects ----

PAGE = ("Missing values are marked NA in R. Notice that the logical expression x == NA is quite "
        "different from is.na(x) since NA is not really a value.")


def _dev_answer(text: str, supported: bool | None, *, focus: str = "", fallback: str = "",
                declined: bool = False, asked: bool = True):
    """An answer as `answer_stream` returns it: one passage, the model read its focus (the
    prompt's passages, built by the same functions; nothing when it was not asked)."""
    from rag.answering.answer import Answer
    from rag.answering.evidence import Evidence
    from rag.answering.prompts import passage_text, prompt_passages
    from rag.answering.verify import Claim

    evidence = [Evidence(1, "/docs/R-intro.pdf", 17, PAGE, 1.5, focus=focus),
                Evidence(2, "/docs/R-intro.pdf", 18, "Use is.na(x) to test.", 1.0)]
    claims = [] if supported is None else [Claim(text, [1], supported)]
    timings = {"sources_used": 1, "prompt_tokens": 90} if asked else {}
    read = passage_text(prompt_passages(evidence)[:1]) if asked else ""
    return Answer("How do I find the missing values?", text, evidence=evidence, claims=claims,
                  fallback=fallback, declined=declined, timings=timings, read=read)


def test_trust_scoring_separates_checked_wrong_answers_from_marked_ones():
    from bench.answers import model_input, score_row, shown_as_checked, summarise

    q = {"id": "rint-02", "file": "R-intro.pdf", "answerable": True, "keys": ["is.na"]}
    unq = {"id": "un-01", "file": None, "answerable": False, "keys": []}
    wrong = _dev_answer("Use the NA value [1].", True, focus="Missing values are marked NA in R.")
    marked = _dev_answer("Use the NA value [1].", False)
    right = _dev_answer("Use is.na(x) [1].", True)
    fell_back = _dev_answer("From your documents: ...", None, fallback="unsupported")
    declined = _dev_answer("Your documents don't mention it.", None, declined=True, asked=False)

    # the key is in the passage the user sees, not in the focus the model read (nor in
    # passage 2, which the prompt did not hold); without a focus the whole passage is read
    assert model_input(wrong) == "Missing values are marked NA in R."
    assert "is.na(x)" in model_input(right) and model_input(declined) == ""
    rows = [score_row(q, a, 0.1) for a in (wrong, marked, right, fell_back, declined)]
    assert [r["key_in_evidence"] for r in rows] == [True] * 5
    assert [r["key_in_model_input"] for r in rows] == [False, True, True, True, False]
    assert [shown_as_checked(a) for a in (wrong, marked, right, fell_back, declined)] == \
        [True, False, True, False, False]
    assert [r["confidently_wrong"] for r in rows] == [True, False, False, False, False]

    confirmed_unanswerable = score_row(unq, _dev_answer("The capital is Sydney [1].", True), 0.1)
    s = summarise([*rows, confirmed_unanswerable])
    assert s["confidently_wrong"] == 0.2 and s["key_in_model_input"] == 0.6
    # three answers shown as checked: one right, one wrong, one to an unanswerable question
    assert s["checked_answers"] == 3 and s["answer_precision"] == round(1 / 3, 3)
    assert s["dev_unanswerable_declined_or_unconfirmed"] == 0


def test_a_partly_checked_answer_vouches_for_its_cited_sentences():
    """The key in an unbacked sentence does not make the backed one right: a partly checked
    answer whose cited sentence lacks the key misleads like a checked wrong one, and a partly
    checked answer to an unanswerable question is not "not confirmed"."""
    from bench.answers import score_row, summarise, summarise_unanswerable
    from rag.answering.answer import Answer
    from rag.answering.verify import PARTLY, Claim

    def partly(backed: str, unbacked: str) -> Answer:
        base = _dev_answer(f"{backed} [1]. {unbacked}", True)
        return Answer(base.question, base.answer, evidence=base.evidence,
                      claims=[Claim(backed, [1], True), Claim(unbacked)],
                      timings=base.timings, read=base.read)

    q = {"id": "rint-02", "file": "R-intro.pdf", "answerable": True, "keys": ["is.na"]}
    misled, right = partly("Use the NA value", "Or is.na(x)"), partly("Use is.na(x)", "Or NA")
    assert misled.verdict == PARTLY and right.verdict == PARTLY
    rows = [score_row(q, a, 0.1) for a in (misled, right)]
    assert [r["partly"] for r in rows] == [True, True]
    assert [r["confidently_wrong"] for r in rows] == [True, False]
    assert [r["right_but_unconfirmed"] for r in rows] == [True, False]
    s = summarise(rows)
    assert s["partly_checked_answers"] == 2 and s["partly_checked_and_right"] == 1
    assert s["vouched_precision"] == 0.5 and s["checked_answers"] == 0
    un = {"id": "ua-01", "file": None, "answerable": False, "keys": [], "type": "general"}
    u = summarise_unanswerable([score_row(un, partly("The capital is Sydney", "Or not"), 0.1)])
    assert u["declined_or_unconfirmed"] == 0.0 and u["shown_as_checked"] == ["ua-01"]


def test_unanswerable_set_summary_and_table_rows():
    from bench.answers import render, score_row, summarise, summarise_unanswerable

    def un(i: int, kind: str) -> dict:
        return {"id": f"ua-{i:02d}", "file": None, "answerable": False, "keys": [],
                "type": kind, "corpus": "manuals"}

    rows = [score_row(un(1, "general"), _dev_answer("Sydney [1].", True), 0.1),
            score_row(un(2, "general"), _dev_answer("No.", None, declined=True, asked=False), 0.1),
            score_row(un(3, "near_miss"), _dev_answer("Use mutate [1].", False), 0.1),
            score_row(un(4, "words_present"), _dev_answer("...", None, fallback="echo"), 0.1)]
    s = summarise_unanswerable(rows)
    assert s["declined_or_unconfirmed"] == 0.75 and s["shown_as_checked"] == ["ua-01"]
    assert s["by_type"] == {"general": "1/2", "near_miss": "1/1", "words_present": "1/1"}
    dev = [score_row({"id": "rint-02", "file": "R-intro.pdf", "answerable": True,
                      "keys": ["is.na"]}, _dev_answer("Use the NA value [1].", True,
                                                      focus="Missing values are marked NA."), 0.1)]
    summary = {**summarise(dev), "unanswerable_declined_or_unconfirmed": 0.75}
    table = render({"questions": 1, "unanswerable_questions": 4, "configs": {"qwen": {
        "summary": summary, "questions": dev,
        "unanswerable_set": {"summary": s, "questions": rows}}}})
    assert "| confidently wrong (answerable, shown as checked or partly checked, no key in what " \
        "is vouched for) | 1.0 | ≤ 0.10 |" in table
    assert "| answer precision (checked answers holding a key) | 0.0 | ≥ 0.90 |" in table
    assert "| key in model input | 0.0 | ≥ 0.80 |" in table
    assert "| unanswerable set declined or not confirmed | 0.75 | ≥ 0.90 |" in table
    assert "Confidently wrong: qwen: rint-02." in table and "(checked: ua-01)" in table
