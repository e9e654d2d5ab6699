"""Inputs checked at the door: every bad question, number, file or folder given to the command
line, the API or the window gets a plain message (exit 2 on the command line) before any model
or library work. The real `hearth` entry point (in-process, and as a process for bytes that are
not UTF-8), the real request parser and the real window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import run_cli
from rag.answering.answer import MAX_QUESTION_CHARS, question_problem

ROOT = Path(__file__).resolve().parents[1]
LONG = "Why " + "really " * (MAX_QUESTION_CHARS // 7 + 1) + "?"


def run(capsys, *args: str) -> tuple[int, str]:
    code = run_cli([*args])
    captured = capsys.readouterr()
    return code, captured.err + captured.out


@pytest.mark.parametrize("args, words", [
    (["ask", "   "], "The question is empty"),
    (["ask", LONG], "characters long"),
    (["search", ""], "The search is empty"),
    (["ask", "q", "-k", "0"], "-k must be a whole number from 1 to 50"),
    (["ask", "q", "-k", "-3"], "-k must be a whole number from 1 to 50"),
    (["ask", "q", "--max-tokens", "-5"], "--max-tokens must be a whole number from 1"),
    (["ask", "q", "--temperature", "nan"], "--temperature must be a number from 0 to 2"),
    (["ask", "q", "--temperature", "inf"], "--temperature must be a number from 0 to 2"),
    (["search", "q", "-k", "0"], "-k must be a whole number from 1 to 1000"),
])
def test_bad_arguments_are_refused_in_plain_words(capsys, tmp_path, args, words):
    code, out = run(capsys, *args, "--data-dir", str(tmp_path / "data"))
    assert code == 2 and words in out, out
    assert "Traceback" not in out and not (tmp_path / "data").exists()  # no work was started


def test_question_files_that_are_not_text_files_are_named(capsys, tmp_path):
    data = ["--data-dir", str(tmp_path / "data")]
    folder = tmp_path / "folder"
    folder.mkdir()
    code, out = run(capsys, "ask", "--questions", str(folder), *data)
    assert code == 2 and "is a folder" in out, out
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, out = run(capsys, "ask", "--questions", str(fifo), *data)
    assert code == 2 and "not a regular file" in out, out
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Qu'est-ce qu'un vecteur ?\nCaf\xe9 cr\xe8me\n".encode("latin-1"))
    for command in ("ask", "search"):
        flag = "--questions" if command == "ask" else "--queries"
        code, out = run(capsys, command, flag, str(latin), *data)
        assert code == 2 and "is not UTF-8 text" in out and "Unexpected" not in out, out
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"id": "big", "question": LONG}) + "\n")
    code, out = run(capsys, "ask", "--questions", str(long), "--json", *data)
    assert code == 2 and "question big" in out and "characters long" in out, out


def test_a_data_dir_that_is_a_file_is_refused(capsys, tmp_path):
    not_a_folder = tmp_path / "library.txt"
    not_a_folder.write_text("x")
    code, out = run(capsys, "status", "--json", "--data-dir", str(not_a_folder))
    assert code == 2 and "is a file, not a folder" in out, out


def test_a_question_that_is_not_utf8_on_the_command_line(tmp_path):
    """Bytes from a terminal in another encoding reach Python as surrogates: a plain message,
    not a UnicodeEncodeError."""
    env = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "app", "ask", b"caf\xe9 cr\xe8me?"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "not readable text" in proc.stderr and "Traceback" not in proc.stderr


def test_the_api_and_the_pipeline_refuse_the_same_questions():
    from app.serve_api import parse_chat
    from app.serve_engine import RequestError
    from rag.answering.answer import answer_stream
    from rag.base.errors import HearthError
    from rag.base.settings import Settings

    with pytest.raises(RequestError, match="characters long"):
        parse_chat({"messages": [{"role": "user", "content": LONG}]}, Settings())
    with pytest.raises(HearthError, match="empty"):  # no library or model is touched
        next(answer_stream(None, None, " \n "))
    assert question_problem("What colour is the flower?") is None


@pytest.mark.slow
def test_the_window_keeps_a_question_it_cannot_send(qtbot, tmp_path):
    from app.gui.launch import create_window

    window = create_window(tmp_path / "data", opener=lambda p, pg: None)
    qtbot.addWidget(window)
    window.show()
    said: list[str] = []
    window.chat.status_message.connect(said.append)
    window.chat.input.setPlainText(LONG)
    window.chat.send()
    assert said and "characters long" in said[-1]
    assert window.chat.input.toPlainText() == LONG and window.chat.messages() == []
