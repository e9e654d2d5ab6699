"""PDF text keeps word boundaries (issue 12): real PDFs whose words are apart by position only.

pypdf glues such words ("Youcantlistallfiles...") when the font's space glyph is wider than the
gap; Hearth reads PDFs with PDFium first, which places words by their glyph boxes. poppler's
`pdftotext` is the independent yardstick where it is installed (skipped otherwise).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

for _p in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1]):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import makedocs  # noqa: E402

from bench.pdfgen import positioned_pdf, sample_text  # noqa: E402
from bench.pdftext import compare, extract_pdftotext, extract_pypdf, words  # noqa: E402
from rag.loaders import load_document  # noqa: E402
from rag.loaders.pdf import pdfium_text, strip_running_lines  # noqa: E402

TEXTS = [sample_text(250, seed=i) for i in range(3)]


@pytest.mark.parametrize("style", ["tj", "tm"])
def test_words_apart_by_position_stay_apart(tmp_path, style):
    pdf = positioned_pdf(tmp_path / f"{style}.pdf", TEXTS, style)
    doc = load_document(pdf)
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for page, text in zip(doc.pages, TEXTS, strict=True):
        assert words(page.text) == words(text)  # every word, in order, none glued
    # The failure this guards against is real: pypdf on the same file glues the words.
    glued = extract_pypdf(pdf)
    assert compare(TEXTS, glued)["missing"] > 0.5


def test_pdftotext_yardstick_agrees(tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler's pdftotext is not installed (benchmark yardstick only)")
    pdf = positioned_pdf(tmp_path / "tj.pdf", TEXTS, "tj")
    ref = extract_pdftotext(pdf)
    ours = [p.text for p in load_document(pdf).pages]
    row = compare(ref, ours)
    assert row["missing"] == 0.0 and row["extra"] == 0.0 and row["long_per_1000"] == 0.0


def test_line_end_hyphens_and_controls():
    assert pdfium_text("infor\ufffemation is here") == "information is here"
    assert pdfium_text("Jean\ufffePaul\r\nnext\x02line") == "Jean-Paul\nnext line"


def test_blank_page_in_the_middle_keeps_numbers(tmp_path):
    pdf = makedocs.make_pdf(tmp_path / "gap.pdf", ["first page words", "", "third page words"])
    assert [(p.number, p.text) for p in load_document(pdf).pages] == [
        (1, "first page words"), (3, "third page words")]


def test_pdf_loading_writes_nothing_to_stderr(tmp_path):
    """A page PDFium can't read goes to pypdf, which complains about it: not on the terminal."""
    pdf = makedocs.make_pdf_with_bad_page(tmp_path / "noisy.pdf", ["one", "two"], bad_page=1)
    code = ("import sys; from pathlib import Path; from rag.loaders import load_document; "
            f"d = load_document(Path({str(pdf)!r})); print([p.number for p in d.pages])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[2]"
    assert proc.stderr == ""


def test_loader_reads_over_100_pages_per_cpu_second(tmp_path):
    pages = [f"Page {i} " + "lorem ipsum dolor sit amet " * 60 for i in range(1, 81)]
    pdf = makedocs.make_pdf(tmp_path / "eighty.pdf", pages)
    load_document(pdf)  # first call imports pypdfium2
    start = time.process_time()
    doc = load_document(pdf)
    rate = len(doc.pages) / max(time.process_time() - start, 1e-6)
    print(f"\nPDF loader: {rate:.0f} pages per CPU-second")
    assert len(doc.pages) == 80 and rate >= 100


def test_running_headers_and_page_numbers_are_stripped():
    pages = [f"Chapter 2: Pumps {n}\nBody text of page {n} about pump number {n}.\n{n}"
             for n in range(10, 14)]
    pages.append("Chapter 3: Valves 14\nA single valve page.\nxiv")
    out = strip_running_lines(pages)
    assert out[0] == "Body text of page 10 about pump number 10."
    assert out[4] == "Chapter 3: Valves 14\nA single valve page."  # seen once: kept


def test_repeated_body_lines_are_not_headers():
    line = "the same sentence of body text repeats on every page of this file"
    pages = [f"{line}\n{line}\n{line}\n{line}\n{line}" for _ in range(6)]
    assert strip_running_lines(pages) == pages


def test_headers_stripped_through_the_loader(tmp_path, monkeypatch):
    import rag.loaders.pdf as pdf_loader

    monkeypatch.setattr(pdf_loader, "STRIP_RUNNING", True)  # an option, off by default
    vocab = sample_text(400, seed=5).split()
    bodies = [" ".join(vocab[i * 40:(i + 1) * 40]) for i in range(8)]
    pages = [f"Heating Manual, chapter 1\n{b}\n{i + 1}" for i, b in enumerate(bodies)]
    doc = load_document(makedocs.make_pdf(tmp_path / "manual.pdf", pages))
    assert [p.number for p in doc.pages] == list(range(1, 9))
    assert all("Heating Manual" not in p.text for p in doc.pages)
    assert words(doc.pages[3].text) == words(bodies[3])  # body whole, page number gone
