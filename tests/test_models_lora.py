"""LoRA adapters (issue 6): a real llama.cpp adapter GGUF, built here for the bundled SmolLM2.

Why built: no adapter ships with Hearth and nothing may be downloaded. `write_lora_adapter` writes
what convert_lora_to_gguf.py would (A/B pairs for attn_q/attn_v of every block). A zero B must be
an exact no-op, a random B must change the model, and a bad adapter must be a clean ModelError.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tiny_gguf import write_lora_adapter

from inference.base import ModelError
from inference.bundled import BUNDLED_NAME, bundled_model_path
from inference.llama import LlamaChatModel
from inference.models import load_model
from rag.base.settings import Settings

BUNDLED = bundled_model_path()
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
OPTS = {"n_ctx": 512, "n_threads": 2}
MAX_TOKENS = 24


@pytest.fixture(scope="module")
def adapters(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lora")
    return {
        "zero": write_lora_adapter(d / "zero.gguf", BUNDLED, rank=2),
        "random": write_lora_adapter(
            d / "random.gguf", BUNDLED, rank=4, b_std=0.1, seed=7, dtype="float16"
        ),
    }


def _answer(model) -> str:
    return "".join(model.stream(QUESTION, max_tokens=MAX_TOKENS, temperature=0))


def _next_token_logits(model) -> np.ndarray:
    """Logits after the question prompt, straight from llama.cpp."""
    llm = model._llm
    tokens = model.prompt_tokens(QUESTION)
    llm.reset()
    llm.eval(tokens)  # without logits_all only the last position has logits
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def _run(path: Path | None) -> tuple[str, np.ndarray]:
    model = LlamaChatModel(BUNDLED, lora_path=path, **OPTS)
    try:
        if path is not None:  # llama.cpp really holds an adapter (NULL would mean it refused)
            assert model.lora_path == str(path) and model._llm._lora_adapter
        return _answer(model), _next_token_logits(model)
    finally:
        model.close()


@pytest.fixture(scope="module")
def base_run() -> tuple[str, np.ndarray]:
    return _run(None)


@pytest.fixture(scope="module")
def random_run(adapters) -> tuple[str, np.ndarray]:
    return _run(adapters["random"])


def test_adapter_file_follows_llama_cpp_conventions(adapters):
    from gguf import GGUFReader

    base = {t.name: [int(x) for x in t.shape] for t in GGUFReader(str(BUNDLED)).tensors}
    reader = GGUFReader(str(adapters["random"]))
    kv = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert kv["general.type"] == "adapter" and kv["adapter.type"] == "lora"
    assert kv["general.architecture"] == "llama" and kv["adapter.lora.alpha"] == 4.0
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}
    n_blocks = sum(1 for name in base if name.endswith(".attn_q.weight"))
    assert len(shapes) == n_blocks * 2 * 2  # q and v, A and B
    for name, (n_in, n_out) in ((n, base[n]) for n in base if n.endswith((".attn_q.weight",
                                                                          ".attn_v.weight"))):
        assert shapes[name + ".lora_a"] == [n_in, 4]  # ggml order: ne[0] first
        assert shapes[name + ".lora_b"] == [4, n_out]
    assert {t.tensor_type.name for t in reader.tensors} == {"F16"}


@pytest.mark.slow
def test_zero_adapter_loads_and_changes_nothing(adapters, base_run):
    text, logits = _run(adapters["zero"])
    assert base_run[0].strip()
    assert text == base_run[0]
    np.testing.assert_allclose(logits, base_run[1], rtol=0, atol=1e-4)


@pytest.mark.slow
def test_random_adapter_changes_the_model(base_run, random_run):
    diff = np.abs(random_run[1] - base_run[1])
    assert diff.max() > 0.5, f"adapter barely moved the logits (max diff {diff.max():.4f})"
    assert random_run[0].strip() and random_run[0] != base_run[0]


@pytest.mark.slow
def test_settings_pass_the_adapter_by_name_and_by_path(adapters, base_run, random_run):
    by_name = Settings(**OPTS, lora_adapters={BUNDLED_NAME: str(adapters["zero"])})
    model = load_model(None, by_name)
    try:
        assert model.lora_path == str(adapters["zero"]) and model._llm._lora_adapter
        assert _answer(model) == base_run[0]
    finally:
        model.close()
    by_path = Settings(**OPTS, lora_adapters={str(BUNDLED): str(adapters["random"])})
    model = load_model(None, by_path)
    try:
        assert model.lora_path == str(adapters["random"])
        assert _answer(model) == random_run[0]
    finally:
        model.close()


# ---- broken adapters ------------------------------------------------------------------------
def _write_adapter(path: Path, tensors: dict[str, np.ndarray], arch: str = "llama") -> Path:
    from gguf import GGUFWriter

    w = GGUFWriter(str(path), arch)
    w.add_type("adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", 2.0)
    for name, value in tensors.items():
        w.add_tensor(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


Q = "blk.0.attn_q.weight"  # ggml ne=[576, 576]


def _zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


def _text_file(d: Path) -> Path:
    (d / "a.gguf").write_text("not an adapter")
    return d / "a.gguf"


def _truncated(d: Path) -> Path:
    whole = write_lora_adapter(d / "whole.gguf", BUNDLED, rank=2).read_bytes()
    (d / "cut.gguf").write_bytes(whole[: len(whole) // 2])
    return d / "cut.gguf"


BAD_ADAPTERS = {
    "not_gguf": _text_file,
    "wrong_shape": lambda d: _write_adapter(
        d / "a.gguf", {Q + ".lora_a": _zeros(2, 577), Q + ".lora_b": _zeros(576, 2)}),
    "rank_mismatch": lambda d: _write_adapter(
        d / "a.gguf", {Q + ".lora_a": _zeros(2, 576), Q + ".lora_b": _zeros(576, 3)}),
    "unknown_tensor": lambda d: _write_adapter(
        d / "a.gguf", {"blk.99.attn_q.weight.lora_a": _zeros(2, 576),
                       "blk.99.attn_q.weight.lora_b": _zeros(576, 2)}),
    "missing_b": lambda d: _write_adapter(d / "a.gguf", {Q + ".lora_a": _zeros(2, 576)}),
    "other_arch": lambda d: write_lora_adapter(d / "a.gguf", BUNDLED, arch="gemma3"),
    "base_model_not_adapter": lambda d: BUNDLED,
    "truncated": _truncated,
}

# llama.cpp's own reason (llama-adapter.cpp), which the ModelError must carry
REASONS = {
    "not_gguf": "failed to load", "wrong_shape": "incorrect shape",
    "rank_mismatch": "not transposed", "unknown_tensor": "does not exist in base model",
    "missing_b": "missing one component", "other_arch": "arch mismatch",
    "base_model_not_adapter": "general.type", "truncated": "corrupted or incomplete",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(BAD_ADAPTERS))
def test_broken_adapter_is_a_clean_model_error(tmp_path, kind):
    adapter = BAD_ADAPTERS[kind](tmp_path)
    with pytest.raises(ModelError, match="LoRA adapter") as err:
        model = LlamaChatModel(BUNDLED, lora_path=adapter, **OPTS)
        model.close()  # only reached if llama.cpp (wrongly) accepted it
    assert adapter.name in str(err.value) and REASONS[kind] in str(err.value)


def test_missing_adapter_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        LlamaChatModel(BUNDLED, lora_path=tmp_path / "nope.gguf", **OPTS)


@pytest.mark.slow
def test_broken_adapter_cannot_crash_the_process(tmp_path):
    """Regression: llama-cpp-python 0.3.36 misses llama.cpp's NULL adapter, and the first
    generation then segfaults. In a child process so a crash fails this test, not the run."""
    adapter = BAD_ADAPTERS["wrong_shape"](tmp_path)
    script = textwrap.dedent(f"""
        from inference.base import ModelError
        from inference.llama import LlamaChatModel
        try:
            m = LlamaChatModel({str(BUNDLED)!r}, lora_path={str(adapter)!r}, n_ctx=256)
            print("".join(m.stream([{{"role": "user", "content": "hi"}}], max_tokens=4)))
            print("LOADED")
        except ModelError as exc:
            print("MODEL_ERROR", exc)
    """)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=str(root))
    assert proc.returncode == 0, f"child died (exit {proc.returncode}): {proc.stderr[-500:]}"
    assert proc.stdout.startswith("MODEL_ERROR") and "a.gguf" in proc.stdout
