import random

from rag.base.types import Page
from rag.ingest.chunking import ChunkingConfig, chunk_pages, embedding_text

WORDS = ("the quick brown fox jumps over lazy dogs. Photosynthesis converts light energy into "
         "chemical energy! Internationalization matters; Pneumonoultramicroscopic really.").split()


def text_of(n_words, seed=0):
    rnd = random.Random(seed)
    return " ".join(rnd.choice(WORDS) for _ in range(n_words))


def test_every_chunk_fits_the_encoder_with_its_title(embedder):
    title = "A rather long title about foxes and photosynthesis " * 3
    t, chunks = chunk_pages([Page(1, text_of(3000)), Page(2, text_of(500, 1))], title, embedder)
    assert len(chunks) > 10
    for c in chunks:
        assert embedder.count_tokens(embedding_text(t, c.text)) <= embedder.max_tokens


def test_spans_point_back_into_the_page_text(embedder):
    pages = [Page(3, text_of(900)), Page(4, "A short final page about dogs.")]
    _, chunks = chunk_pages(pages, "T", embedder)
    by_page = {p.number: p.text for p in pages}
    for c in chunks:
        assert by_page[c.page][c.start:c.end] == c.text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].page == 4


def test_windows_overlap_and_cover_everything(embedder):
    text = text_of(2000, 7)
    _, chunks = chunk_pages([Page(None, text)], "", embedder,
                            ChunkingConfig(chunk_tokens=120, overlap_tokens=30))
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start


def test_prefers_sentence_ends(embedder):
    sentences = [f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(200)]
    _, chunks = chunk_pages([Page(1, " ".join(sentences))], "", embedder)
    ends = sum(c.text.endswith(".") for c in chunks[:-1])
    assert ends >= len(chunks[:-1]) * 0.8


def test_small_page_is_one_chunk_and_empty_pages_none(embedder):
    _, chunks = chunk_pages([Page(1, "Just one line of text here."), Page(2, "   ")], "T", embedder)
    assert len(chunks) == 1 and chunks[0].text == "Just one line of text here."
