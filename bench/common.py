"""Shared benchmark plumbing: machine description, result file, cache dir, RSS sampling, stats."""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path

from rag.embed.embeddings import Embedder

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LATEST = RESULTS_DIR / "latest.json"
CACHE_ENV = "HEARTH_BENCH_CACHE"


def offline_env() -> None:
    """Benchmarks follow the same zero-network rule as the app."""
    from rag.offline.privacy import set_offline_env

    set_offline_env()


def cache_dir() -> Path:
    """Reusable scratch space (indexed SciFact, synthetic libraries) kept between runs."""
    raw = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hearth-bench")
    path = Path(raw)
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> dict:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def load_results(path: Path = LATEST) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_section(name: str, data: dict, path: Path = LATEST) -> dict:
    """Merge one benchmark's results into latest.json (other sections are kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = load_results(path)
    results[name] = {**data, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    results["machine"] = machine()
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return results


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); plain and dependency-free."""
    if not values:
        return float("nan")
    s = sorted(values)
    idx = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[idx]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(percentile(ms, 95), 2), "max_ms": round(max(ms), 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


class PeakRSS:
    """Samples this process's RSS in a thread (psutil) and keeps the peak, in MiB."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self.start_rss = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def peak_mib(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def start_mib(self) -> float:
        return round(self.start_rss / 2**20, 1)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class CountingEmbedder:
    """Delegates to another embedder and counts calls and texts: benchmarks and tests use it to
    prove what was (not) re-embedded, e.g. that a rename costs zero embeddings."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id, self.dim, self.max_tokens = inner.model_id, inner.dim, inner.max_tokens
        self.variant = getattr(inner, "variant", "torch")
        self.calls = 0
        self.texts = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_offsets(text)

    def load(self) -> None:
        getattr(self.inner, "load", lambda: None)()

    def embed(self, texts: list[str]):  # noqa: ANN201 - the inner embedder's array
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)
