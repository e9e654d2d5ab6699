"""settings.json is a file people edit by hand: every bad value gets a plain message naming the
key and the default used instead, and nothing crashes (issue 27, item 4). The real loader, the
real `hearth status` and the real window."""

from __future__ import annotations

import json

import pytest

from app.cli import run_cli
from rag.base.settings import FILENAME, Settings


def write(folder, value) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILENAME).write_text(value if isinstance(value, str) else json.dumps(value))


def test_each_bad_value_is_named_and_replaced_by_its_default(tmp_path):
    write(tmp_path, {"n_ctx": "lots", "temperature": -3, "top_k_sources": "7", "model": 5,
                     "enabled_models": "qwen", "ocr": False, "unknown_key": 1})
    s = Settings.load(tmp_path)
    assert (s.n_ctx, s.temperature, s.model, s.enabled_models) == (4096, 0.0, "", [])
    assert s.top_k_sources == 7 and s.ocr is False  # valid values (and "7") are kept
    said = "\n".join(s.problems)
    for key, default in (("n_ctx", "4096"), ("temperature", "0.0"), ("model", "''"),
                         ("enabled_models", "[]")):
        assert f"{key} = " in said and f"the default {default} is used" in said, said
    assert len(s.problems) == 4 and "unknown_key" not in said
    s.save(tmp_path)  # saving writes the repaired file
    assert Settings.load(tmp_path).problems == []


@pytest.mark.parametrize("text, words", [("[1, 2]", "does not hold an object"),
                                         ("{not json", "is not valid JSON"),
                                         ('"a string"', "does not hold an object")])
def test_a_file_that_is_not_an_object_gives_defaults_and_a_reason(tmp_path, text, words):
    write(tmp_path, text)
    s = Settings.load(tmp_path)
    assert s.model_dump() == Settings().model_dump() and words in s.problems[0]


def test_status_shows_the_settings_problems(tmp_path, capsys):
    write(tmp_path, {"max_answer_tokens": 0})
    assert run_cli(["status", "--json", "--data-dir", str(tmp_path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["settings_problems"] and "max_answer_tokens = 0" in \
        payload["settings_problems"][0]
    assert run_cli(["status", "--data-dir", str(tmp_path)]) == 0
    assert "Settings: settings.json: max_answer_tokens = 0 is not valid" in \
        capsys.readouterr().out


@pytest.mark.slow
def test_the_window_opens_on_a_broken_file_and_says_why(qtbot, tmp_path):
    from app.gui.launch import create_window

    data = tmp_path / "data"
    write(data, {"n_ctx": [1, 2], "top_k_sources": 99})
    window = create_window(data, opener=lambda p, pg: None)
    qtbot.addWidget(window)
    window.show()
    window.start()
    assert "n_ctx = [1, 2] is not valid" in window.statusBar().currentMessage()
    assert window.backend.settings.n_ctx == 4096 and window.backend.settings.top_k_sources == 5
