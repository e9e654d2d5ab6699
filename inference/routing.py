"""Route each question to the small or the large model, with no model call (< 10 ms).

The rule (documented in docs/models.md) adds up difficulty points from cheap features:
question length, question type (lookup vs. reasoning), several questions at once, how clearly
retrieval found one best source (score spread), and how long the conversation is. Two points or
more -> the largest enabled model; otherwise the smallest. A pinned model always wins; with
`prefer_larger` (Hearth's own pair of Qwen models) the larger one writes every answer.
`within_budget` then keeps the small model when this machine's measured speed says the large
one would not start answering within FIRST_TOKEN_BUDGET_S.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

HARD_THRESHOLD = 2
LONG_WORDS, VERY_LONG_WORDS = 25, 60
REASONING = re.compile(
    r"\b(why|how (?:do|does|did|can|could|would|should|to)|explain|compare|contrast|difference|"
    r"differ|analy[sz]e|summari[sz]e|evaluate|assess|implications?|pros and cons|trade-?offs?|"
    r"should i|recommend|justify|reason|step by step|what if|relationship)\b",
    re.IGNORECASE,
)
LOOKUP = re.compile(r"^\s*(what|who|when|where|which|is|are|does|do|did|list|name|define|how "
                    r"(?:many|much|old|long))\b", re.IGNORECASE)


@dataclass
class ModelOption:
    name: str
    parameters: int  # size decides small vs. large


@dataclass
class RouteDecision:
    model: str
    reason: str
    difficulty: int
    features: dict
    pinned: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def question_features(question: str, scores: Sequence[float] = (), history_len: int = 0) -> dict:
    words = len(question.split())
    top = max(scores) if scores else 0.0
    ordered = sorted(scores, reverse=True)
    spread = (ordered[0] - ordered[min(2, len(ordered) - 1)]) / ordered[0] if (
        ordered and ordered[0] > 0) else 0.0
    return {
        "words": words,
        "reasoning": bool(REASONING.search(question)),
        "lookup": bool(LOOKUP.search(question)),
        "questions": max(1, question.count("?")),
        "top_score": round(float(top), 4),
        "score_spread": round(float(spread), 4),
        "n_scores": len(scores),
        "history_len": history_len,
    }


def difficulty(f: dict) -> tuple[int, list[str]]:
    """Points and the plain-words reasons that produced them."""
    points, why = 0, []
    if f["words"] > VERY_LONG_WORDS:
        points, why = points + 2, [*why, f"long question ({f['words']} words)"]
    elif f["words"] > LONG_WORDS:
        points, why = points + 1, [*why, f"longish question ({f['words']} words)"]
    if f["reasoning"]:
        points, why = points + 2, [*why, "asks for reasoning (why/how/compare/summarise)"]
    if f["questions"] > 1:
        points, why = points + 1, [*why, f"{f['questions']} questions in one"]
    if f["n_scores"] >= 2 and f["score_spread"] < 0.15:
        points, why = points + 1, [*why, "no single source stands out"]
    if f["history_len"] >= 6:
        points, why = points + 1, [*why, f"follow-up in a long chat ({f['history_len']} turns)"]
    return points, why


def route(
    question: str,
    models: Sequence[ModelOption],
    *,
    scores: Sequence[float] = (),
    history_len: int = 0,
    pinned: str | None = None,
    prefer_larger: bool = False,
) -> RouteDecision:
    """Pick a model name from `models` for this question (see module docstring)."""
    if not models:
        raise ValueError("route() needs at least one model")
    f = question_features(question, scores, history_len)
    if pinned:
        return RouteDecision(pinned, f"pinned by you: {pinned}", 0, f, pinned=True)
    if len(models) == 1:
        return RouteDecision(models[0].name, "only one model enabled", 0, f)
    ordered = sorted(models, key=lambda m: m.parameters)
    small, large = ordered[0], ordered[-1]
    points, why = difficulty(f)
    if prefer_larger:
        return RouteDecision(large.name, f"larger model ({large.name}): it picks the answer "
                             "out of the passage more often", points, f)
    if points >= HARD_THRESHOLD:
        return RouteDecision(large.name, f"larger model ({large.name}): " + "; ".join(why),
                             points, f)
    easy = "short lookup question" if f["lookup"] or not why else "; ".join(why)
    if f["n_scores"] >= 2 and f["score_spread"] >= 0.15:
        easy += ", one source clearly best"
    return RouteDecision(small.name, f"small model ({small.name}): {easy}", points, f)


FIRST_TOKEN_BUDGET_S = 4.0  # the answer's first word within 4 s on this machine (issue 26)


def prefill_rate(name: str, models: Sequence[ModelOption], measured: dict[str, float]
                 ) -> float | None:
    """Prompt tokens per second `name` reads on this machine: measured, else the largest
    measured model's rate scaled by size (on a CPU reading a prompt is compute-bound, so its
    time grows with the parameters); None before any model has been measured."""
    if measured.get(name):
        return measured[name]
    size = {m.name: m.parameters for m in models}
    known = [(n, r) for n, r in measured.items() if r and size.get(n)]
    if not known or not size.get(name):
        return None
    ref, rate = max(known, key=lambda kv: size[kv[0]])
    return rate * size[ref] / size[name]


def within_budget(decision: RouteDecision, models: Sequence[ModelOption],
                  measured: dict[str, float], prompt_tokens: int,
                  budget_s: float = FIRST_TOKEN_BUDGET_S) -> RouteDecision:
    """The decision, or the small model when the chosen larger one would take longer than
    `budget_s` to read a prompt of `prompt_tokens` at its measured (or size-scaled) speed."""
    if decision.pinned or len(models) < 2:
        return decision
    small = min(models, key=lambda m: m.parameters)
    if decision.model == small.name:
        return decision
    rate = prefill_rate(decision.model, models, measured)
    if not rate:
        return decision
    expected = prompt_tokens / rate
    if expected <= budget_s:
        return decision
    why = (f"small model ({small.name}): the larger model ({decision.model}) would take about "
           f"{expected:.0f} s to start answering on this computer (measured; the limit is "
           f"{budget_s:.0f} s)")
    return RouteDecision(small.name, why, decision.difficulty,
                         {**decision.features, "expected_first_token_s": round(expected, 1)})
