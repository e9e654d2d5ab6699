"""PDF text quality and speed: Hearth's extractor (PDFium) and pypdf against poppler's pdftotext.

Why a yardstick: merged words ("hiddenand", "Youcantlistallfiles...") defeat both BM25 and the
answer, and they are invisible without an independent reading of the same page. `pdftotext` is
only a yardstick here (not a dependency): without it the comparison is skipped and only the
long-token count and the speed are reported.

Measures per extractor, over all pages (all texts pass through the same `clean_text`):
- missing: share of pdftotext's words (lower-cased letter/digit runs, as a multiset) that the
  extractor does not produce; merged words show up here.
- extra: share of the extractor's words that pdftotext does not produce.
- long_per_1000: alphabetic tokens longer than 25 letters per 1,000 words (merged words).
- pages/s: wall and CPU time of the extraction alone (CPU is the fairer figure on a shared machine).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def compare(reference: list[str], got: list[str]) -> dict:
    """Word-level agreement of two page lists (page i with page i)."""
    missing = extra = ref_total = got_total = long_tokens = 0
    for ref, text in zip(reference, got, strict=True):
        a, b = collections.Counter(words(ref)), collections.Counter(words(text))
        missing += sum((a - b).values())
        extra += sum((b - a).values())
        ref_total += sum(a.values())
        got_total += sum(b.values())
        long_tokens += sum(n for w, n in b.items() if len(w) > 25 and w.isalpha())
    return {"words": got_total, "reference_words": ref_total,
            "missing": round(missing / max(ref_total, 1), 4),
            "extra": round(extra / max(got_total, 1), 4),
            "long_per_1000": round(1000 * long_tokens / max(got_total, 1), 2)}


def long_rate(pages: list[str]) -> float:
    toks = [w for p in pages for w in words(p)]
    return round(1000 * sum(1 for w in toks if len(w) > 25 and w.isalpha()) / max(len(toks), 1), 2)


def extract_pdfium(path: Path) -> list[str]:
    from rag.loaders.base import clean_text
    from rag.loaders.pdf import _pdfium_pages

    return [clean_text(t or "") for t in _pdfium_pages(path)[1]]


def extract_pypdf(path: Path) -> list[str]:
    from rag.loaders.pdf import _open_pypdf, _pypdf_page

    reader = _open_pypdf(path)
    return [_pypdf_page(reader, n)[0] for n in range(1, len(reader.pages) + 1)]


def extract_pdftotext(path: Path) -> list[str] | None:
    from rag.loaders.base import clean_text

    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    out = subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], capture_output=True,
                         text=True, timeout=300).stdout
    pages = out.split("\f")
    return [clean_text(p) for p in (pages[:-1] if pages and not pages[-1].strip() else pages)]


EXTRACTORS = {"hearth (pdfium)": extract_pdfium, "pypdf": extract_pypdf}


def measure_file(path: Path) -> dict:
    ref = extract_pdftotext(path)
    out: dict = {"pages": None}
    for name, fn in EXTRACTORS.items():
        w0, c0 = time.perf_counter(), time.process_time()
        pages = fn(path)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        out["pages"] = len(pages)
        row = {"pages_per_s_wall": round(len(pages) / wall, 1),
               "pages_per_s_cpu": round(len(pages) / max(cpu, 1e-9), 1)}
        if ref is not None and len(ref) == len(pages):
            row.update(compare(ref, pages))
        else:
            row["long_per_1000"] = long_rate(pages)
        out[name] = row
    return out


def generated_set(folder: Path, n_pages: int = 20) -> list[Path]:
    """Two PDFs whose words are apart by position only (TJ offsets; one text matrix per word)."""
    from bench.pdfgen import positioned_pdf, sample_text

    texts = [sample_text(280, seed=i) for i in range(n_pages)]
    return [positioned_pdf(folder / f"generated-{style}.pdf", texts, style)
            for style in ("tj", "tm")]


def bench_pdftext(corpus: Path | None) -> dict:
    out: dict = {"yardstick": "pdftotext" if shutil.which("pdftotext") else None, "files": {}}
    files = sorted(corpus.glob("*.pdf")) if corpus and corpus.is_dir() else []
    with tempfile.TemporaryDirectory() as tmp:
        files += generated_set(Path(tmp))
        for path in files:
            out["files"][path.name] = measure_file(path)
    real = {k: v for k, v in out["files"].items() if not k.startswith("generated-")}
    if real:
        pages = sum(v["pages"] for v in real.values())
        for name in EXTRACTORS:
            cpu = sum(v["pages"] / v[name]["pages_per_s_cpu"] for v in real.values())
            wall = sum(v["pages"] / v[name]["pages_per_s_wall"] for v in real.values())
            out.setdefault("corpus_pages_per_s", {})[name] = {
                "cpu": round(pages / cpu, 1), "wall": round(pages / wall, 1), "pages": pages}
    return out
