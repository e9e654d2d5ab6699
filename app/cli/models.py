"""`hearth models`, `hearth models add FILE`, `hearth models info NAME|PATH` (issue 6).

Each handler returns an exit code: 0 ok, 1 user-facing error (message on stderr), and honours
`args.data_dir` (None = default data dir) and `args.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR = 0, 1


def register(subparsers, common: argparse.ArgumentParser | None = None) -> None:
    """Add `models` (+ `add`, `info`). `common` is app.cli's parent parser with --data-dir/--json;
    without it each parser gets its own --json (default SUPPRESS: never resets a global flag)."""
    parents = [common] if common is not None else []

    def parser(subs, name: str, help_text: str) -> argparse.ArgumentParser:
        p = subs.add_parser(name, help=help_text, parents=parents)
        if common is None:
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                           help="machine-readable output")
        return p

    p = parser(subparsers, "models", "list, add and inspect local GGUF models")
    p.set_defaults(func=cmd_list)
    sub = p.add_subparsers(dest="models_command")
    add = parser(sub, "add", "copy a .gguf file into Hearth's models folder")
    add.add_argument("file")
    add.set_defaults(func=cmd_add)
    info = parser(sub, "info", "details, memory need and fit verdict for one model")
    info.add_argument("model", metavar="NAME|PATH")
    info.set_defaults(func=cmd_info)


def _data_dir(args) -> Path:
    """Listing and inspecting only read: the data folder is not created for them."""
    from rag.base.paths import data_dir_path

    return data_dir_path(getattr(args, "data_dir", None))


def _settings(data_dir: Path):
    from rag.base.settings import Settings

    return Settings.load(data_dir)


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": message}))
    print(f"hearth: {message}", file=sys.stderr)
    return EXIT_ERROR


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def _fit(info, n_ctx: int) -> dict:
    from inference.memory import estimate_memory, fit_verdict, free_vram_bytes

    est = estimate_memory(info, n_ctx)
    return {"estimate": est.to_dict(), "fit": fit_verdict(est, free_vram=free_vram_bytes()).to_dict()}


def cmd_list(args) -> int:
    from inference.base import ModelError
    from inference.bundled import BUNDLED_NAME
    from inference.discovery import discover_models

    as_json = bool(getattr(args, "json", False))
    try:
        data_dir = _data_dir(args)
        settings = _settings(data_dir)
        entries = discover_models(data_dir, with_info=True)
    except (ModelError, OSError) as exc:
        return _fail(str(exc), as_json)
    current = settings.model or ""
    rows = []
    for e in entries:
        row = e.to_dict()
        row["selected"] = current in (e.name, e.path) or (
            not current and e.name == BUNDLED_NAME and e.source == "bundled")
        if e.info:
            row.update(_fit(e.info, settings.n_ctx))
        rows.append(row)
    if as_json:
        print(json.dumps({"models": rows}, indent=2))
        return EXIT_OK
    if not rows:
        print("No models found. Add one with: hearth models add FILE.gguf")
        return EXIT_OK
    print(f"{'':2}{'NAME':40} {'SOURCE':11} {'SIZE':>10} {'ARCH':10} {'QUANT':8} {'FIT':9}")
    for row in rows:
        info = row["info"] or {}
        fit = row.get("fit", {}).get("verdict", "error" if row["error"] else "?")
        mark = "* " if row["selected"] else "  "
        print(f"{mark}{row['name'][:40]:40} {row['source']:11} {_gib(row['size']):>10} "
              f"{info.get('architecture', '?')[:10]:10} {info.get('quantization', '?')[:8]:8} "
              f"{fit:9}")
        if row["error"]:
            print(f"    ! {row['error']}")
    return EXIT_OK


def cmd_add(args) -> int:
    from inference.base import ModelError
    from inference.discovery import add_model

    as_json = bool(getattr(args, "json", False))
    try:
        entry = add_model(args.file, _data_dir(args))
    except ModelError as exc:
        return _fail(str(exc), as_json)
    if as_json:
        print(json.dumps(entry.to_dict(), indent=2))
    else:
        print(f"Added {entry.name} ({_gib(entry.size)}) -> {entry.path}")
        print(f"Use it with: hearth ask --model {entry.name!r} \"your question\"")
    return EXIT_OK


def cmd_info(args) -> int:
    from inference.base import ModelError
    from inference.gguf_info import check_model_file
    from inference.models import resolve_spec

    as_json = bool(getattr(args, "json", False))
    try:
        data_dir = _data_dir(args)
        settings = _settings(data_dir)
        path, name = resolve_spec(args.model, data_dir)
        info = check_model_file(path)
    except (ModelError, OSError) as exc:
        return _fail(str(exc), as_json)
    result = {"name": name, "path": str(path), "info": info.to_dict(),
              "n_ctx": min(settings.n_ctx, info.context_length or settings.n_ctx),
              "gpu_offload": _gpu_supported(),
              "lora_adapter": settings.lora_adapters.get(name) or
              settings.lora_adapters.get(str(path)),
              **_fit(info, settings.n_ctx)}
    if as_json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    est, fit = result["estimate"], result["fit"]
    lines = [
        ("Name", name), ("File", str(path)), ("Size", _gib(info.file_size)),
        ("Architecture", info.architecture),
        ("Parameters", f"{info.parameters / 1e9:.2f} B" if info.parameters >= 1e9
         else f"{info.parameters / 1e6:.0f} M"),
        ("Quantization", info.quantization),
        ("Context length", f"{info.context_length} (Hearth uses {result['n_ctx']})"),
        ("Chat template", "yes (from the file)" if info.has_chat_template else
         "none in the file (Hearth uses a fallback)"),
        ("Memory", f"{_gib(est['total_bytes'])} = weights {_gib(est['weights_bytes'])} + KV cache "
                   f"{_gib(est['kv_cache_bytes'])} + buffers {_gib(est['overhead_bytes'])}"),
        ("Fit", f"{fit['verdict']}: {fit['reason']}"),
        ("GPU offload", "available" if result["gpu_offload"] else "not available (CPU build)"),
        ("LoRA adapter", result["lora_adapter"] or "none"),
    ]
    for key, value in lines:
        print(f"{key + ':':16} {value}")
    return EXIT_OK


def _gpu_supported() -> bool:
    try:
        from inference.llama import gpu_offload_supported

        return gpu_offload_supported()
    except ImportError:
        return False
