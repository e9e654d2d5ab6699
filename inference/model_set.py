"""The models a user enabled, loaded on demand, with the router choosing one per question.

Plugs into `rag.answer.answer_stream(router=...)`: routing happens after retrieval (it uses the
score spread) and before the prompt is built (the budget needs the chosen model's tokenizer).
Models are loaded lazily and kept; like any `Llama`, they belong to the thread that calls this.
"""

from __future__ import annotations

from pathlib import Path

from inference.routing import ModelOption, route


class ModelSet:
    def __init__(self, specs: list[str], settings=None, *, data_dir: Path | None = None,
                 pinned: str | None = None) -> None:
        from inference.gguf_info import read_gguf_info
        from inference.models import resolve_spec

        if not specs:
            raise ValueError("ModelSet needs at least one model")
        self.settings = settings
        self.data_dir = data_dir
        self.pinned = pinned
        self._paths: dict[str, str] = {}
        self.options: list[ModelOption] = []
        for spec in specs:
            path, name = resolve_spec(spec, data_dir)
            info = read_gguf_info(path)
            params = int(getattr(info, "parameters", 0) or 0) or int(path.stat().st_size)
            self._paths[name] = spec  # load by the same spec so the model keeps its name
            self.options.append(ModelOption(name, params))
        self._loaded: dict[str, object] = {}
        self.last_decision = None

    def model(self, name: str):
        from inference.models import load_model

        if name not in self._loaded:
            self._loaded[name] = load_model(self._paths.get(name, name), self.settings,
                                            data_dir=self.data_dir)
        return self._loaded[name]

    def __call__(self, question: str, hits: list, history: list[dict]):
        """answer_stream's router hook: (model, reason) for this question."""
        decision = route(question, self.options, scores=[h.similarity or h.score for h in hits],
                         history_len=len(history), pinned=self.pinned)
        self.last_decision = decision
        return self.model(decision.model), decision.reason

    @property
    def name(self) -> str:
        return self.last_decision.model if self.last_decision else self.options[0].name

    def close(self) -> None:
        for m in self._loaded.values():
            m.close()
        self._loaded.clear()
