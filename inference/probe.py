"""Try loading a GGUF in a child process, so a llama.cpp abort can't take Hearth down.

Run as `python -m inference.probe PATH`: exits 0 if llama.cpp loads the model and tokenizes,
non-zero (or dies by a signal) otherwise; the last stderr line says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from inference.base import ModelError

PROBE_TIMEOUT_S = 120
_ok: set[tuple[str, int, int]] = set()
_lock = threading.Lock()


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _cache_file(data_dir: Path | None) -> Path | None:
    return Path(data_dir) / "models" / ".probed.json" if data_dir else None


def _load_disk_cache(data_dir: Path | None) -> set[tuple[str, int, int]]:
    f = _cache_file(data_dir)
    try:
        return {tuple(x) for x in json.loads(f.read_text())} if f else set()
    except (OSError, ValueError, TypeError):
        return set()


def probe_model(path: str | os.PathLike, data_dir: Path | None = None) -> None:
    """Raise ModelError unless a child process can load `path`. Successes are remembered
    (by path, size and mtime) in memory and, with a data dir, on disk."""
    path = Path(path)
    key = _key(path)
    with _lock:
        if key in _ok or key in _load_disk_cache(data_dir):
            _ok.add(key)
            return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "inference.probe", str(path)],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"Loading {path.name} took too long (over {PROBE_TIMEOUT_S} s).") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"the loader crashed (exit {proc.returncode})"
        raise ModelError(f"llama.cpp cannot load {path.name}: {why[:300]}")
    with _lock:
        _ok.add(key)
        f = _cache_file(data_dir)
        if f and f.parent.is_dir():
            try:
                f.write_text(json.dumps(sorted(_ok | _load_disk_cache(data_dir))))
            except OSError:
                pass


def _main(argv: list[str]) -> int:
    from inference.llama import LlamaChatModel

    try:
        model = LlamaChatModel(argv[0], n_ctx=256, n_gpu_layers=0)
        model.count_prompt([{"role": "user", "content": "hello"}])
        model.close()
    except Exception as exc:  # report any failure as one line on stderr
        print(f"{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
