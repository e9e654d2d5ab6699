"""The models a user enabled, loaded on demand, with the router choosing one per question.

Plugs into `rag.answering.answer.answer_stream(router=...)`: routing happens after retrieval (it uses the
score spread) and before the prompt is built (the budget needs the chosen model's tokenizer).
Models are loaded lazily and kept while memory allows: before a model loads, the least recently
used ones are closed until the machine has room for it (a user may enable an 8B model beside a
1B one). Like any `Llama`, they belong to the thread that calls this.

Hearth's own pair (`pair`: both pinned Qwen models installed, nothing chosen) is a set too: the
1.5B writes while this machine reads its prompt within the first-token budget, and the 0.5B
checks every answer (`checker`), since the question check's threshold was set on the 0.5B's
likelihoods (docs/benchmarks.md, session 17).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from inference.routing import FIRST_TOKEN_BUDGET_S, ModelOption, route, within_budget

ROOM_MARGIN = 1.2  # ask for 20% more free RAM than the estimate: page cache, allocator slack
PROMPT_GUESS = 300  # prompt tokens assumed before any answer was written (answers: ~200)


class ModelSet:
    def __init__(self, specs: list[str], settings=None, *, data_dir: Path | None = None,
                 pinned: str | None = None, free_ram: Callable[[], int] | None = None,
                 prefer_larger: bool = False, checker: str | None = None) -> None:
        from inference.gguf_info import read_gguf_info
        from inference.memory import free_ram_bytes
        from inference.models import resolve_spec

        if not specs:
            raise ValueError("ModelSet needs at least one model")
        self.settings = settings
        self.data_dir = data_dir
        self.pinned = pinned
        self._paths: dict[str, str] = {}
        self._infos: dict[str, object] = {}
        self._free_ram = free_ram or free_ram_bytes
        self.unloaded: list[str] = []  # models closed to make room, oldest first
        self.options: list[ModelOption] = []
        for spec in specs:
            path, name = resolve_spec(spec, data_dir)
            info = read_gguf_info(path)
            params = int(getattr(info, "parameters", 0) or 0) or int(path.stat().st_size)
            self._paths[name] = spec  # load by the same spec so the model keeps its name
            self._infos[name] = info
            self.options.append(ModelOption(name, params))
        self._loaded: OrderedDict[str, object] = OrderedDict()  # least recently used first
        self.last_decision = None
        self.rates: dict[str, float] = {}  # prompt tokens/s measured per model on this machine
        self.prompt_tokens = PROMPT_GUESS  # the last answer's prompt size
        self._seen: dict[str, tuple] = {}  # each model's last reading already learnt from
        self.budget_s = FIRST_TOKEN_BUDGET_S
        self.prefer_larger = prefer_larger  # the larger model writes while it is fast enough
        self._checker = checker  # the model that checks every answer (None: its writer)

    def checker(self, writer: object) -> object | None:
        """The model whose likelihoods check `writer`'s answer (loaded on demand); None when
        the writer checks its own."""
        if self._checker is None or self._loaded.get(self._checker) is writer:
            return None
        return self.model(self._checker)

    def usual(self) -> str:
        """The model most questions will use (the one to warm first)."""
        if self.pinned:
            return self.pinned
        pick = max if self.prefer_larger else min
        return pick(self.options, key=lambda o: o.parameters).name

    def model(self, name: str):
        from inference.models import load_model

        if name in self._loaded:
            self._loaded.move_to_end(name)
            return self._loaded[name]
        self._make_room(name)
        self._loaded[name] = load_model(self._paths.get(name, name), self.settings,
                                        data_dir=self.data_dir)
        return self._loaded[name]

    def _make_room(self, name: str) -> None:
        """Close least recently used models while free RAM is short of what `name` needs."""
        from inference.memory import estimate_memory

        info = self._infos.get(name)
        if info is None:
            return
        n_ctx = int(getattr(self.settings, "n_ctx", 0) or 0) or None
        need = estimate_memory(info, n_ctx).total_bytes * ROOM_MARGIN
        while self._loaded and self._free_ram() < need:
            old, model = self._loaded.popitem(last=False)
            model.close()
            self.unloaded.append(old)

    @property
    def loaded(self) -> list[str]:
        """Names of the models in memory, least recently used first."""
        return list(self._loaded)

    def __call__(self, question: str, hits: list, history: list[dict]):
        """answer_stream's router hook: (model, reason) for this question."""
        self._learn()
        decision = route(question, self.options, scores=[h.similarity or h.score for h in hits],
                         history_len=len(history), pinned=self.pinned,
                         prefer_larger=self.prefer_larger)
        decision = within_budget(decision, self.options, self.rates, self.prompt_tokens,
                                 self.budget_s)
        if self._checker and decision.model != self._checker:
            decision.reason += f"; {self._checker} checks its answer"
        self.last_decision = decision
        return self.model(decision.model), decision.reason

    def _learn(self) -> None:
        """Read each loaded model's last prompt reading (tokens, seconds) into its speed."""
        for name, model in self._loaded.items():
            stats = getattr(model, "last_stats", None)
            n, secs = getattr(stats, "prompt_tokens", 0), getattr(stats, "prefill_s", 0.0)
            if stats is None or self._seen.get(name) == (n, secs) or n < 16 or secs <= 0:
                continue
            self._seen[name] = (n, secs)
            rate = n / secs
            old = self.rates.get(name)
            self.rates[name] = rate if old is None else 0.5 * old + 0.5 * rate
            self.prompt_tokens = n

    @property
    def name(self) -> str:
        return self.last_decision.model if self.last_decision else self.options[0].name

    def close(self) -> None:
        for m in self._loaded.values():
            m.close()
        self._loaded.clear()
