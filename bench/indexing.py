"""Indexing throughput: `Library.index` end to end vs the default embedder alone on the very
same chunk texts, interleaved A/B so machine noise hits both; plus PDF pages/s and re-index cost;
and (bench/embedders.py) PyTorch fp32 / ONNX fp32 / ONNX mixed / ONNX int8 side by side with
their quality.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import log


def pipeline_texts(files: list[Path], embedder) -> tuple[list[str], float, int]:
    """Exactly what the indexer embeds: loader -> chunk_pages -> embedding_text (title prefix)."""
    from rag import loaders
    from rag.ingest.chunking import ChunkingConfig, chunk_pages, embedding_text

    cfg = ChunkingConfig()
    texts: list[str] = []
    pdf_s = 0.0
    pdf_pages = 0
    for f in files:
        t0 = time.perf_counter()
        doc = loaders.load_document(f)
        if f.suffix == ".pdf":
            pdf_s += time.perf_counter() - t0
            pdf_pages += len(doc.pages)
        title, chunks = chunk_pages(doc.pages, doc.title, embedder, cfg, outline=doc.outline)
        texts.extend(embedding_text(title, c.text, c.heading) for c in chunks)
    return texts, pdf_s, pdf_pages


def raw_encode(embedder, texts: list[str]) -> float:
    """All texts in one call of the embedder's own runtime (it sorts by length and batches)."""
    t0 = time.perf_counter()
    if getattr(embedder, "variant", "torch") == "torch":
        inner = getattr(embedder, "_fallback", None) or embedder
        inner._model.encode(texts, batch_size=inner.batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
    else:
        embedder.embed(texts)
    return time.perf_counter() - t0


def hearth_index(embedder, docs: Path, work: Path, profile: bool = False) -> dict:
    """Index `docs` into a fresh library, then index again (unchanged set)."""
    from rag.library import Library

    lib_dir = Path(tempfile.mkdtemp(dir=work, prefix="lib-"))
    lib = Library.open(lib_dir, embedder=embedder, owner="hearth bench")
    try:
        prof = None
        if profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        report = lib.index([docs])
        first = time.perf_counter() - t0
        if prof is not None:
            prof.disable()
        t0 = time.perf_counter()
        again = lib.index([docs])
        second = time.perf_counter() - t0
        chunks = lib.status()["chunks"]
    finally:
        lib.close()
        shutil.rmtree(lib_dir, ignore_errors=True)
    out = {"seconds": first, "chunks": chunks, "indexed": report.count("indexed"),
           "failed": report.count("failed"), "reindex_s": second,
           "reindex_unchanged": again.count("unchanged")}
    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def bench_indexing(scifact: str | Path | None = None, rounds: int = 2, profile: bool = False,
                   pdfs: int = 8, pages: int = 5, texts: int = 24, corpus: str | None = None,
                   variants: bool = True, do_sweep: bool = False, speed: bool = True,
                   scifact_variants: tuple[str, ...] | None = None) -> dict:
    """The default embedder in `Library.index` vs alone; then, with `variants`, the four
    embedders side by side on the pdfqa-dev chunks (`corpus`, else the doc set's), their
    first index of the manuals and their retrieval quality (pdfqa-dev; SciFact with `scifact`)."""
    out = _default_vs_raw(scifact, rounds, profile, pdfs, pages, texts) if speed else {}
    if variants:
        out["variants"] = _variants(corpus, scifact, rounds, do_sweep, speed, scifact_variants)
    return out


def _variants(corpus: str | None, scifact, rounds: int, do_sweep: bool, speed: bool = True,
              scifact_variants: tuple[str, ...] | None = None) -> dict:
    from bench import embedders as E
    from bench.pdfqa import DEV, find_corpus
    from rag.ingest.indexer import expand

    root = find_corpus(corpus, DEV / "questions.jsonl") if corpus else None
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-variants-"))
    try:
        embs = E.load_variants()
        if root is not None:
            files, _ = expand([root])
        else:
            from bench.docset import make_docset

            make_docset(work / "docs", pdfs=4, pages=5, texts=12, scifact=scifact)
            files, _ = expand([work / "docs"])
        texts, _, _ = pipeline_texts(files, embs["torch"])
        sample = texts[::3] if len(texts) > 900 else texts  # every 3rd: all lengths, less wait
        out: dict = {"chunks_source": str(root or "synthetic doc set"), "chunks": len(sample)}
        if speed:
            out["speed"] = E.embed_speed({**embs, **E.thread_rows()}, sample, rounds)
        out["query_ms"] = E.query_latency(embs)
        if do_sweep:
            out["sweep"] = E.sweep(sample[::2])
        if root is not None or scifact:
            out["quality"] = E.per_variant_quality(embs, root, scifact, work, scifact_variants)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _default_vs_raw(scifact, rounds: int, profile: bool, pdfs: int, pages: int,
                    texts: int) -> dict:
    from bench.docset import make_docset
    from rag.embed.embed_onnx import make_embedder
    from rag.ingest.indexer import expand

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-index-"))
    try:
        docs = work / "docs"
        t0 = time.perf_counter()
        shape = make_docset(docs, pdfs=pdfs, pages=pages, texts=texts, scifact=scifact)
        log(f"indexing: doc set {shape} written in {time.perf_counter() - t0:.1f}s")
        embedder = make_embedder()
        t0 = time.perf_counter()
        embedder.load()
        load_s = time.perf_counter() - t0
        import chromadb  # noqa: F401  (imported once up front: both sides start warm)

        files, _ = expand([docs])
        chunk_texts, pdf_s, pdf_pages = pipeline_texts(files, embedder)
        embedder.embed(chunk_texts[:16])  # warm-up: the first call allocates
        raw_runs, hearth_runs = [], []
        for r in range(rounds):
            raw_s = raw_encode(embedder, chunk_texts)
            raw_runs.append(len(chunk_texts) / raw_s)
            h = hearth_index(embedder, docs, work, profile=profile and r == 0)
            hearth_runs.append(h)
            log(f"indexing round {r + 1}: raw encode {raw_runs[-1]:.1f} chunks/s, hearth "
                f"{h['chunks'] / h['seconds']:.1f} chunks/s, re-index {h['reindex_s']:.3f}s")
        hearth_cps = [h["chunks"] / h["seconds"] for h in hearth_runs]
        ratios = [b / a for a, b in zip(raw_runs, hearth_cps, strict=True)]
        out = {
            "docset": shape, "chunks": len(chunk_texts),
            "embedder": getattr(embedder, "variant", "torch"),
            "hearth_chunks_match": all(h["chunks"] == len(chunk_texts) for h in hearth_runs),
            "model_load_s": round(load_s, 2),
            "raw_encode_chunks_per_s": [round(x, 1) for x in raw_runs],
            "hearth_index_chunks_per_s": [round(x, 1) for x in hearth_cps],
            "ratio_per_round": [round(x, 3) for x in ratios],
            "ratio": round(statistics.median(ratios), 3), "ratio_target": 0.9,
            "pdf_pages_per_s": round(pdf_pages / pdf_s, 1) if pdf_s else None,
            "pdf_pages": pdf_pages,
            "reindex_fraction": round(statistics.median(
                h["reindex_s"] / h["seconds"] for h in hearth_runs), 4),
            "reindex_target": 0.02,
            "reindex_s": [round(h["reindex_s"], 4) for h in hearth_runs],
            "failed_files": sum(h["failed"] for h in hearth_runs),
        }
        if profile and "profile" in hearth_runs[0]:
            out["profile_top"] = hearth_runs[0]["profile"]
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)
