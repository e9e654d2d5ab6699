"""The real `hearth` entry point in subprocesses: JSON shapes, exit codes, lock, re-index speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import build_corpus

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def hearth(*args, data, check=True):
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "app", *map(str, args)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def lib_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    docs = build_corpus(root / "docs")
    (docs / "notes.xyz").write_text("unsupported")
    return docs, root / "data"


def test_index_json_counts_and_reasons(lib_dirs):
    docs, data = lib_dirs
    out = json.loads(hearth("index", docs, "--json", data=data).stdout)
    assert out["indexed"] == 5 and out["skipped"] == 1 and out["failed"] == 0
    skipped = [f for f in out["files"] if f["status"] == "skipped"]
    assert skipped[0]["path"].endswith("notes.xyz") and "unsupported" in skipped[0]["reason"]
    again = json.loads(hearth("index", docs, "--json", data=data).stdout)
    assert again["indexed"] == 0 and again["unchanged"] == 5
    assert again["seconds"] < max(out["seconds"] * 0.2, 0.5)


def test_search_json_shape(lib_dirs):
    docs, data = lib_dirs
    out = json.loads(hearth("search", "Which Roman town was destroyed by pyroclastic flows?",
                            "-k", "3", "--json", data=data).stdout)
    assert len(out) == 3 and set(out[0]) == {"path", "page", "score", "text"}
    assert out[0]["path"].endswith("volcanoes.pdf") and out[0]["page"] == 2


def test_search_many_queries_matches_one_at_a_time(lib_dirs, tmp_path):
    from corpus import QUESTIONS

    docs, data = lib_dirs
    questions = list(QUESTIONS)[:3]
    jsonl = tmp_path / "queries.jsonl"
    jsonl.write_text("".join(json.dumps({"_id": f"q{i}", "text": q}) + "\n"
                             for i, q in enumerate(questions)) + "\n")
    rows = [json.loads(line) for line in
            hearth("search", "--queries", jsonl, "-k", "4", "--json", data=data).stdout.splitlines()]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"]
    assert [r["query"] for r in rows] == questions
    single = json.loads(hearth("search", questions[1], "-k", "4", "--json", data=data).stdout)
    assert rows[1]["hits"] == single
    plain = tmp_path / "queries.txt"
    plain.write_text("\n".join(questions) + "\n")
    text = hearth("search", "--queries", plain, data=data).stdout.splitlines()
    assert len(text) == 3 and text[0].startswith("1\t") and "volcanoes.pdf" in text[0]
    both = hearth("search", "x", "--queries", plain, data=data, check=False)
    assert both.returncode == 2 and "one query" in both.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": 1, "text": \n')
    broken = hearth("search", "--queries", bad, data=data, check=False)
    assert broken.returncode == 2 and "line 1" in broken.stderr  # a bad input: exit 2


def test_ask_json_shape_and_citation(lib_dirs):
    docs, data = lib_dirs
    out = json.loads(hearth("ask", "How many basalt columns make up the Giant's Causeway?",
                            "--max-tokens", "48", "--json", data=data).stdout)
    assert {"answer", "sources", "model", "timings"} <= set(out)
    assert out["answer"] and out["model"].startswith("SmolLM2")
    assert {"n", "path", "page", "text"} <= set(out["sources"][0])
    pages = {(Path(s["path"]).name, s["page"]) for s in out["sources"]}
    assert ("volcanoes.pdf", 3) in pages
    assert [s["n"] for s in out["sources"]] == list(range(1, len(out["sources"]) + 1))


def test_ask_many_questions_one_load_json_lines(lib_dirs, tmp_path):
    docs, data = lib_dirs
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text(json.dumps({"id": "basalt", "question": "How many basalt columns make up "
                                 "the Giant's Causeway?"}) + "\n"
                     + json.dumps({"id": "star", "question": "How far away is Proxima "
                                   "Centauri?"}) + "\n")
    out = hearth("ask", "--questions", qfile, "--max-tokens", "40", "--json", data=data).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["basalt", "star"]
    for row, needle in zip(rows, ("40,000", "4.24"), strict=True):
        assert row["answer"].strip()  # never empty: a written answer or the passages
        assert {"evidence", "claims", "sources", "timings"} <= set(row)
        assert set(row["evidence"][0]) == {"n", "path", "page", "quote"}
        assert needle in row["evidence"][0]["quote"]
        assert all(set(c) - {"why"} == {"text", "sources", "supported"} for c in row["claims"])
        assert all(("why" in c) == (not c["supported"]) for c in row["claims"])
        supported = [c["supported"] for c in row["claims"]]
        shown = ("checked" if supported and all(supported) and not row["fallback"] else
                 "partly checked" if any(supported) and not row["fallback"] else "not confirmed")
        assert row["verdict"] == shown, row  # never "checked" for what the checks did not pass
        assert row["timings"]["evidence_s"] <= row["timings"]["question_to_first_token_s"]
    assert hearth("ask", "x", "--questions", qfile, data=data, check=False).returncode == 2


def test_status_of_an_empty_folder_creates_nothing_and_names_no_model(tmp_path):
    data = tmp_path / "fresh"
    st = json.loads(hearth("status", "--json", data=data).stdout)
    assert st["documents"] == 0 and st["embedding_model"] is None
    assert not (data / "library.sqlite3").exists()
    assert "none yet" in hearth("status", data=data).stdout


def test_status_and_forget(lib_dirs, tmp_path):
    docs, data = lib_dirs
    st = json.loads(hearth("status", "--json", data=data).stdout)
    assert st["documents"] == 5 and st["chunks"] > 5 and st["data_dir"] == str(data)
    assert "MiniLM" in st["embedding_model"]
    out = json.loads(hearth("forget", docs / "bread.txt", "--json", data=data).stdout)
    assert out["forgotten"] == 1
    assert json.loads(hearth("status", "--json", data=data).stdout)["documents"] == 4


def test_exit_codes(tmp_path):
    data = tmp_path / "d"
    assert hearth("index", tmp_path / "missing", data=data, check=False).returncode == 2
    assert hearth("frobnicate", data=data, check=False).returncode == 2
    assert hearth("forget", data=data, check=False).returncode == 2
    bad = hearth("ask", "anything?", "--model", "no-such-model", data=data, check=False)
    assert bad.returncode == 1 and "No model named 'no-such-model'" in bad.stderr
    assert "Traceback" not in bad.stderr
    empty = json.loads(hearth("ask", "What is in my documents?", "--json", data=data).stdout)
    assert "empty" in empty["answer"]


def test_second_writer_is_refused_with_a_message(tmp_path, embedder):
    from rag.library import Library

    data = tmp_path / "locked"
    note = tmp_path / "note.txt"
    note.write_text("A note to index while the library is busy.")
    with Library.open(data, embedder=embedder, owner="the Hearth desktop app"):
        proc = hearth("index", note, data=data, check=False)
    assert proc.returncode == 1
    assert "in use by the Hearth desktop app" in proc.stderr
