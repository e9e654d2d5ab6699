"""The bundled embedder embeds a lone search query on one torch thread (a query split over two
threads waits for a busy core) and batches on all of them; the setting is per thread."""

from __future__ import annotations

import threading

import numpy as np


def test_a_single_query_runs_on_one_thread_and_batches_on_all(embedder):
    import torch

    embedder.embed(["load the model"])
    seen: list[int] = []
    first_layer = embedder._model[0].auto_model.embeddings
    handle = first_layer.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        before = torch.get_num_threads()
        query = embedder.embed(["How do I feed a sourdough starter?"])
        assert seen == [1] and torch.get_num_threads() == before  # restored afterwards
        seen.clear()
        batch = embedder.embed(["How do I feed a sourdough starter?", "Basalt columns"])
        assert seen == [before]
    finally:
        handle.remove()
    # Same vectors either way: the thread count changes speed, not results.
    assert np.allclose(query[0], batch[0], atol=1e-5)

    # Per thread: another thread's single query leaves this thread's count alone.
    other = threading.Thread(target=embedder.embed, args=(["a query on another thread"],))
    other.start()
    other.join()
    assert torch.get_num_threads() == before
