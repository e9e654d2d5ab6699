"""Batches that waste nothing (issue 28): within a flush window the indexer hands the embedder
its chunks shortest first, so a call never pads a short chunk to a long neighbour's length."""

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
