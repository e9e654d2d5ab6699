from rag.retrieve.fusion import rrf
from rag.store.keyword import fts_query, query_terms


def test_rrf_rewards_agreement():
    fused = rrf([["a", "b", "c"], ["c", "a", "d"]])
    order = [i for i, _ in fused]
    assert order[0] == "a"  # ranks 1 and 2
    assert set(order) == {"a", "b", "c", "d"}
    assert dict(fused)["a"] == 1 / 61 + 1 / 62


def test_rrf_weights_shift_the_order():
    lists = [["x", "y"], ["y", "x"]]
    assert rrf(lists, [2.0, 1.0])[0][0] == "x"
    assert rrf(lists, [1.0, 2.0])[0][0] == "y"


def test_rrf_rejects_mismatched_weights():
    import pytest

    with pytest.raises(ValueError):
        rrf([["a"]], [1.0, 2.0])


def test_query_terms_drop_stopwords_and_duplicates():
    assert query_terms("What is the effect of the vitamin D on the bones? Vitamin!") == [
        "effect", "vitamin", "bones"]


def test_fts_query_quotes_terms_safely():
    q = fts_query('say "hello" OR NEAR(x) AND-not')
    assert q == '"say" OR "hello" OR "near"'  # FTS5 operators become plain quoted terms
    assert fts_query("the of and") == ""
