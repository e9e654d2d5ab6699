"""Shared fixtures: offline env before any heavy import, one real embedder per session."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from rag.privacy import set_offline_env  # noqa: E402

set_offline_env()

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole run."""
    from rag.embeddings import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    e.load()
    return e


class CountingEmbedder:
    """Delegates to a real embedder and counts calls/texts (proves what was re-embedded)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.calls = 0
        self.texts = 0

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def token_offsets(self, text):
        return self.inner.token_offsets(text)

    def load(self):
        self.inner.load()

    def embed(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)


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
