"""A real, reproducible document set for the speed benchmarks: multi-page PDFs plus text files.

Text comes from SciFact abstracts when the data path is given (real scientific prose), else from
a seeded generator, so the benchmark also runs on a fresh clone without the data.
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = """time person year way day thing man world life hand part child eye woman place work week
case point government company number group problem fact study cell protein gene expression model
patient treatment effect risk analysis data result level rate increase decrease factor response
system function structure pathway receptor signal mouse human tissue cancer tumor blood brain heart
disease infection immune virus bacteria drug dose trial clinical outcome cohort population sample
measure method approach evidence association mechanism role activity regulation development growth
""".split()


def sample_texts(n: int, scifact: str | Path | None = None, seed: int = 7) -> list[str]:
    """`n` paragraphs of prose (~150-300 words each)."""
    if scifact is not None and (Path(scifact) / "corpus.jsonl").exists():
        from bench.metrics import read_jsonl

        docs = read_jsonl(Path(scifact) / "corpus.jsonl")
        rng = random.Random(seed)
        picked = rng.sample(docs, min(n, len(docs)))
        return [f"{d.get('title', '')}. {d.get('text', '')}".strip() for d in picked]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(10, 18)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
            sentences.append(" ".join(words).capitalize() + ".")
        out.append(" ".join(sentences))
    return out


def _makedocs():
    """tests/makedocs.py builds the real PDFs the test suite uses; reuse it, don't copy it."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "tests" / "makedocs.py"
    spec = importlib.util.spec_from_file_location("hearth_makedocs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_docset(dest: Path, *, pdfs: int = 8, pages: int = 5, texts: int = 24,
                scifact: str | Path | None = None) -> dict:
    """Write `pdfs` PDFs of `pages` pages and `texts` .txt/.md files into `dest`."""
    make_pdf = _makedocs().make_pdf
    dest.mkdir(parents=True, exist_ok=True)
    paras = sample_texts(pdfs * pages + texts, scifact)
    it = iter(paras)
    for i in range(pdfs):
        page_texts = [next(it)[:2400] for _ in range(pages)]
        make_pdf(dest / f"report-{i:02d}.pdf", page_texts, title=f"Benchmark report {i}")
    for i in range(texts):
        body = next(it)
        if i % 2:
            (dest / f"note-{i:02d}.md").write_text(f"# Note {i}\n\n{body}\n", encoding="utf-8")
        else:
            (dest / f"note-{i:02d}.txt").write_text(body + "\n", encoding="utf-8")
    return {"pdfs": pdfs, "pdf_pages": pdfs * pages, "text_files": texts}
