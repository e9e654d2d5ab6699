"""Cold start: process start -> main window shown (offscreen), and which heavy modules were loaded
by then. Measured in fresh child processes; the clock starts just before the child is spawned.

The child mirrors `app.main.main` + `app.gui.launch.run_gui` up to the first painted window
(privacy guard, QApplication, create_window, show, process events), then reports and exits,
so nothing after "shown" (library open, model load) is counted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "sentence_transformers", "transformers", "chromadb", "llama_cpp", "numpy",
         "onnxruntime", "tokenizers")
FORBIDDEN = ("torch", "chromadb", "llama_cpp", "sentence_transformers", "transformers")

CHILD = r"""
import sys, time, json
from rag.offline.privacy import install_guard
install_guard()
from app.gui.launch import application, create_window
app = application()
window = create_window()
window.show()
app.processEvents()
shown = time.time()
heavy = sorted(m for m in %r if m in sys.modules)
print("HEARTH-SHOWN " + json.dumps({"shown": shown, "heavy": heavy,
      "visible": window.isVisible(), "modules": len(sys.modules)}), flush=True)
import os
os._exit(0)
"""


def gui_available() -> str | None:
    """None if the GUI entry point exists, else why not."""
    try:
        import importlib.util

        if importlib.util.find_spec("app.gui.launch") is None:
            return "app.gui.launch not present"
    except ImportError as exc:
        return str(exc)
    return None


def _one(data_dir: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HEARTH_DATA_DIR": data_dir}
    root = Path(__file__).resolve().parent.parent
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD % (HEAVY,)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    for line in proc.stdout.splitlines():
        if line.startswith("HEARTH-SHOWN "):
            info = json.loads(line.split(" ", 1)[1])
            return {"seconds": info["shown"] - start, "heavy": info["heavy"],
                    "visible": info["visible"], "modules": info["modules"]}
    raise RuntimeError(f"window never shown (exit {proc.returncode}): {proc.stderr[-800:]}")


def _bare_python() -> float:
    start = time.time()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.time() - start


def bench_coldstart(runs: int = 5) -> dict:
    why = gui_available()
    if why:
        return {"available": False, "reason": why}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-cold-") as data_dir:
        try:
            _one(data_dir)  # first run warms the OS file cache (a "warm" cold start)
            results = [_one(data_dir) for _ in range(runs)]
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return {"available": False, "reason": str(exc)}
    secs = [r["seconds"] for r in results]
    heavy = sorted({m for r in results for m in r["heavy"]})
    return {
        "available": True, "runs": runs,
        "seconds_p50": round(statistics.median(secs), 3), "seconds_max": round(max(secs), 3),
        "seconds_all": [round(s, 3) for s in secs], "target_s": 1.0,
        "bare_python_s": round(_bare_python(), 3),
        "heavy_modules_at_shown": heavy,
        "forbidden_loaded": [m for m in heavy if m in FORBIDDEN],
        "window_visible": all(r["visible"] for r in results),
        "modules_loaded": results[-1]["modules"],
    }
