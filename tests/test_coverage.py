"""Names a question asks about (rag.answering.coverage) and the copy bias of a grounded answer, on the real
bundled SmolLM2 and a real manifest."""

from __future__ import annotations

from rag.answering.coverage import absent_names, name_terms
from rag.store.manifest import Manifest


def test_names_skip_sentence_openers_and_keep_acronyms():
    q = "How do I plot Kaplan-Meier curves? Then, does R's GCC build use OpenBLAS with PCA?"
    assert name_terms(q) == ["Kaplan-Meier", "GCC", "OpenBLAS", "PCA"]
    assert name_terms("Why is it slow? I'm using it on a Mac.") == ["Mac"]


def test_absent_names_are_checked_against_the_keyword_index(tmp_path):
    m = Manifest(tmp_path / "library.sqlite3")
    doc = m.upsert(str(tmp_path / "a.txt"), status="indexing")
    m.replace_chunks(doc, "a", [("c1", 0, 1, 0, 48, "Survival curves with the Kaplan-Meier "
                                                    "estimator.")])
    q = "Can I draw Kaplan-Meier curves and run a Cox model, or use Holm's method?"
    assert absent_names(q, m.term_doc_counts) == ["Cox", "Holm"]


def test_the_copy_bias_covers_the_passage_and_the_end_token(chat_model):
    passage = "Command lines are limited to about 4095 bytes."
    bias = chat_model._copy_bias(passage)
    assert chat_model._llm.token_eos() in bias
    ids = chat_model._llm.tokenize(b" 4095 bytes", add_bos=False)
    assert all(i in bias for i in ids)
    text = "".join(chat_model.stream(
        [{"role": "user", "content": f"{passage}\nHow long can a command line be?"}],
        max_tokens=24, temperature=0.0, prefer=passage))
    assert text.strip()
