"""Per-chunk reuse: how many chunks an edit of one page of a long PDF embeds again.

    python -m bench.reuse [--pages 300] [--words 300] [--page 150]

Builds a PDF of `--pages` pages (bench/pdfgen.py, `--words` words a page), indexes it with the
real embedder (counted), changes one sentence on page `--page`, indexes again, then moves the
file to a subfolder (same name, found by the next index run) and renames it through
Library.rename (as the watcher does). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def run(pages: int, words: int, page: int) -> dict:
    from bench.common import CountingEmbedder
    from bench.pdfgen import positioned_pdf, sample_text
    from rag.embed.embeddings import SentenceTransformerEmbedder
    from rag.library import Library

    texts = [f"Page {n}. " + sample_text(words, seed=n) for n in range(1, pages + 1)]
    counting = CountingEmbedder(SentenceTransformerEmbedder())
    out: dict = {"pages": pages, "words_per_page": words, "edited_page": page}
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        pdf = positioned_pdf(docs / "manual.pdf", texts)
        with Library.open(Path(tmp) / "data", embedder=counting, owner="bench reuse") as lib:
            t0 = time.perf_counter()
            lib.index([docs])
            out["chunks"] = lib.status()["chunks"]
            out["first_index_s"] = round(time.perf_counter() - t0, 2)
            texts[page - 1] = texts[page - 1].replace(f"Page {page}.", f"Page {page}, corrected.")
            positioned_pdf(pdf, texts)
            before, t0 = counting.texts, time.perf_counter()
            lib.index([docs])
            out["edit_embedded"] = counting.texts - before
            out["edit_s"] = round(time.perf_counter() - t0, 2)
            out["edit_share"] = round(out["edit_embedded"] / out["chunks"], 4)
            (docs / "sub").mkdir()
            os.rename(pdf, docs / "sub" / "manual.pdf")
            before = counting.texts
            lib.index([docs])
            out["move_embedded"] = counting.texts - before
            before = counting.texts
            lib.rename(docs / "sub", docs / "renamed")
            out["rename_embedded"] = counting.texts - before
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reuse", description=__doc__)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--page", type=int, default=150)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.pages, args.words, args.page)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
