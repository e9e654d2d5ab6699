"""Write tiny but well-formed GGUF files (header + a few small tensors).

Why: discovery and validation tests need many real GGUF files in fake tool layouts, and copying a
100 MB model into each would be slow. These files pass header validation; llama.cpp will refuse
them at load time (missing tensors), which is itself useful for testing the load probe.
"""

from __future__ import annotations

from pathlib import Path


def write_tiny_gguf(
    path: str | Path,
    *,
    arch: str = "llama",
    name: str = "tiny",
    n_layers: int = 2,
    context_length: int = 2048,
    chat_template: str | None = None,
    file_type: int | None = 15,
) -> Path:
    import numpy as np
    from gguf import GGUFWriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(str(path), arch)
    w.add_name(name)
    w.add_block_count(n_layers)
    w.add_context_length(context_length)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    if file_type is not None:
        w.add_file_type(file_type)
    if chat_template:
        w.add_chat_template(chat_template)
    w.add_tensor("token_embd.weight", np.zeros((32, 64), dtype=np.float32))
    for i in range(n_layers):
        w.add_tensor(f"blk.{i}.attn_q.weight", np.ones((64, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_lora_adapter(
    path: str | Path,
    base_model: str | Path,
    *,
    rank: int = 2,
    alpha: float | None = None,
    targets: tuple[str, ...] = ("attn_q", "attn_v"),
    b_std: float = 0.0,
    a_std: float = 0.1,
    seed: int = 0,
    dtype: str = "float32",
    arch: str | None = None,
) -> Path:
    """Write a real llama.cpp LoRA adapter GGUF for `base_model` (what convert_lora_to_gguf.py
    makes), with random A and B ~ N(0, b_std) (b_std=0 gives a no-op adapter, as after init).

    Why: no adapter file ships with Hearth and nothing may be downloaded, yet the LoRA path must
    be exercised with a file llama.cpp really accepts. Conventions (llama-adapter.cpp): metadata
    general.type="adapter", adapter.type="lora", adapter.lora.alpha (scale = alpha / rank), and
    general.architecture equal to the base's; for each adapted `<w>.weight` with ggml shape
    ne=[n_in, n_out], tensors `<w>.weight.lora_a` ne=[n_in, r] and `<w>.weight.lora_b`
    ne=[r, n_out] (numpy shapes (r, n_in) and (n_out, r)). A partial adapter is fine.
    """
    import numpy as np
    from gguf import GGUFReader, GGUFWriter

    base = GGUFReader(str(base_model))
    base_arch = bytes(base.fields["general.architecture"].parts[-1]).decode()
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(str(path), arch or base_arch)
    w.add_type("adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(alpha if alpha is not None else rank))
    w.add_name(f"{Path(base_model).stem} test LoRA r{rank}")
    for t in base.tensors:
        parts = t.name.split(".")  # blk.N.attn_q.weight
        if len(parts) != 4 or parts[0] != "blk" or parts[2] not in targets:
            continue
        n_in, n_out = (int(x) for x in t.shape[:2])
        a = rng.normal(0.0, a_std, size=(rank, n_in)).astype(dtype)
        b = rng.normal(0.0, b_std, size=(n_out, rank)).astype(dtype) if b_std else np.zeros(
            (n_out, rank), dtype=dtype)
        w.add_tensor(f"{t.name}.lora_a", a)
        w.add_tensor(f"{t.name}.lora_b", b)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
