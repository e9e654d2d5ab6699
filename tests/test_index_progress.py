"""Progress over the whole indexing job (issue 14) and per-page OCR progress (issue 13).

Real Library, chroma, embedder, generated PDFs and a generated scanned PDF; every progress
report the run yields is kept (a copy) and checked afterwards: files are counted before any
work, the fraction never moves back, the ETA's projected total stays within 2x between
reports once 10% is done, the end says "done" with the counts, and a scanned file's progress
moves page by page. The window test drives the real library panel offscreen.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from makedocs import make_pdf

from app.progress import TerminalProgress, describe, done_words
from bench.pdfgen import positioned_pdf, sample_text
from rag.library import Library
from rag.loaders import ocr

needs_ocr = pytest.mark.skipif(ocr.unavailable_reason() is not None,
                               reason=ocr.unavailable_reason() or "")


def record(lib: Library, paths: list[Path]):
    seen = []
    report = lib.index(paths, progress=lambda p: seen.append(dataclasses.replace(p)))
    return report, seen


def terminal_percentages(reports) -> list[int]:
    """What `hearth index`'s bar drew for these reports (each one drawn: no time throttle)."""
    import io
    import re

    out = io.StringIO()
    bar = TerminalProgress(stream=out)
    for p in reports:
        bar._last = 0.0
        bar.update(p)
    return [int(m) for m in re.findall(r"\] +(\d+)%", out.getvalue())]


def test_one_monotonic_bar_with_a_steady_eta_and_a_done_notice(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):  # files of different lengths, in an order that mixes them
        pages = [sample_text(120, seed=100 * i + n) for n in range(3 + 5 * (i % 3))]
        positioned_pdf(docs / f"manual-{i}.pdf", pages)
        (docs / f"note-{i}.txt").write_text("\n\n".join(sample_text(90, seed=7 * i + k)
                                                       for k in range(1 + i % 4)))
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report, seen = record(lib, [docs])
    assert report.count("indexed") == 12
    assert seen[0].stage == "finding files" and seen[0].files_total == 0
    work = seen[1:]
    assert {p.files_total for p in work} == {12}  # counted before any file was read
    fractions = [p.fraction for p in work]
    assert fractions == sorted(fractions)  # never moves back
    assert fractions[-1] == 1.0 and work[-1].stage == "done" and work[-1].files_done == 12
    assert fractions[len(fractions) // 2] < 1.0  # it really moved during the job
    totals = [p.elapsed_s + p.eta_s for p in work
              if p.fraction >= 0.1 and p.eta_s is not None and p.stage != "done"]
    assert len(totals) >= 3
    jumps = [b / a for a, b in zip(totals, totals[1:], strict=False)]
    assert all(0.5 <= j <= 2.0 for j in jumps), jumps
    assert describe(work[-1]).startswith("Done · 12/12 files")
    drawn = terminal_percentages(work)
    assert drawn == sorted(drawn) and drawn[-1] == 100
    assert done_words(report).startswith("Indexing done: 12 indexed, 0 unchanged")
    print(f"\nprojected total after 10%: {min(totals):.1f}-{max(totals):.1f} s "
          f"(largest step x{max(max(jumps), 1 / min(jumps)):.2f}); took {report.seconds:.1f} s")


def scanned_pdf(tmp_path: Path, texts: list[str]) -> Path:
    """A PDF whose pages are pictures of text (rendered strips of real text pages)."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(612, 120))
    for i, text in enumerate(texts):
        src = make_pdf(tmp_path / f"src{i}.pdf", [text])
        doc = pdfium.PdfDocument(str(src))
        page = doc[0]
        image = page.render(scale=250 / 72, grayscale=True).to_pil()
        page.close()
        doc.close()
        strip = image.crop((0, 0, image.width, int(image.height * 0.12)))
        strip.save(tmp_path / f"strip{i}.png")
        pdf.add_page()
        pdf.image(str(tmp_path / f"strip{i}.png"), x=0, y=0, w=612)
    out = tmp_path / "docs" / "scan.pdf"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(bytes(pdf.output()))
    return out


SCAN_TEXTS = ["The harbour ferry leaves at seven every morning from pier four.",
              "Tickets for the island ferry are sold on board by the purser."]


@needs_ocr
def test_ocr_progress_moves_page_by_page(tmp_path, embedder):
    scan = scanned_pdf(tmp_path, SCAN_TEXTS)
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report, seen = record(lib, [scan])
        assert report.count("indexed") == 1, report.to_json()
        assert lib.search("island ferry tickets purser", k=1)[0].page == 2
    ocr_steps = []  # one entry per page step (the run also reports while it waits)
    for p in seen:
        if p.stage == "recognising text (OCR)" and (
                not ocr_steps or ocr_steps[-1][0] != p.pages_done):
            ocr_steps.append((p.pages_done, p.pages_total, p.fraction))
    assert [(d, t) for d, t, _f in ocr_steps][:3] == [(0, 2), (1, 2), (2, 2)], ocr_steps
    assert ocr_steps[0][2] < ocr_steps[1][2] < ocr_steps[2][2]  # the bar moves per page
    assert describe(seen[[p.stage for p in seen].index("recognising text (OCR)")]) \
        .startswith("Recognising text (OCR) in scan.pdf, page 1 of 2")


@needs_ocr
def test_one_image_moves_while_it_is_recognised_with_an_eta(tmp_path, embedder):
    """OCR of one image finishes no page for seconds: its share fills at the pace pages have
    taken here (a first guess before any), with an ETA; the page's time becomes the pace."""
    import pypdfium2 as pdfium

    from rag.ingest import jobprogress

    src = make_pdf(tmp_path / "letter.pdf", [sample_text(220, seed=5)])
    doc = pdfium.PdfDocument(str(src))
    page = doc[0]
    image = page.render(scale=200 / 72, grayscale=True).to_pil()
    page.close()
    doc.close()
    (tmp_path / "docs").mkdir()
    image.crop((0, 0, image.width, image.height // 3)).save(tmp_path / "docs" / "letter.png")
    jobprogress._ocr_pace.clear()  # no page timed yet in this process: the first guess holds
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report, seen = record(lib, [tmp_path / "docs" / "letter.png"])
    assert report.count("indexed") == 1, report.to_json()
    ocr_steps = [p for p in seen if p.stage == "recognising text (OCR)"]
    during = [p for p in ocr_steps if p.pages_done == 0]
    assert during and during[0].pages_total == 1
    moving = [p for p in during if p.fraction > 0]
    assert len(moving) >= 2 and moving[-1].fraction > moving[0].fraction, during
    assert all(p.eta_s is not None for p in moving)
    assert describe(moving[-1]).startswith("Recognising text (OCR) in letter.png, page 1 of 1")
    assert "ETA" in describe(moving[-1])
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions)
    took = next(p for p in ocr_steps if p.pages_done == 1).elapsed_s - during[0].elapsed_s
    assert jobprogress.ocr_pace() == pytest.approx(took, abs=0.5)
    print(f"\nOCR of one page took {took:.1f} s; {len(moving)} moving reports before it ended")


@needs_ocr
def test_window_shows_ocr_pages_and_the_done_notice(qtbot, tmp_path):
    from app.gui.launch import create_window

    scan = scanned_pdf(tmp_path, SCAN_TEXTS)
    window = create_window(tmp_path / "data")
    window.show()
    window.start()
    try:
        qtbot.waitUntil(lambda: window.backend._lib is not None, timeout=120_000)
        panel = window.library
        labels: list[str] = []
        values: list[int] = []
        notices: list[str] = []
        panel.notice.connect(notices.append)
        op = panel.add_paths([str(scan)])

        def shown(_p) -> None:
            labels.append(panel.progress_label.text())
            values.append(panel.progress_bar.value())

        op.progress.connect(shown)  # after the panel's own slot: it sees what the panel shows
        with qtbot.waitSignal(op.finished, timeout=300_000):
            pass
        assert any("Recognising text (OCR) in scan.pdf, page 1 of 2" in t for t in labels), labels
        assert any("page 2 of 2" in t for t in labels), labels
        moving = [v for v in values if v > 0]
        assert moving == sorted(moving) and len(set(moving)) >= 2
        assert any(n.startswith("Indexing done: 1 indexed") for n in notices), notices
        # it stays: no timer clears it (the transient messages last 8 s)
        qtbot.wait(50)
        assert window.statusBar().currentMessage().startswith("Indexing done: 1 indexed")
    finally:
        window.close()
