"""How many threads the heavy work gets: the language model and the embedder share this rule."""

from __future__ import annotations

import os


def physical_cores() -> int:
    """Physical cores, at most as many as the CPUs this process may run on (an approximation:
    a container's CPU quota is not seen): hyper-threads share a core's vector units, so a
    second thread on one slows llama.cpp and ONNX Runtime down rather than up."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except Exception:  # psutil missing or unsupported platform
        n = None
    n = n or os.cpu_count() or 1
    try:
        n = min(n, len(os.sched_getaffinity(0)))  # a container or `taskset` may allow fewer
    except (AttributeError, OSError):  # not on every platform
        pass
    return max(1, n)
