"""The pinned Qwen models: the answering model (Qwen2.5-Coder-0.5B-Instruct) and the larger
one (Qwen2.5-Coder-1.5B-Instruct), each joined from its installed parts, checked by SHA-256
before use, refused when tampered with; the first answers from evidence, and beside the second
it checks the answers the second writes.

One real smoke test each: the rest of the suite answers with the faster SmolLM2-135M, and
`python -m bench answers` measures the models' quality and speed.
"""

from __future__ import annotations

import os

import pytest
from corpus import build_corpus

from inference import answer_model
from inference.base import ModelError
from inference.models import load_model
from rag.answering.answer import answer
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


def assert_refused_once_tampered(path, offset: int, name: str, data_dir) -> None:
    """One flipped byte deep inside the weights: the checksum refuses the file."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path)
    with pytest.raises(ModelError, match="checksum"):
        load_model(name, data_dir=data_dir)


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
    # backed by the passage's words; whether it is confirmed as *the* answer is the question
    # check's call (rag/answering/confirm.py, tests/test_confirm.py), reported with the answer
    assert result.claims and not result.fallback and "question_gain" in result.confirmation
    assert_refused_once_tampered(path, 300_000_000, answer_model.ANSWER_NAME, tmp_path)


LARGE = answer_model.LARGE
needs_large = pytest.mark.skipif(answer_model.part_files(LARGE) is None,
                                 reason="larger model packages not installed (make setup)")


@needs_parts
@needs_large
def test_the_pair_writes_with_the_larger_model_checks_with_the_smaller_and_refuses_tampering(
        tmp_path, embedder, monkeypatch):
    """The one real Qwen2.5-Coder-1.5B smoke test. With nothing chosen and both models
    installed, the 1.5B (22 parts joined, SHA-256 checked) writes the answer and the 0.5B runs
    its question check; a flipped byte in the 1.5B is refused."""
    from inference.session import open_session
    from rag.base.settings import Settings

    monkeypatch.delenv("HEARTH_DEFAULT_MODEL", raising=False)  # the suite pins SmolLM2
    with Library.open(tmp_path / "lib", embedder=embedder) as lib:
        lib.index([build_corpus(tmp_path / "docs")])
        model, router = open_session(Settings(n_ctx=2048), data_dir=tmp_path)
        try:
            assert router is model and router.usual() == LARGE.name
            result = answer(lib, model, "How far away is Proxima Centauri?", max_tokens=48,
                            router=router)
        finally:
            model.close()
    assert result.model == LARGE.name and "larger model" in result.route_reason
    assert "4.24" in result.answer
    assert result.confirmation["checker"] == answer_model.ANSWER_NAME
    path = answer_model.answer_model_path(tmp_path, LARGE)
    assert path.stat().st_size == LARGE.size and path.name == LARGE.file
    assert_refused_once_tampered(path, 700_000_000, LARGE.name, tmp_path)


@needs_parts
def test_stop_while_the_model_reads_a_long_prompt_takes_effect_at_once(tmp_path):
    """Prefill of ~2,000 tokens takes seconds on a CPU; Stop during it must not wait for it."""
    import threading
    import time

    from rag.base.cancel import CancelToken

    model = load_model(answer_model.ANSWER_NAME, data_dir=tmp_path, n_ctx=4096)
    try:
        long = "The lighthouse keeper wrote in the log every evening. " * 180
        messages = [{"role": "user", "content": long + "\nSummarise the log."}]
        t0 = time.perf_counter()
        assert list(model.stream(messages, max_tokens=1)) is not None
        full = time.perf_counter() - t0  # the whole prefill, for comparison
        cancel = CancelToken()
        threading.Timer(0.3, cancel.cancel).start()
        t0 = time.perf_counter()
        out = list(model.stream([{"role": "user", "content": "Again. " + long}],
                                max_tokens=20, cancel=cancel))
        took = time.perf_counter() - t0
        assert model.last_stats.cancelled and out == []
        assert took < 0.3 + 0.5 and took < full, (took, full)
        assert "".join(model.stream([{"role": "user", "content": "Say hi."}], max_tokens=6))
    finally:
        model.close()
