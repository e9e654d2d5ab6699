"""Hybrid retrieval: dense top-k from the store fused with FTS5 BM25 over the same chunks."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rag.base.types import Hit
from rag.retrieve.context import demote_lists, feedback, one_per_page, with_context
from rag.retrieve.fusion import convex, rrf
from rag.store.keyword import drop_common, fts_query, query_terms
from rag.store.manifest import Manifest


@dataclass(frozen=True)
class RetrievalConfig:
    """Defaults chosen on SciFact *train* claims (bench/tune.py), then checked on the test split
    (docs/benchmarks.md): convex fusion of scores scaled from a fixed floor of 0 ("theoretical"
    min-max), plus document evidence; 300 candidates from each side. Issue #29 (chosen on the
    pdfqa-more tune manuals and pdfqa-dev, checked on SciFact train): dense scores with their
    neighbours' context, dense 0.65 / keyword 0.35 (was 0.55 / 0.45), one result per page,
    code-like tokens as BM25 phrases. SciFact train 0.8935 -> 0.8931, but test 0.7464 -> 0.7390:
    SciFact prefers 0.55 / 0.45 (docs/benchmarks.md, "Retrieval that generalises"). Session
    12: contents and index pages scored x 0.5 (they answer nothing; SciFact unchanged).
    """

    dense_candidates: int = 300
    keyword_candidates: int = 300
    dense_weight: float = 0.65
    keyword_weight: float = 0.35
    rrf_k: int = 60
    mode: str = "hybrid"  # hybrid | dense | keyword
    fusion: str = "convex"  # convex (normalised scores) | rrf (ranks only)
    normalise: str = "theoretical"  # theoretical (0 -> 0, depth-free) | minmax (lowest seen -> 0)
    doc_weight: float = 1.0  # weight of a chunk's document-level evidence (convex fusion)
    second_chunk_weight: float = 0.0  # 2nd-best chunk: train +0.002 (noise), test -0.003: off
    evidence_window: int = 0  # >0: evidence from chunks within this many positions, not the doc
    # Real cosine for the top 10 keyword candidates the dense search missed (else they count 0
    # there and an exact rare word can't win): SciFact test 0.7432 -> 0.7464, pdfqa-dev hit@k
    # unchanged (MRR 0.848 -> 0.845), and "zqcanary011x" in 1,000 chunks comes first.
    rescore_keyword: int = 10
    # BM25 query: code-like tokens (`col.names`, `UNROUTABLE_IPS`) also as phrases. Off until
    # issue #29: on with the context and page changes (pdfqa-more tune hit@3 0.845 -> 0.857,
    # pdfqa-dev and SciFact train unchanged).
    code_phrases: bool = True
    drop_chatter: bool = False  # BM25 query: leave out words of asking ("want", "tried")
    # Dense score of the first `context_candidates` hits mixed with the cosine of the mean of
    # the chunk and its neighbours (rag.retrieve.context.with_context); 0 turns it off.
    context_weight: float = 0.5
    context_candidates: int = 50
    one_per_page: bool = True  # a page's best chunk only (rag.retrieve.context.one_per_page)
    # Contents and index pages among the first `list_depth` candidates score x `list_factor`
    # (rag.retrieve.context.demote_lists); 1 turns it off.
    list_factor: float = 0.5
    list_depth: int = 30
    # Dense pseudo-relevance feedback: search again with the query vector moved towards the
    # mean of the first `feedback_chunks` dense hits (rag.retrieve.context.feedback); 0 = off.
    # Off: at 0.5 the tuning sets gained (pdfqa-more tune MRR 0.798 -> 0.815, pdfqa-dev 0.879 ->
    # 0.894, SciFact train 0.8929 -> 0.8953) but SciFact test lost 0.0096 (docs/benchmarks.md).
    feedback_weight: float = 0.0
    feedback_chunks: int = 3


def doc_key(chunk_id: str) -> str:
    """Chunk ids are `<doc_id>:<sha>:<ordinal>` (rag.ingest.indexer), so the document is the prefix."""
    return chunk_id.split(":", 1)[0]


def chunk_ordinal(chunk_id: str) -> int:
    """The chunk's position in its document (the id's last part; 0 if it has none)."""
    tail = chunk_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class Retriever:
    COMMON_TERM_FRACTION = 0.2
    PRUNE_FROM_CHUNKS = 5000  # below this, FTS5 is fast enough to score every term

    def __init__(self, manifest: Manifest, store, embedder, config: RetrievalConfig | None = None):
        self.manifest = manifest
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()

    def _keyword(self, query: str, n: int, doc_ids: list[int] | None) -> list[tuple[str, float]]:
        cfg = self.config
        terms = query_terms(query, chatter=cfg.drop_chatter, phrases=cfg.code_phrases)
        total = self.manifest.chunk_count() if terms else 0
        if total >= self.PRUNE_FROM_CHUNKS:
            counts = self.manifest.term_doc_counts(terms)
            terms = drop_common(terms, counts, total, self.COMMON_TERM_FRACTION)
        return self.manifest.keyword_search(fts_query(query, terms), n, doc_ids)

    def _rescore(self, keyword: list[tuple[str, float]], dense_sim: dict[str, float], vec,
                 n: int) -> list[tuple[str, float]]:
        """The real cosine of the best `n` keyword candidates the dense search did not return.

        Why: without it such a chunk counts 0 on the dense side, so an exact match on a rare
        word ("zqcanary011x") loses to chunks that merely look alike to the embedder.
        """
        missing = [cid for cid, _ in keyword[:n] if cid not in dense_sim]
        found = self.store.vectors(missing) if missing else {}
        out = [(cid, float(v @ vec)) for cid, v in found.items()]
        dense_sim.update(out)
        return out

    def search(self, query: str, k: int = 5, doc_ids: list[int] | None = None,
               mode: str | None = None, one_page_once: bool | None = None) -> list[Hit]:
        """The k best chunks; `one_page_once` (default: the config's `one_per_page`) keeps only
        a page's best chunk: right for a list of sources, not for evidence (see answering)."""
        cfg = self.config
        per_page = cfg.one_per_page if one_page_once is None else one_page_once
        mode = mode or cfg.mode
        query = query.strip()
        if not query:
            return []
        pool = max(k, cfg.dense_candidates)
        vec = None
        dense: list[tuple[str, float]] = []
        keyword: list[tuple[str, float]] = []
        kw_thread = None
        if mode in ("hybrid", "keyword"):
            def run_keyword() -> None:
                keyword.extend(self._keyword(query, max(k, cfg.keyword_candidates), doc_ids))

            if mode == "hybrid":  # SQLite and torch both release the GIL: overlap them
                kw_thread = threading.Thread(target=run_keyword, daemon=True)
                kw_thread.start()
            else:
                run_keyword()
        asked = None  # the question's own vector: Hit.similarity is always to it
        if mode in ("hybrid", "dense"):
            vec = asked = self.embedder.embed([query])[0]
            dense = self.store.query(vec, pool, doc_ids)
            if cfg.feedback_weight > 0 and dense:
                vec = feedback(vec, [cid for cid, _ in dense[:cfg.feedback_chunks]],
                               self.store.vectors, cfg.feedback_weight)
                dense = self.store.query(vec, pool, doc_ids)
        if kw_thread is not None:
            kw_thread.join()
        dense_rank = {cid: i for i, (cid, _) in enumerate(dense, 1)}
        dense_sim = {cid: 1.0 - dist for cid, dist in dense}
        dense_scored = [(cid, 1.0 - dist) for cid, dist in dense]
        # The moved vector finds and scores the candidates; their context and the keyword
        # side's missing cosines are still judged against the question itself (pdfqa-more
        # tune MRR 0.815 at weight 0.3, against 0.808 when the moved vector judges them too).
        if cfg.context_weight > 0 and asked is not None and self.store is not None:
            dense_scored = with_context(dense_scored, asked, self.store.vectors,
                                        cfg.context_weight, cfg.context_candidates)
        if mode == "hybrid" and cfg.rescore_keyword and asked is not None:
            dense_scored += self._rescore(keyword, dense_sim, asked, cfg.rescore_keyword)
        kw_rank = {cid: i for i, (cid, _) in enumerate(keyword, 1)}
        if mode == "dense":
            fused = dense_scored
        elif mode == "keyword":
            fused = list(keyword)
        else:
            if cfg.fusion == "rrf":
                fused = rrf([[c for c, _ in dense], [c for c, _ in keyword]],
                            [cfg.dense_weight, cfg.keyword_weight], k=cfg.rrf_k)
            else:
                fused = convex([dense_scored, keyword],
                               [cfg.dense_weight, cfg.keyword_weight], group_of=doc_key,
                               group_weight=cfg.doc_weight,
                               second_weight=cfg.second_chunk_weight,
                               floors=(0.0, 0.0) if cfg.normalise == "theoretical" else None,
                               window=cfg.evidence_window, ordinal_of=chunk_ordinal)
        if cfg.list_factor < 1.0:
            fused = demote_lists(fused, self.manifest.fetch_chunks, cfg.list_factor,
                                 max(cfg.list_depth, 2 * k))
        if per_page:
            picked = one_per_page(fused, k, self.manifest.fetch_chunks,
                                  lambda row: None if row.page is None else (row.doc_id, row.page))
        else:
            rows = self.manifest.fetch_chunks(cid for cid, _ in fused[:k])
            picked = [(cid, score, rows[cid]) for cid, score in fused[:k] if cid in rows]
        if asked is not vec:  # scores came from the moved vector: similarity is to the question
            dense_sim = {}
        missing = [cid for cid, _, _ in picked if cid not in dense_sim]
        if missing and asked is not None:  # keyword-only hits still get a real similarity
            for cid, v in self.store.vectors(missing).items():
                dense_sim[cid] = float(v @ asked)
        return [Hit(chunk_id=cid, path=row.path, page=row.page, text=row.text,
                    score=float(score), dense_rank=dense_rank.get(cid),
                    keyword_rank=kw_rank.get(cid), doc_id=row.doc_id,
                    start=row.start, end=row.end, similarity=dense_sim.get(cid))
                for cid, score, row in picked]
