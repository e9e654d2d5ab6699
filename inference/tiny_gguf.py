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
