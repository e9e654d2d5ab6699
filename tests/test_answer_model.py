"""The pinned Qwen models: the answering model (Qwen2.5-Coder-0.5B-Instruct) and the judge
(Qwen2.5-Coder-1.5B-Instruct), each joined from its installed parts, checked by SHA-256 before
use, refused when tampered with; the first answers from evidence, the second gives a verdict.

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


JUDGE = answer_model.JUDGE
needs_judge = pytest.mark.skipif(answer_model.part_files(JUDGE) is None,
                                 reason="judge model packages not installed (make setup)")


def verdict(model, passage: str, question: str, answer: str) -> float:
    return model.yes_probability([
        {"role": "system", "content": "You check answers against a passage."},
        {"role": "user", "content": f"Passage:\n{passage}\n\nQuestion: {question}\n"
                                    f"Answer: {answer}\n\nDoes the passage state this answer to "
                                    "the question? Reply Yes or No."}])


@needs_judge
def test_the_judge_model_is_joined_verified_reads_a_verdict_and_is_refused_once_tampered(tmp_path):
    """The one real Qwen2.5-Coder-1.5B smoke test: 22 parts joined, SHA-256 checked, a yes/no
    verdict read from its token probabilities, and a flipped byte refused."""
    path = answer_model.answer_model_path(tmp_path, JUDGE)
    assert path.stat().st_size == JUDGE.size and path.name == JUDGE.file
    passage = ("The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp "
               "burned whale oil until 1921, when the lighthouse was electrified.")
    question = "Who built the Zephyr lighthouse?"
    model = load_model(JUDGE.name, data_dir=tmp_path, n_ctx=1024)
    try:
        assert model.name == JUDGE.name
        right = verdict(model, passage, question, "Marta Kowalski built it, in 1887.")
        wrong = verdict(model, passage, question, "Gustave Eiffel built it, in 1921.")
        again = verdict(model, passage, question, "Marta Kowalski built it, in 1887.")
    finally:
        model.close()
    assert 0.0 <= wrong < 0.5 < right <= 1.0, (right, wrong)
    assert abs(again - right) < 1e-3  # the shared prefix came from the cache: same verdict
    assert_refused_once_tampered(path, 700_000_000, JUDGE.name, tmp_path)


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
