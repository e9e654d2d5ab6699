"""The default answering model (Qwen2.5-Coder-0.5B-Instruct): joined from its installed parts,
checked by SHA-256 before use, refused when tampered with, and able to answer from evidence.

One real smoke test: the rest of the suite answers with the faster SmolLM2-135M, and
`python -m bench answers` measures this model's quality and speed.
"""

from __future__ import annotations

import os

import pytest
from corpus import build_corpus

from inference import answer_model
from inference.base import ModelError
from inference.models import load_model
from rag.answer import answer
from rag.library import Library

pytestmark = pytest.mark.slow
needs_parts = pytest.mark.skipif(answer_model.part_files() is None,
                                 reason="answering model packages not installed (make setup)")


def test_a_file_of_the_right_size_but_wrong_bytes_is_refused(tmp_path):
    target = tmp_path / "models" / answer_model.ANSWER_FILE
    target.parent.mkdir()
    with open(target, "wb") as fh:  # sparse: 491 MB of zeros, the right size, the wrong hash
        fh.truncate(answer_model.ANSWER_SIZE)
    with pytest.raises(ModelError, match="checksum"):
        load_model(answer_model.ANSWER_NAME, data_dir=tmp_path)
    target.write_bytes(b"GGUF" + b"\0" * 64)  # wrong size: refused without hashing
    with pytest.raises(ModelError, match="checksum"):
        load_model(str(target), data_dir=tmp_path)


@needs_parts
def test_joined_verified_answers_and_refused_once_tampered(tmp_path, embedder):
    path = answer_model.answer_model_path(tmp_path)  # joins the six parts, checks SHA-256
    assert path.stat().st_size == answer_model.ANSWER_SIZE
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    with Library.open(tmp_path / "lib", embedder=embedder) as lib:
        lib.index([build_corpus(tmp_path / "docs")])
        model = load_model(answer_model.ANSWER_NAME, data_dir=tmp_path, n_ctx=2048)
        try:
            result = answer(lib, model, "How far away is Proxima Centauri?", max_tokens=48)
        finally:
            model.close()
    assert result.model == answer_model.ANSWER_NAME
    assert "4.24" in result.evidence[0].quote
    assert result.answer.strip() and "4.24" in result.answer
    assert any(c.supported for c in result.claims) and not result.fallback
    with open(path, "r+b") as fh:  # one flipped byte deep inside the weights
        fh.seek(300_000_000)
        byte = fh.read(1)
        fh.seek(300_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path)
    with pytest.raises(ModelError, match="checksum"):
        load_model(answer_model.ANSWER_NAME, data_dir=tmp_path)
