"""`load_model(spec)`: turn a user's model choice into a loaded `ChatModel`, safely.

Order of checks, cheapest first: resolve the name/path, read and validate the GGUF header (no
weights), check the architecture is one llama.cpp knows, probe the load in a child process (so an
abort inside llama.cpp can't kill the app; cached per file), then load for real.
"""

from __future__ import annotations

import os
from pathlib import Path

from inference.base import ChatModel, ModelError
from inference.bundled import BUNDLED_NAME, bundled_model_path
from inference.gguf_info import check_model_file

# Architectures that are GGUF-valid but cannot chat (encoders, vision towers).


def default_spec() -> str:
    """What "no model chosen" means: `HEARTH_DEFAULT_MODEL` if set (tests pin the fast model),
    else the answering model when installed, else the bundled SmolLM2."""
    from inference import answer_model

    pinned = os.environ.get("HEARTH_DEFAULT_MODEL", "").strip()
    if pinned:
        return pinned
    return answer_model.ANSWER_NAME if answer_model.part_files() is not None else BUNDLED_NAME


def resolve_spec(spec: str | os.PathLike | None, data_dir: Path | None = None) -> tuple[Path, str]:
    """(path, friendly name) for None or "" (the default, see `default_spec`), "bundled"
    (SmolLM2), a file path, or a discovered model name."""
    if spec is None or str(spec).strip() == "":
        spec = default_spec()
    if str(spec).lower() in ("bundled", "smollm2", BUNDLED_NAME.lower()):
        return bundled_model_path(), BUNDLED_NAME
    text = str(spec)
    from inference import answer_model

    if text.lower() in ("qwen", "answer"):
        text = answer_model.ANSWER_NAME
    if text.lower() == "large":
        text = answer_model.LARGE.name
    if pinned := answer_model.by_name(text):
        return answer_model.answer_model_path(data_dir, pinned), pinned.name
    path = Path(text).expanduser()
    if path.is_file() or text.lower().endswith(".gguf") or os.sep in text:
        if not path.exists():
            raise ModelError(f"Model file not found: {path}")
        return path, path.stem
    from inference.discovery import find_model

    entry = find_model(text, data_dir=data_dir)
    if entry is None:
        raise ModelError(
            f"No model named {text!r}. Run `hearth models` to list the models Hearth can see, "
            "or give the path to a .gguf file."
        )
    return Path(entry.path), entry.name



def load_model(
    spec: str | os.PathLike | None = None,
    settings=None,
    *,
    data_dir: Path | None = None,
    probe: bool | None = None,
    **overrides,
) -> ChatModel:
    """Load a chat model. `settings` (rag.base.settings.Settings) supplies n_ctx, threads, GPU layers
    and LoRA adapters; keyword `overrides` (n_ctx=..., n_gpu_layers=..., lora_path=...) win.
    `probe` defaults to True except for the bundled model."""
    path, name = resolve_spec(spec, data_dir)
    from inference import answer_model

    if pinned := answer_model.by_file(path.name):  # however it was named: checksum before use
        answer_model.verify_file(path, pinned)
    info = check_model_file(path)
    bundled = _same_file(path, _bundled_or_none())
    if probe if probe is not None else not bundled:
        from inference.probe import probe_model

        probe_model(path, data_dir)
    opts: dict = {}
    if settings is not None:
        opts.update(n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                    n_gpu_layers=settings.n_gpu_layers)
        lora = settings.lora_adapters.get(name) or settings.lora_adapters.get(str(path))
        if lora:
            opts["lora_path"] = lora
    opts.update(overrides)
    from inference.llama import LlamaChatModel

    return LlamaChatModel(path, name=name, info=info, **opts)


def _bundled_or_none() -> Path | None:
    try:
        return bundled_model_path()
    except ModelError:
        return None


def _same_file(a: Path, b: Path | None) -> bool:
    try:
        return b is not None and a.resolve() == b.resolve()
    except OSError:
        return False
