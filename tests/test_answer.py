"""Answering with the real bundled SmolLM2 over a real indexed library."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import build_corpus

from rag.answering.answer import (
    WEAK_EVIDENCE,
    WEAK_EVIDENCE_TEXT,
    LoopGuard,
    answer,
    answer_stream,
    cited_numbers,
    relevant,
)
from rag.base.cancel import CancelToken
from rag.base.types import Hit
from rag.library import Library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lib(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("ans")
    library = Library.open(root / "data", embedder=embedder)
    library.index([build_corpus(root / "docs")])
    yield library
    library.close()


def test_streams_tokens_and_gives_the_right_page_as_source_1(lib, chat_model):
    events = list(answer_stream(lib, chat_model, "How far away is Proxima Centauri?", k=3,
                                max_tokens=60))
    kinds = [e.kind for e in events]
    # the passages come first, before any model work; then the chunks they came from
    assert kinds[:2] == ["evidence", "sources"] and kinds[-1] == "done" and "token" in kinds
    assert "4.24 light-years" in events[0].evidence[0].quote
    final = events[-1].answer
    streamed = "".join(e.text for e in events if e.kind == "token")
    assert final.answer and streamed.strip().startswith(final.raw_answer[:20])
    top = final.sources[0]  # source n is passage n; `cited` marks what the answer cites
    assert Path(top.path).name == "astronomy.pdf" and top.page == 2
    # One numbering everywhere: [n] is the same passage of the same page in the answer, the
    # passages, the sources table and the JSON; chunks no passage came from are numbered on.
    for e in final.evidence:
        s = final.sources[e.n - 1]
        assert (s.n, s.path, s.page, s.text) == (e.n, e.path, e.page, e.quote)
    assert [s.n for s in final.sources] == list(range(1, len(final.sources) + 1))
    cited = {n for c in final.claims if c.supported for n in c.sources}
    assert {s.n for s in final.sources if s.cited} == cited
    assert final.model == chat_model.name
    # what the model read: the best passage's focus, which holds the fact asked for
    assert final.read == final.evidence[0].focus and "4.24 light-years" in final.read
    for key in ("retrieval_s", "evidence_s", "prompt_s", "first_token_s", "generation_s",
                "question_to_first_token_s", "prompt_tokens"):
        assert key in final.timings


class Untouchable:
    """Stands where a chat model would: any use fails the test, so a decline that reaches the
    model is caught (not a fake of what is tested; the model must not be touched at all)."""
    name = "unused"
    n_ctx = 2048

    def __getattr__(self, item):
        raise AssertionError(f"model.{item} must not be called")


def test_nothing_relevant_says_so_without_calling_the_model(lib):
    result = answer(lib, Untouchable(), "Who won the 1986 football world cup final?")
    assert not result.grounded and result.sources == []
    assert "couldn't find" in result.answer


def test_a_name_no_document_mentions_is_declined_before_the_model(lib):
    """The dev set's unanswerable questions name what the documents lack (Kaplan-Meier, Holm);
    the passages found are still shown, and the model is not asked to guess from them."""
    events = list(answer_stream(lib, Untouchable(),
                                "How far is Proxima Centauri from the Wolf-Rayet Nebula?", k=3))
    final = events[-1].answer
    assert events[0].kind == "evidence" and events[0].evidence  # the closest passages, shown
    assert final.declined and not final.grounded and "“Wolf-Rayet”" in final.answer
    assert final.read == ""  # the model read nothing


def test_a_question_no_passage_is_about_is_declined_before_the_model(lib):
    """Close enough to pass the retrieval gate (water, heat), but no passage is about boiling
    points: the closest passages are shown and the model is not asked to make up an answer."""
    events = list(answer_stream(lib, Untouchable(),
                                "What is the boiling point of water at high altitude?", k=3))
    final = events[-1].answer
    assert events[0].kind == "evidence" and events[0].evidence
    assert events[0].evidence[0].score < WEAK_EVIDENCE
    assert final.declined and not final.grounded and final.answer == WEAK_EVIDENCE_TEXT


def test_a_name_the_documents_do_mention_goes_to_the_model(lib, chat_model):
    result = answer(lib, chat_model, "How far away is Proxima Centauri?", k=3, max_tokens=30)
    assert not result.declined and result.raw_answer


def test_empty_library_says_so(tmp_path, embedder, chat_model):
    with Library.open(tmp_path / "empty", embedder=embedder) as empty:
        result = answer(empty, chat_model, "anything?")
    assert "library is empty" in result.answer.lower()


def test_cancel_stops_generation_promptly(lib, chat_model):
    token = CancelToken()
    n = 0
    done = []
    for event in answer_stream(lib, chat_model, "Tell me everything about volcanoes and basalt.",
                               max_tokens=400, cancel=token):
        if event.kind == "token":
            n += 1
            if n == 3:
                token.cancel()
        if event.kind == "done":
            done.append(event.answer)
    assert 3 <= n <= 6
    assert len(done) == 1 and done[0].cancelled


def test_scope_limits_sources(lib, chat_model, tmp_path):
    docs = Path(lib.documents()[0].path).parent
    result = answer(lib, chat_model, "What is bread leavened by?", paths=[docs / "bread.txt"],
                    max_tokens=30)
    assert result.sources and all(s.path.endswith("bread.txt") for s in result.sources)


def test_citation_parsing_and_loop_guard():
    assert cited_numbers("Paris [1], also [2, 3] and [1].") == [1, 2, 3]
    g = LoopGuard()
    stopped = [g.feed(p) for p in ["The answer is Paris.\n", "[1] (a.pdf)\nThe answer is ",
                                   "Paris.\n", "more"]]
    assert stopped == [False, False, True, False]
    assert g.result() == "The answer is Paris.\n[1] (a.pdf)".strip()


def test_relevance_gate():
    near = Hit("a", "/x", None, "t", 0.1, similarity=0.5)
    far = Hit("b", "/x", None, "t", 0.1, similarity=0.05, keyword_rank=1)
    kw = Hit("c", "/x", None, "t", 0.1, similarity=0.2, keyword_rank=2)
    assert relevant([near, far, kw]) == [near, kw]
