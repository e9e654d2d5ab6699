"""What the model picker shows: every local model with size, quantization, parameters and whether
it fits in memory now. Built off the GUI thread (it reads GGUF headers and asks nvidia-smi).

Values stored in settings are discovery *names* (`SmolLM2-135M-Instruct`, `gemma-3-270m`...),
which `inference.models.resolve_spec` and `ModelSet` resolve again; a path the user typed in an
older version stays a path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ModelRow:
    name: str  # the spec saved in settings (discovery name)
    path: str
    source: str  # bundled / hearth / gpt4all / lmstudio / ollama / huggingface / llamacpp / file
    size: int
    quantization: str = ""
    parameters: int = 0
    architecture: str = ""
    fit: str = ""  # fits / tight / won't fit ("" when the header could not be read)
    fit_reason: str = ""
    error: str = ""

    def matches(self, spec: str) -> bool:
        """Whether a settings value (a name or a path) means this model."""
        return bool(spec) and spec in (self.name, self.path)


def human_size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def human_params(n: int) -> str:
    if n <= 0:
        return "?"
    return f"{n / 1e9:.1f} B" if n >= 1e9 else f"{n / 1e6:.0f} M"


def list_models(data_dir: Path | None, n_ctx: int, extra_paths: tuple[str, ...] = (),
                on_row: Callable[[ModelRow], None] | None = None, cancel=None) -> list[ModelRow]:
    """Discovered models (bundled first), plus `extra_paths` (.gguf files named in settings that
    discovery does not list), each with its fit verdict for `n_ctx`. `on_row` gets each row as
    soon as it is ready, so the picker fills in while slower folders are still searched."""
    from inference.base import ModelError
    from inference.discovery import iter_models
    from inference.gguf_info import read_gguf_info
    from inference.memory import estimate_memory, fit_verdict, free_vram_bytes

    vram = free_vram_bytes()
    rows: list[ModelRow] = []

    def add(name: str, path: str, source: str, size: int, info, error: str) -> None:
        r = ModelRow(name, str(path), source, size, error=error)
        if info is not None:
            r.quantization, r.architecture = info.quantization, info.architecture
            r.parameters = int(info.parameters)
            verdict = fit_verdict(estimate_memory(info, n_ctx), free_vram=vram)
            r.fit, r.fit_reason = verdict.verdict, verdict.reason
        elif not error and not Path(path).exists():  # the answering model before its first use
            r.fit_reason = "Not read yet: the file is put together from its installed parts " \
                           "the first time it answers."
        rows.append(r)
        if on_row is not None:
            on_row(r)

    for e in iter_models(data_dir=data_dir, with_info=True, cancel=cancel):
        add(e.name, e.path, e.source, e.size, e.info, e.error or "")
    known = {r.path for r in rows} | {r.name for r in rows}
    for path in extra_paths:
        if path and path not in known and Path(path).is_file():
            try:
                info, error = read_gguf_info(path), ""
            except ModelError as exc:
                info, error = None, str(exc)
            add(Path(path).stem, path, "file", Path(path).stat().st_size, info, error)
    return rows


def known_rows(data_dir: Path | None) -> list[ModelRow]:
    """The models shipped with Hearth and those in Hearth's own models folder, found in
    milliseconds (no headers read, no other tools' folders searched): what the picker shows at
    once while `list_models` looks further. Their fit verdict says "checking…" until then."""
    from inference.discovery import DiscoveryRoots, discover_models

    if data_dir is None:
        from rag.base.paths import data_dir_path

        data_dir = data_dir_path(None)
    roots = DiscoveryRoots(hearth=[Path(data_dir) / "models"])
    return [ModelRow(e.name, str(e.path), e.source, e.size, fit="checking…")
            for e in discover_models(data_dir=data_dir, roots=roots, with_info=False)]
