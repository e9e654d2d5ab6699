"""OCR of scanned PDF pages and images (rapidocr-onnxruntime, models from its wheel).

Real parts: text set in a real PDF, rendered by pypdfium2 to a 300-dpi image, wrapped in an
image-only PDF (a scan) or saved as PNG; the real OCR engine; the real Library for search.
Pages are kept small (a strip of a page): OCR is CPU-heavy on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from makedocs import make_pdf, make_scanned_pdf

from rag.base.cancel import CancelToken
from rag.base.errors import LoadError
from rag.loaders import load_document, ocr

REASON = ocr.unavailable_reason()
needs_ocr = pytest.mark.skipif(REASON is not None, reason=REASON or "")

TEXT = ("The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned "
        "whale oil until 1921, when the lighthouse was electrified.")


def scan_strip(tmp: Path, text: str, name: str, dpi: int = 300):
    """A PIL image of the top strip of a real PDF page holding `text`, at `dpi`."""
    import pypdfium2 as pdfium

    src = make_pdf(tmp / f"{name}.src.pdf", [text])
    doc = pdfium.PdfDocument(str(src))
    page = doc[0]
    image = page.render(scale=dpi / 72, grayscale=True).to_pil()
    page.close()
    doc.close()
    return image.crop((0, 0, image.width, int(image.height * 0.12)))


def test_without_ocr_support_the_reason_names_the_python_limit():
    if REASON is None:
        assert ocr.no_text_reason().startswith("no text layer, and OCR found no text")
    else:
        assert "OCR is not available" in REASON and "no text layer" in ocr.no_text_reason()


@needs_ocr
def test_a_scanned_pdf_and_an_image_become_searchable_by_their_words(tmp_path, embedder):
    from rag.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    # A scan with a stamped page number as its only text layer: too little to be the page's text.
    strip = scan_strip(tmp_path, TEXT, "lighthouse")
    strip.save(tmp_path / "strip.png")
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(strip.width * 72 / 300, strip.height * 72 / 300 + 20))
    pdf.add_page()
    pdf.image(str(tmp_path / "strip.png"), x=0, y=0, w=strip.width * 72 / 300)
    pdf.set_font("Helvetica", size=8)
    pdf.text(20, strip.height * 72 / 300 + 14, "12")
    (docs / "scan.pdf").write_bytes(bytes(pdf.output()))
    make_pdf(docs / "bread.pdf", ["Sourdough bread needs a starter of flour and water."])
    scan_strip(tmp_path, "Meeting moved to Thursday at 14:30 in room B12.", "memo",
               dpi=200).save(docs / "memo.png")
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report = lib.index([docs])
        assert report.count("indexed") == 3, report.to_json()
        memo = lib.search("when is the meeting on Thursday", k=1)[0]
        assert memo.path.endswith("memo.png") and memo.page is None and "B12" in memo.text
        hits = lib.search("Kowalski lighthouse 1887", k=1)
        assert hits[0].path.endswith("scan.pdf") and hits[0].page == 1
        got = hits[0].text
    assert ocr.is_ocr_text(got), got  # marked as recognised text wherever it is shown
    for word in ("Zephyr", "lighthouse", "1887", "Kowalski", "whale", "1921", "electrified"):
        assert word in got, got


@needs_ocr
def test_images_are_read_by_ocr_with_progress_and_cancel(tmp_path):
    png = tmp_path / "note.png"
    scan_strip(tmp_path, "Meeting moved to Thursday at 14:30 in room B12.", "note",
               dpi=200).save(png)
    seen: list[tuple[int, int]] = []
    with ocr.ocr_session(progress=lambda done, total, _p: seen.append((done, total))):
        doc = load_document(png)
    assert seen == [(0, 1), (1, 1)]  # said when it begins: one image takes seconds
    (page,) = doc.pages
    assert page.number is None and ocr.is_ocr_text(page.text)
    assert "Thursday" in page.text and "B12" in page.text
    token = CancelToken()
    token.cancel()
    with ocr.ocr_session(cancel=token), pytest.raises(ocr.OcrCancelled):
        load_document(png)


def test_broken_and_textless_scans_get_reasons(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(LoadError) as err:
        load_document(bad)
    assert "image" in str(err.value) or "OCR" in str(err.value)
    with pytest.raises(LoadError) as err:
        load_document(make_scanned_pdf(tmp_path / "drawing.pdf"))
    assert "no text layer" in str(err.value)


def test_reading_order_keeps_table_rows_as_rows():
    line = ocr.OcrLine
    lines = [line("Price", (300, 10, 380, 30), 0.9), line("Item", (10, 12, 80, 30), 0.9),
             line("12.50", (300, 50, 370, 70), 0.9), line("Lamp oil", (10, 50, 120, 70), 0.9),
             line("Next paragraph", (10, 140, 200, 160), 0.9)]
    assert ocr.lines_to_text(lines) == "Item | Price\nLamp oil | 12.50\n\nNext paragraph"
