"""One model session for every front end: the chat model and, when two or more models are
enabled, the router that picks one of them per question.

Why one place: the command line, the local API and the window each built this, the same way,
and "two or more enabled models" was written out six times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def routes(settings: Any) -> bool:
    """Two or more enabled models: questions are routed between them (inference.model_set)."""
    return len(settings.enabled_models) >= 2


def pair() -> list[str] | None:
    """Hearth's own writer and checker, [0.5B, 1.5B], when nothing else was chosen and both
    are installed; else None. With them the 1.5B writes (within the first-token budget) and the
    0.5B checks: on pdfqa-dev and the tune manuals the key in the answers rose 20 -> 24 of 44 and
    21 -> 28 of 84, with no answer wrongly shown as checked (docs/benchmarks.md, session 17)."""
    from inference import answer_model
    from inference.models import default_spec

    if default_spec() != answer_model.ANSWER.name:  # HEARTH_DEFAULT_MODEL, or no 0.5B
        return None
    if answer_model.part_files(answer_model.LARGE) is None:
        return None
    return [answer_model.ANSWER.name, answer_model.LARGE.name]


def open_session(settings: Any, *, data_dir: Path | None,
                 pinned: str | None = None) -> tuple[Any, Any]:
    """(model, router). Routing: one `ModelSet` is both (it loads a model on first use), and
    `pinned` names the one to use for every question. With nothing chosen, Hearth's own `pair`
    when installed. Otherwise the single model `pinned`, else `settings.model` (empty = the
    default), and no router."""
    from inference.model_set import ModelSet

    if routes(settings):
        router = ModelSet(list(settings.enabled_models), settings, data_dir=data_dir,
                          pinned=pinned or None)
        return router, router
    both = None if (pinned or settings.model) else pair()
    if both:
        router = ModelSet(both, settings, data_dir=data_dir, prefer_larger=True,
                          checker=both[0])
        return router, router
    from inference.models import load_model

    return load_model(pinned or settings.model or None, settings, data_dir=data_dir), None
