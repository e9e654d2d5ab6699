"""How much memory a model needs (weights + KV cache) and whether it fits, before loading it.

The estimate is deliberately simple and slightly pessimistic: weights are the tensor bytes from the
GGUF header, the KV cache is f16 keys+values for every layer at the chosen context, plus a compute
buffer allowance. Verdicts follow LM Studio / Jan: fits, tight, or won't fit.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass

from inference.gguf_info import GGUFInfo

FITS, TIGHT, WONT_FIT = "fits", "tight", "won't fit"
_MB = 1024 * 1024


@dataclass
class MemoryEstimate:
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    n_ctx: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes

    def to_dict(self) -> dict:
        return {**asdict(self), "total_bytes": self.total_bytes}


@dataclass
class FitVerdict:
    verdict: str  # FITS / TIGHT / WONT_FIT
    need_bytes: int
    available_bytes: int
    where: str  # "RAM" or "GPU+RAM"
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, bytes_per_value: int = 2) -> int:
    """Keys + values for every layer and every position (f16 by default)."""
    per_token = info.n_layers * info.n_head_kv * (info.head_dim_k + info.head_dim_v)
    return per_token * n_ctx * bytes_per_value


def estimate_memory(info: GGUFInfo, n_ctx: int | None = None) -> MemoryEstimate:
    n_ctx = n_ctx or info.context_length or 4096
    if info.context_length:
        n_ctx = min(n_ctx, info.context_length)
    weights = info.tensor_bytes or info.file_size
    overhead = 64 * _MB + weights // 50 + n_ctx * info.n_embd * 4 * 4
    return MemoryEstimate(weights, kv_cache_bytes(info, n_ctx), overhead, n_ctx)


def free_ram_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def free_vram_bytes() -> int | None:
    """Free memory on the first NVIDIA GPU via nvidia-smi (no GPU or no tool: None)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=3, check=True,
        ).stdout.split()
        return int(float(out[0])) * _MB if out else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def fit_verdict(
    estimate: MemoryEstimate, free_ram: int | None = None, free_vram: int | None = None
) -> FitVerdict:
    """Compare need with what is free now. GPU memory counts when llama.cpp can offload."""
    ram = free_ram_bytes() if free_ram is None else free_ram
    vram = free_vram or 0
    available = ram + vram
    where = "GPU+RAM" if vram else "RAM"
    need = estimate.total_bytes
    gib = 1024**3
    if need <= 0.7 * available:
        verdict, reason = FITS, f"needs ~{need / gib:.1f} GiB of {available / gib:.1f} GiB free"
    elif need <= 0.95 * available:
        verdict, reason = TIGHT, (
            f"needs ~{need / gib:.1f} GiB of {available / gib:.1f} GiB free: close other apps "
            "or use a shorter context"
        )
    else:
        verdict, reason = WONT_FIT, (
            f"needs ~{need / gib:.1f} GiB but only {available / gib:.1f} GiB is free: pick a "
            "smaller quantization or model"
        )
    return FitVerdict(verdict, need, available, where, reason)


def auto_gpu_layers(info: GGUFInfo, n_ctx: int, free_vram: int | None = None) -> int:
    """Layers to offload: all (-1) if they fit in free VRAM (with 10% headroom), else as many
    as fit, else 0. Unknown free VRAM (non-NVIDIA backends): offload all and let llama.cpp cope."""
    vram = free_vram_bytes() if free_vram is None else free_vram
    if vram is None:
        return -1
    est = estimate_memory(info, n_ctx)
    budget = vram * 0.9 - est.overhead_bytes
    if est.total_bytes <= vram * 0.9:
        return -1
    n_layers = max(1, info.n_layers)
    per_layer = (est.weights_bytes + est.kv_cache_bytes) / n_layers
    return max(0, min(n_layers, int(budget // per_layer))) if per_layer > 0 else 0
