"""Turn a natural-language question into an FTS5 query for BM25 ranking."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# A short English stop list: these words match almost every chunk and only dilute BM25.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you
your yours yourself yourselves also may might must shall yet within without upon via per whether
""".split())


# Words of the asking, not of the answer ("I tried ... what should I use instead?"): in a
# question they say nothing about which passage answers it.
CHATTER = frozenset("""
want wants wanted need needs needed way ways get gets getting got make makes making use uses
using used instead tried try trying something anything everything someone thing things able
possible happen happens happening going see seem seems say says tell know like just really
already still even much many well keep put done doing anyway else every ever
""".split())

# A token that looks like code: a command (\thispagestyle), an option (--no-same-owner,
# -march=native), a here-doc (<<EOD), a dotted, scoped or snake name (col.names, tools::foo,
# R_HOME), a call (set.seed()).
_RAW = re.compile(r"\S+")
_CODE_MARK = re.compile(r"^(?:\\|--?|<<)[^\W_]|[^\W_](?:\.|::|->|_|\$|@|=)[^\W_]")
_EDGE = "\"'`‘’“”()[]{},;:!?."
_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # how FTS5's unicode61 splits text


def code_phrases(question: str) -> list[str]:
    """Code-like tokens of the question as FTS5 phrases of their parts ("col names" for
    `col.names`): the index splits them into words, and a phrase finds the words in order."""
    out: list[str] = []
    for m in _RAW.finditer(question):
        token = m.group(0).strip(_EDGE) if not m.group(0).startswith(("\\", "-", "<<")) \
            else m.group(0).rstrip(_EDGE)
        if not _CODE_MARK.search(token):
            continue
        parts = [p.lower() for p in _FTS_TOKEN.findall(token)]
        if len(parts) >= 2:
            phrase = " ".join(parts)
            if phrase not in out:
                out.append(phrase)
    return out


def query_terms(question: str, max_terms: int = 48, *, chatter: bool = False,
                phrases: bool = False) -> list[str]:
    """The question's words for BM25 (stop words out); `chatter` also leaves out the words of
    asking (CHATTER), `phrases` adds code-like tokens as phrases (`code_phrases`)."""
    terms: list[str] = []
    seen: set[str] = set()
    for m in _WORD.finditer(question.lower()):
        word = m.group(0).replace("’", "'")
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        if chatter and word in CHATTER:
            continue
        if word not in seen:
            seen.add(word)
            terms.append(word)
    if phrases:
        terms = code_phrases(question) + terms
    return terms[:max_terms]


def fts_query(question: str, terms: list[str] | None = None) -> str:
    """OR of quoted terms: every term may contribute, BM25 does the weighting."""
    terms = query_terms(question) if terms is None else terms
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def bm25_sql(n_doc_ids: int | None = None) -> str:
    """FTS5 BM25 over `chunks_fts`, best first; parameters: the MATCH, [doc ids], k.

    Why this shape: FTS5 ranks inside its own table and only the best `k` rows are joined to
    `chunks`; joining every matching row first cost a third of the keyword time at 1M chunks.
    A `doc_ids` filter needs the join for every row, so it keeps the plain shape.
    """
    score = "bm25(chunks_fts, 1.0, 0.5)"
    if n_doc_ids is None:
        return (f"SELECT c.chunk_id, t.s FROM (SELECT rowid, {score} AS s FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?) t "
                "JOIN chunks c ON c.rowid = t.rowid ORDER BY t.s")
    return (f"SELECT c.chunk_id, {score} AS s FROM chunks_fts "
            "JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? "
            f"AND c.doc_id IN ({','.join('?' * n_doc_ids)}) ORDER BY s LIMIT ?")


def drop_common(terms: list[str], doc_counts: dict[str, int], total: int,
                max_fraction: float = 0.2, keep_at_least: int = 2,
                max_postings: int = 50_000) -> list[str]:
    """Leave out terms found in more than `max_fraction` of chunks, then the commonest terms
    while the kept ones are found in more than `max_postings` chunks together.

    Why: such a term adds little to BM25 (low IDF) but makes FTS5 score every chunk it is in;
    the fraction rule kept search fast at 100k chunks, the postings budget does at 1M. Measured
    there (`python -m bench scale`, quiet): hybrid p95 126 ms with a 100k budget, 85 ms with 50k;
    the hybrid top 10 is 97.9% / 92.6% the same as with every term kept (no budget: keyword p95
    about 300 ms). The budget does not bind in a small library: SciFact's 12,923 chunks keep
    the same terms for every claim at 50k.
    If every term is common, the rarest `keep_at_least` stay.
    """
    if total <= 0:
        return terms
    rarest_first = sorted(terms, key=lambda t: doc_counts.get(t, 0))
    keep = set(rarest_first[:keep_at_least])
    postings = sum(doc_counts.get(t, 0) for t in keep)
    for t in rarest_first[keep_at_least:]:
        n = doc_counts.get(t, 0)
        if n > max_fraction * total or postings + n > max_postings:
            break
        keep.add(t)
        postings += n
    kept = [t for t in terms if t in keep and doc_counts.get(t, 0) <= max_fraction * total]
    if len(kept) < min(keep_at_least, len(terms)):
        kept = [t for t in terms if t in keep]
    return kept
