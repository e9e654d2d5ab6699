"""Batches that waste nothing (issue 28): within a flush window the indexer hands the embedder
its chunks shortest first, so a call never pads a short chunk to a long neighbour's length; and
the next file is read while a window embeds (parse-ahead)."""

from __future__ import annotations

from conftest import CountingEmbedder


class Recording(CountingEmbedder):
    def __init__(self, inner) -> None:  # noqa: ANN001
        super().__init__(inner)
        self.batches: list[list[str]] = []

    def embed(self, texts: list[str]):  # noqa: ANN201
        self.batches.append(list(texts))
        return super().embed(texts)


def test_a_window_is_embedded_shortest_first(tmp_path, embedder):
    from rag.ingest.indexer import CANCEL_BATCH
    from rag.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    words = ["sourdough", "basalt", "violin", "glacier", "saffron", "tungsten", "origami", "pelican"]
    for i in range(8):  # short and long paragraphs, interleaved within and across files
        paras = [f"A short note about {words[i]}, item {j}." if j % 2 else
                 " ".join(f"Long paragraph {i}.{j} word{k} of the manual." for k in range(25))
                 for j in range(8)]
        (docs / f"doc{i}.md").write_text(f"# Doc {i}\n\n" + "\n\n".join(paras) + "\n")
    rec = Recording(embedder)
    with Library.open(tmp_path / "lib", embedder=rec) as lib:
        report = lib.index([docs])
        assert report.count("indexed") == 8
        lengths = [len(t) for batch in rec.batches for t in batch]
        assert len(lengths) == lib.status()["chunks"] > CANCEL_BATCH
        assert lengths == sorted(lengths)  # one window (< EMBED_BATCH chunks): sorted throughout
        assert all(len(b) <= CANCEL_BATCH for b in rec.batches)
        # each vector went back to its own chunk: a dense search finds each topic's document
        for i, word in enumerate(words):
            assert lib.search(word, k=1, mode="dense")[0].path.endswith(f"doc{i}.md"), word


class Slow(CountingEmbedder):
    """The real tokenizer, stand-in vectors, and time per call: embedding a window takes long
    enough that reading the next file, if it waited for it, would visibly come after."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        super().__init__(inner)
        self.ends: list[tuple[float, str]] = []  # (time, first text) per call

    def embed(self, texts: list[str]):  # noqa: ANN201
        import time

        import numpy as np

        self.calls += 1
        time.sleep(0.1)
        rng = np.random.default_rng(len(texts))
        out = rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        self.ends.append((time.monotonic(), texts[0]))
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_the_next_file_is_read_while_a_window_embeds(tmp_path, embedder):
    """Parse-ahead (issue 28): the second file is read before the first one's window is done,
    and both still end up indexed, in one writer, with progress that only moves forward."""
    import dataclasses
    import time

    from rag.ingest.indexer import EMBED_BATCH
    from rag.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("alpha", "beta"):  # each file fills a window of its own (> EMBED_BATCH chunks)
        paras = [" ".join(f"{name} section {j} sentence {k} about the manual." for k in range(18))
                 for j in range(EMBED_BATCH + 20)]
        (docs / f"{name}.md").write_text(f"# {name}\n\n" + "\n\n".join(paras) + "\n")
    slow = Slow(embedder)
    first_read: dict[str, float] = {}
    seen = []

    def progress(p) -> None:  # noqa: ANN001
        seen.append(dataclasses.replace(p))
        if p.stage == "reading" and p.current:
            first_read.setdefault(p.current.rsplit("/", 1)[-1], time.monotonic())

    with Library.open(tmp_path / "lib", embedder=slow) as lib:
        report = lib.index([docs], progress=progress)
        assert report.count("indexed") == 2 and lib.unfinished() == []
        alpha_done = max(t for t, text in slow.ends if text.startswith("alpha"))
        assert first_read["beta.md"] < alpha_done  # read while alpha's window was embedding
        assert lib.search("beta section 7", k=1, mode="keyword")[0].path.endswith("beta.md")
    fractions = [p.fraction for p in seen]
    chunks = [p.chunks_done for p in seen]
    assert fractions == sorted(fractions) and chunks == sorted(chunks)
    assert seen[-1].chunks_done == seen[-1].chunks_total > 2 * EMBED_BATCH
