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


def open_session(settings: Any, *, data_dir: Path | None,
                 pinned: str | None = None) -> tuple[Any, Any]:
    """(model, router). Routing: one `ModelSet` is both (it loads a model on first use), and
    `pinned` names the one to use for every question. Otherwise the single model `pinned`, else
    `settings.model` (empty = the default), and no router."""
    if routes(settings):
        from inference.model_set import ModelSet

        router = ModelSet(list(settings.enabled_models), settings, data_dir=data_dir,
                          pinned=pinned or None)
        return router, router
    from inference.models import load_model

    return load_model(pinned or settings.model or None, settings, data_dir=data_dir), None
