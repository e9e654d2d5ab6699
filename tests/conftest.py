"""Shared fixtures: offline env before any heavy import, one real embedder per session."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from rag.offline.privacy import set_offline_env  # noqa: E402

set_offline_env()
# One ONNX embedder build (rag/embed/onnx_build.py) for every test and the CLI children they start,
# instead of one per fresh data dir; tests of the build itself export into their own folder.
os.environ.setdefault("HEARTH_EMBEDDER_DIR", os.path.join(
    __import__("tempfile").gettempdir(), "hearth-test-embedder", "minilm-onnx"))
# The suite answers with the fast bundled SmolLM2-135M; the 0.5B answering model (the product's
# default) has its own smoke tests (test_answer_model.py) and is measured by `bench answers`.
os.environ.setdefault("HEARTH_DEFAULT_MODEL", "bundled")

import time  # noqa: E402

import pytest  # noqa: E402

from bench.common import CountingEmbedder  # noqa: E402,F401  (re-exported for tests)


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole run."""
    from rag.embed.embeddings import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.load()
    return e


@pytest.fixture
def counting_embedder(embedder):
    return CountingEmbedder(embedder)


@pytest.fixture(scope="session")
def chat_model():
    """The real bundled SmolLM2-135M, loaded once."""
    from inference.models import load_model

    model = load_model(None, n_ctx=2048)
    yield model
    model.close()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.02):
    """Poll until `predicate()` is truthy (tests use timeouts, never bare sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")
