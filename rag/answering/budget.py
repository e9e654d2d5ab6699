"""Fit system prompt + sources + history + question into the model's context window.

Policy (issue 6): keep room for the answer; drop the oldest history first, then the
lowest-ranked sources; if even the bare prompt doesn't fit, shrink the answer budget and finally
truncate the longest message. Never raise a context overflow.

Cost: the candidate prompts form one sequence ordered from "everything" to "nothing", and prompt
length falls along it, so a binary search needs O(log(n_sources + n_history)) tokenizations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class CountsTokens(Protocol):
    """What the budget needs of a model: its context size and its prompt tokenizer. (A part of
    `inference.base.ChatModel`: the answering layer sits above the models and names no class
    of theirs.)"""

    n_ctx: int

    def count_prompt(self, messages: list[dict]) -> int: ...


MIN_ANSWER_TOKENS = 32
_TRUNCATION_MARK = " …"


@dataclass
class PromptPlan:
    messages: list[dict]
    sources_used: int
    history_used: int
    prompt_tokens: int
    answer_tokens: int = 0  # room left for the answer (may be less than asked for)
    truncated: bool = False  # a message had to be cut to fit


def _config(step: int, n_sources: int, n_history: int) -> tuple[int, int]:
    """Step 0 = all sources and history; each step drops one oldest history message, then one
    lowest-ranked source."""
    if step <= n_history:
        return n_sources, n_history - step
    return n_sources - (step - n_history), 0


def fit_prompt(
    model: CountsTokens,
    build: Callable[[int, int], list[dict]],
    n_sources: int,
    n_history: int,
    answer_tokens: int,
) -> PromptPlan:
    n_ctx = int(model.n_ctx)
    answer_tokens = max(1, min(answer_tokens, n_ctx // 2))
    limit = n_ctx - answer_tokens
    cache: dict[int, tuple[list[dict], int]] = {}

    def measure(step: int) -> tuple[list[dict], int]:
        if step not in cache:
            messages = build(*_config(step, n_sources, n_history))
            cache[step] = (messages, model.count_prompt(messages))
        return cache[step]

    last = n_sources + n_history
    if measure(0)[1] <= limit:
        return _plan(measure(0), 0, n_sources, n_history, answer_tokens)
    lo, hi = 1, last  # find the first step that fits
    if measure(last)[1] <= limit:
        while lo < hi:
            mid = (lo + hi) // 2
            if measure(mid)[1] <= limit:
                hi = mid
            else:
                lo = mid + 1
        while measure(lo)[1] > limit and lo < last:  # guard against a non-monotone template
            lo += 1
        return _plan(measure(lo), lo, n_sources, n_history, answer_tokens)
    # Even the bare prompt (no sources, no history) is too long.
    messages, tokens = measure(last)
    min_answer = min(answer_tokens, MIN_ANSWER_TOKENS)
    if tokens + min_answer <= n_ctx:
        return _plan((messages, tokens), last, n_sources, n_history, n_ctx - tokens)
    messages, tokens = _truncate_longest(model, messages, n_ctx - min_answer)
    plan = _plan((messages, tokens), last, n_sources, n_history, max(1, n_ctx - tokens))
    plan.truncated = True
    return plan


def _plan(measured, step, n_sources, n_history, answer_tokens) -> PromptPlan:
    messages, tokens = measured
    k_sources, k_history = _config(step, n_sources, n_history)
    return PromptPlan(messages, k_sources, k_history, tokens, answer_tokens)


def _truncate_longest(
    model: CountsTokens, messages: list[dict], limit: int
) -> tuple[list[dict], int]:
    """Cut the longest message's text (binary search on characters) until the prompt fits."""
    idx = max(range(len(messages)), key=lambda i: len(messages[i].get("content") or ""))
    text = messages[idx].get("content") or ""

    def with_text(n_chars: int) -> list[dict]:
        out = [dict(m) for m in messages]
        out[idx]["content"] = text[:n_chars] + (_TRUNCATION_MARK if n_chars < len(text) else "")
        return out

    lo, hi = 0, len(text)
    best = with_text(0)
    best_tokens = model.count_prompt(best)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = with_text(mid)
        tokens = model.count_prompt(candidate)
        if tokens <= limit:
            lo, best, best_tokens = mid, candidate, tokens
        else:
            hi = mid - 1
    if best_tokens > limit:  # the template alone overflows: keep only the last message, cut
        last = [{"role": messages[-1].get("role", "user"), "content": ""}]
        return last, model.count_prompt(last)
    return best, best_tokens
