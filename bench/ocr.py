"""OCR speed and accuracy on generated scanned pages: `python -m bench.ocr [--pages N]`.

Why generated: the truth is known exactly. Each page is real text set in a PDF (fpdf2,
Helvetica 11 pt), rendered by pypdfium2 to a 300-dpi greyscale image, and that image alone is
wrapped in a new PDF (no text layer), as a scanner would produce. Hearth's PDF loader then OCRs
it; accuracy = characters of the true text found in order in the OCR text (difflib alignment,
whitespace collapsed), pages/s = OCR'd pages per second of loader time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from difflib import SequenceMatcher
from pathlib import Path

WORDS = ("harbour lighthouse engineer keeper lamp whale oil electrified storm coast ship "
         "signal tower granite stairs lens rotation beam nautical mile fog horn island supply "
         "boat winter summer record logbook weather pressure barometer wind north south east "
         "west tide chart captain crew rescue rope anchor cargo salt fish market village church "
         "bridge river valley mountain forest meadow farmer bread cheese butter milk apple").split()


def page_text(rng: random.Random, sentences: int = 14) -> str:
    """Plain English-like sentences with numbers and capitals (what manuals and letters hold)."""
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
        words[0] = words[0].capitalize()
        if rng.random() < 0.5:
            words.insert(rng.randint(1, len(words) - 1), str(rng.randint(2, 2999)))
        if rng.random() < 0.3:
            i = rng.randint(1, len(words) - 1)
            words[i] = words[i].capitalize()
        out.append(" ".join(words) + rng.choice(".."))
    return " ".join(out)


def make_scanned_pdf(path: Path, texts: list[str], dpi: int = 300) -> list[str]:
    """Write an image-only PDF of `texts` (one page each); return each page's true text."""
    import sys

    import pypdfium2 as pdfium

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from makedocs import make_pdf

    src = make_pdf(path.with_suffix(".src.pdf"), texts)
    doc = pdfium.PdfDocument(str(src))
    images, truths = [], []
    for page in doc:
        tp = page.get_textpage()
        truths.append(tp.get_text_range())
        images.append(page.render(scale=dpi / 72, grayscale=True).to_pil())
        tp.close()
        page.close()
    doc.close()
    images[0].save(path, save_all=True, append_images=images[1:], resolution=dpi)
    return truths


def char_accuracy(truth: str, got: str) -> float:
    """Share of the true characters that the OCR text has, in order (whitespace collapsed)."""
    t, g = " ".join(truth.split()), " ".join(got.split())
    if not t:
        return 1.0
    matched = sum(b.size for b in SequenceMatcher(None, t, g, autojunk=False).get_matching_blocks())
    return matched / len(t)


def bench_ocr(pages: int = 2, seed: int = 13) -> dict:
    from rag.loaders import load_document, ocr

    reason = ocr.unavailable_reason()
    if reason:
        return {"skipped": reason}
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "scan.pdf"
        truths = make_scanned_pdf(pdf, [page_text(rng) for _ in range(pages)])
        ocr.engine()  # model load, reported apart
        t0, c0 = time.perf_counter(), time.process_time()
        doc = load_document(pdf)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    got = {p.number: ocr.strip_mark(p.text) for p in doc.pages}
    per_page = [round(char_accuracy(t, got.get(i, "")), 4) for i, t in enumerate(truths, 1)]
    chars = sum(len(" ".join(t.split())) for t in truths)
    return {
        "pages": pages,
        "dpi": 300,
        "chars": chars,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 3),
        "cpu_s_per_page": round(cpu / pages, 2),  # all threads; the wall time depends on load
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "char_accuracy": round(sum(a * len(" ".join(t.split())) for a, t in zip(per_page, truths,
                                                                          strict=True)) / chars, 4),
        "per_page_accuracy": per_page,
        "all_pages_marked": all(ocr.is_ocr_text(p.text) for p in doc.pages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(bench_ocr(args.pages), indent=2))


if __name__ == "__main__":
    main()
