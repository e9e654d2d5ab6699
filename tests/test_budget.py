"""fit_prompt with the real SmolLM2 tokenizer: long histories and many long sources never overflow."""

from __future__ import annotations

import math

import pytest

from inference.bundled import bundled_model_path
from inference.llama import LlamaChatModel
from rag.answering.budget import fit_prompt

pytestmark = pytest.mark.slow

SYSTEM = "Answer only from the numbered sources. Cite them like [1]."


@pytest.fixture(scope="module")
def model():
    m = LlamaChatModel(bundled_model_path(), n_ctx=1024)
    yield m
    m.close()


class CountingModel:
    """Wraps the real model to count tokenizations (efficiency check), passing everything on."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.name, self.n_ctx = inner.name, inner.n_ctx

    def count_prompt(self, messages):
        self.calls += 1
        return self.inner.count_prompt(messages)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)


def make_builder(sources: list[str], history: list[dict], question: str):
    def build(k_sources: int, k_history: int) -> list[dict]:
        numbered = "\n\n".join(f"[{i + 1}] {s}" for i, s in enumerate(sources[:k_sources]))
        hist = history[len(history) - k_history:] if k_history else []
        return [
            {"role": "system", "content": f"{SYSTEM}\n\n{numbered}"},
            *hist,
            {"role": "user", "content": question},
        ]

    return build


def long_sources(n: int) -> list[str]:
    return [f"Source {i}: " + f"the harbour ledger {i} records cargo of tea and wool. " * 25
            for i in range(n)]


def long_history(n: int) -> list[dict]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant",
         "content": f"Turn {i}: " + "we talked about the weather and the garden. " * 15}
        for i in range(n)
    ]


def test_everything_fits_keeps_everything(model):
    build = make_builder(["short source"], [{"role": "user", "content": "hi"},
                                            {"role": "assistant", "content": "hello"}], "Why?")
    plan = fit_prompt(model, build, 1, 2, answer_tokens=128)
    assert (plan.sources_used, plan.history_used) == (1, 2)
    assert plan.prompt_tokens == model.count_prompt(plan.messages)
    assert plan.answer_tokens == 128 and not plan.truncated


def test_drops_oldest_history_before_any_source(model):
    sources, history = long_sources(2), long_history(30)
    plan = fit_prompt(model, make_builder(sources, history, "What cargo?"), 2, 30, 200)
    assert plan.sources_used == 2  # sources kept while history could still go
    assert 1 <= plan.history_used < 30
    assert plan.prompt_tokens + plan.answer_tokens <= model.n_ctx
    assert plan.messages[-2]["content"] == history[-1]["content"]  # the most recent turns stay


def test_many_long_sources_drop_lowest_ranked_and_generation_works(model):
    sources, history = long_sources(40), long_history(50)
    counting = CountingModel(model)
    plan = fit_prompt(counting, make_builder(sources, history, "What cargo?"), 40, 50, 256)
    assert plan.history_used == 0 and 0 < plan.sources_used < 40
    assert "[1] Source 0:" in plan.messages[0]["content"]  # best-ranked source kept
    assert f"Source {plan.sources_used}:" not in plan.messages[0]["content"]
    assert plan.prompt_tokens + plan.answer_tokens <= model.n_ctx
    assert counting.calls <= 2 * math.ceil(math.log2(90)) + 3  # binary search, not a scan
    text = "".join(model.stream(plan.messages, max_tokens=plan.answer_tokens, temperature=0.0))
    assert text.strip() and model.last_stats.completion_tokens >= 1
    assert model.last_stats.prompt_tokens == plan.prompt_tokens


def test_huge_question_is_truncated_never_overflows(model):
    question = "Please summarise: " + "an extremely long pasted paragraph. " * 600
    plan = fit_prompt(model, make_builder(long_sources(5), long_history(4), question), 5, 4, 400)
    assert plan.truncated and plan.sources_used == 0 and plan.history_used == 0
    assert plan.prompt_tokens + plan.answer_tokens <= model.n_ctx
    assert plan.answer_tokens >= 32
    assert plan.messages[-1]["content"].endswith("…")
    out = "".join(model.stream(plan.messages, max_tokens=plan.answer_tokens, temperature=0.0))
    assert out.strip() and model.last_stats.completion_tokens >= 1
    assert model.last_stats.prompt_tokens == plan.prompt_tokens


def test_answer_budget_shrinks_when_bare_prompt_is_long(model):
    question = "Explain: " + "details of the harbour ledger. " * 120  # ~700+ tokens
    plan = fit_prompt(model, make_builder([], [], question), 0, 0, 900)
    assert not plan.truncated
    assert plan.prompt_tokens + plan.answer_tokens <= model.n_ctx
    assert 32 <= plan.answer_tokens < 900
