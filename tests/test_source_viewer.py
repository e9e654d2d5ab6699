"""The in-app source viewer and the opener contract behind citations and evidence quotes.

Real parts only: real PDFs made here, real pypdfium2 renders, a real Qt window offscreen. The
system opener is the one thing injected (a test must not launch a desktop application).
"""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from makedocs import make_pdf  # noqa: E402

from app.gui.sources_view import SourcesView, call_opener, takes_quote  # noqa: E402


def test_openers_old_and_new_forms_both_work(qapp, tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf", ["first page", "second page"])
    two: list[tuple] = []
    three: list[tuple] = []
    assert not takes_quote(lambda p, pg: None) and takes_quote(lambda p, pg, q="": None)
    call_opener(lambda p, pg: two.append((p, pg)), "x", 1, "q")
    assert two == [("x", 1)]
    view = SourcesView(library_paths=lambda: {str(tmp_path)},
                       opener=lambda p, pg, q="": three.append((p, pg, q)))
    view.set_sources([{"n": 1, "path": str(pdf), "page": 2, "text": "second page", "score": 0.5}])
    assert view.open_number(1)
    assert three[-1] == (str(pdf.resolve()), 2, "second page")
    assert view.open_source(str(pdf), 1, "first")
    assert three[-1] == (str(pdf.resolve()), 1, "first")
    old = SourcesView(library_paths=lambda: {str(tmp_path)},
                      opener=lambda p, pg: two.append((p, pg)))
    assert old.open_source(str(pdf), 2, "ignored by a two-argument opener")
    assert two[-1] == (str(pdf.resolve()), 2)
    # Outside the library: refused, nothing opened.
    outside = make_pdf(Path(str(tmp_path) + "_other.pdf"), ["x"])
    assert view.open_source(str(outside), 1, "x") is False
    assert len(three) == 2


LIGHTHOUSE = ("Coastal history. Many harbour towns grew near the sea and traded fish and salt. "
              "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned "
              "whale oil until 1921, when the lighthouse was electrified.")
QUOTE = "Its lamp burned whale oil until 1921, when the lighthouse was electrified."


@pytest.fixture
def viewer(qapp):
    from app.gui.source_viewer import SourceViewer

    v = SourceViewer(system_open=lambda _url: False)  # a desktop with no default application
    v.resize(800, 900)
    yield v
    v.shutdown()
    v.deleteLater()


def _quote_boxes(pdf: Path, page: int, quote: str) -> list[tuple[float, float, float, float]]:
    """The quote's character boxes, found independently with pypdfium2's own search."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    tp = doc[page - 1].get_textpage()
    searcher = tp.search(quote[:30])
    index, _count = searcher.get_next()
    boxes = [tp.get_charbox(i) for i in range(index, index + len(quote))
             if tp.get_text_range(i, 1).strip()]
    searcher.close()
    tp.close()
    doc.close()
    return boxes


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_viewer_opens_the_cited_page_and_highlights_the_quote(viewer, qtbot, tmp_path):
    pdf = make_pdf(tmp_path / "lighthouse.pdf", ["Front page.", "Nothing here.", LIGHTHOUSE])
    with qtbot.waitSignal(viewer.shown, timeout=20_000) as blocker:
        viewer.show_source(str(pdf), 3, QUOTE)
    result = blocker.args[0]
    assert not result.error and result.page == 3 and result.page_count == 3
    assert viewer.page_box.value() == 3 and result.image is not None and not result.image.isNull()
    rects = viewer.highlight_rects()
    assert rects, "nothing highlighted"
    boxes = _quote_boxes(pdf, 3, QUOTE)
    # Every character of the quote is covered, and nothing far from it is.
    assert all(any(_overlap(b, r) for r in rects) for b in boxes)
    top = max(b[3] for b in boxes)
    bottom = min(b[1] for b in boxes)
    assert all(r[1] >= bottom - 2 and r[3] <= top + 2 for r in rects)
    # The highlight is painted: the pixel under the first box is tinted, not white.
    img = viewer.canvas.grab().toImage()
    centre = viewer.canvas.to_widget(rects[0]).center().toPoint()
    colour = img.pixelColor(centre)
    assert colour.blue() < colour.red() - 20, colour.name()

    # Page navigation and zoom re-render; fit width comes back.
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.go(-1)
    assert viewer.result.page == 2 and not viewer.highlight_rects()
    before = viewer.result.scale
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.zoom_by(1.25)
    assert viewer.result.scale == pytest.approx(before * 1.25, rel=0.01)
    # Ctrl+F finds a word on a later page and moves there.
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.find_next("Kowalski")
    assert viewer.result.page == 3 and viewer.result.finds
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.go(-1)  # paging on: no false "not found", the search stays for the next pages
    assert not viewer.result.finds and not viewer.message.isVisible()
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        viewer.find_next("no such word anywhere")
    assert "is not in this document" in viewer.message.text()


def test_failing_system_opener_shows_a_message(viewer, qtbot, tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf", ["Some text."])
    with qtbot.waitSignal(viewer.shown, timeout=20_000):
        viewer.show_source(str(pdf), 1)
    with qtbot.waitSignal(viewer.message_shown, timeout=2_000) as blocker:
        assert viewer.open_external() is False
    assert "Could not open" in blocker.args[0] and viewer.message.isVisible()
    with qtbot.waitSignal(viewer.message_shown, timeout=2_000) as blocker:
        assert viewer.show_in_folder() is False
    assert "folder" in blocker.args[0] and str(tmp_path) in blocker.args[0]


@pytest.mark.skipif(not shutil.which("xdg-open"), reason="xdg-utils is not installed")
def test_a_desktop_with_no_application_for_the_file_says_why(qapp, qtbot, tmp_path, monkeypatch):
    """The real xdg-open on a desktop with no application for PDFs (no desktop environment, no
    browser): it starts fine and then exits with status 3. Qt's opener reports success there;
    the viewer waits for the exit status and says why nothing opened."""
    from app.gui.source_viewer import SourceViewer

    monkeypatch.setenv("PATH", str(Path(shutil.which("xdg-open")).parent))
    for name in ("BROWSER", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION"):
        monkeypatch.delenv(name, raising=False)
    v = SourceViewer()
    pdf = make_pdf(tmp_path / "a.pdf", ["Some text."])
    with qtbot.waitSignal(v.shown, timeout=20_000):
        v.show_source(str(pdf), 1)
    with qtbot.waitSignal(v.message_shown, timeout=20_000) as blocker:
        assert v.open_external() is True  # started; xdg-open finds no application later
    assert "no application set up to open this kind of file" in blocker.args[0]
    assert str(pdf) in blocker.args[0] and v.message.isVisible()
    with qtbot.waitSignal(v.message_shown, timeout=20_000) as blocker:
        v.show_in_folder()
    assert blocker.args[0].startswith("Could not show the folder") and str(tmp_path) in \
        blocker.args[0]
    v.shutdown()
    v.deleteLater()


def test_text_formats_scroll_to_the_passage_highlighted(viewer, qtbot, tmp_path):
    lines = [f"Line {i}: filler text about nothing in particular." for i in range(300)]
    lines[250] = "The secret ingredient of the soup is smoked paprika from Murcia."
    note = tmp_path / "notes.md"
    note.write_text("\n\n".join(lines))
    quote = "secret ingredient of the soup is smoked paprika"
    with qtbot.waitSignal(viewer.shown, timeout=20_000):
        viewer.show_source(str(note), None, quote)
    assert viewer.stack.currentWidget() is viewer.text
    (start, end), = viewer.text_spans
    assert viewer.text.toPlainText()[start:end] == quote
    assert viewer.text.extraSelections()
    # Scrolled: the passage is inside the visible part of the text.
    cursor_rect = viewer.text.cursorRect()
    assert viewer.text.textCursor().position() == start
    assert 0 <= cursor_rect.top() < viewer.text.viewport().height()
    assert viewer.text.verticalScrollBar().value() > 0


def test_a_500_page_pdf_opens_at_the_cited_page_within_a_second(viewer, qtbot, tmp_path):
    import time

    pages = [f"Page {i} of the long manual. Section {i} explains setting number {i * 7}."
             for i in range(1, 501)]
    pdf = make_pdf(tmp_path / "manual.pdf", pages)
    warm = make_pdf(tmp_path / "warm.pdf", ["warm up"])
    with qtbot.waitSignal(viewer.shown, timeout=20_000):
        viewer.show_source(str(warm), 1)  # the first render loads PDFium itself
    t0 = time.perf_counter()
    with qtbot.waitSignal(viewer.shown, timeout=20_000) as blocker:
        viewer.show_source(str(pdf), 437, "Section 437 explains setting number 3059.")
    elapsed = time.perf_counter() - t0
    assert blocker.args[0].page == 437 and viewer.highlight_rects()
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


def test_the_window_opens_sources_in_the_viewer_by_default(qapp, qtbot, tmp_path):
    from app.gui.launch import create_window

    pdf = make_pdf(tmp_path / "docs.pdf", ["One.", LIGHTHOUSE])
    window = create_window(tmp_path / "data")
    try:
        assert window.source_viewer is None  # nothing is made before it is needed
        window.opener(str(pdf), 2, QUOTE)
        viewer = window.source_viewer
        assert viewer is not None and viewer.isVisible()
        qtbot.waitUntil(lambda: viewer.result is not None, timeout=20_000)
        assert viewer.result.page == 2 and viewer.highlight_rects()
    finally:
        window.close()
    assert not window.source_viewer._thread.isRunning()


def test_a_scanned_page_highlights_the_quote_from_ocr_lines(viewer, qtbot, tmp_path):
    from rag.loaders import ocr

    if ocr.unavailable_reason():
        pytest.skip(ocr.unavailable_reason())
    from test_ocr import TEXT, scan_strip

    scan = tmp_path / "scan.pdf"
    scan_strip(tmp_path, TEXT, "scan").save(scan, resolution=300)
    quote = f"{ocr.OCR_MARK}\nThe Zephyr lighthouse was built in 1887 by engineer Marta Kowalski."
    shown: list = []
    viewer.shown.connect(shown.append)
    viewer.show_source(str(scan), 1, quote)
    qtbot.waitUntil(lambda: any(r.highlights for r in shown), timeout=120_000)
    assert not shown[0].has_text and "scanned image" in viewer.message.text()
    rects = viewer.highlight_rects()
    width, height = shown[-1].size_pt
    # The first line of the strip is highlighted: inside the page, in its upper part.
    assert rects and all(0 <= r[0] < r[2] <= width and height / 2 < r[1] < r[3] <= height
                         for r in rects)


def test_slides_and_images_open_in_the_viewer(viewer, qtbot, tmp_path):
    from PySide6.QtGui import QColor, QImage
    from test_formats import make_pptx

    deck = make_pptx(tmp_path / "review.pptx")
    with qtbot.waitSignal(viewer.shown, timeout=20_000) as blocker:
        viewer.show_source(str(deck), 2, "The Zephyr lamp was replaced with LEDs in March")
    assert blocker.args[0].kind == "text" and viewer.page_box.prefix() == "Slide "
    (start, end), = viewer.text_spans
    text = viewer.text.toPlainText()
    assert text[start:end] == "The Zephyr lamp was replaced with LEDs in March"
    assert text.rfind("— Slide 2 —", 0, start) > text.rfind("— Slide 1 —", 0, start)
    image = QImage(300, 120, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    png = tmp_path / "photo.png"
    assert image.save(str(png))
    with qtbot.waitSignal(viewer.shown, timeout=20_000) as blocker:
        viewer.show_source(str(png), None, "")
    result = blocker.args[0]
    assert result.kind == "image" and not result.error and result.image.width() == 300
    with qtbot.waitSignal(viewer.shown, timeout=20_000) as blocker:
        viewer.zoom_by(2.0)
    assert blocker.args[0].image.width() == round(600 * viewer.devicePixelRatioF())
    assert viewer.stack.currentWidget() is viewer.scroll


def test_ocr_sources_are_marked_in_the_list(qapp, tmp_path):
    from rag.loaders.ocr import OCR_MARK

    view = SourcesView(library_paths=lambda: {str(tmp_path)}, opener=lambda p, pg, q="": None)
    view.set_sources([{"n": 1, "path": str(tmp_path / "scan.pdf"), "page": 1, "score": 0.9,
                       "text": f"{OCR_MARK}\nThe lamp burned whale oil."},
                      {"n": 2, "path": str(tmp_path / "a.pdf"), "page": 2, "score": 0.5,
                       "text": "A real text layer."}])
    first, second = view.topLevelItem(0), view.topLevelItem(1)
    assert first.text(4) == "(OCR) The lamp burned whale oil." and "OCR" in first.toolTip(4)
    assert second.text(4) == "A real text layer." and "OCR" not in second.toolTip(4)


def test_esc_and_ctrl_w_close_the_viewer_and_esc_first_clears_a_search(viewer, qtbot, tmp_path):
    from PySide6.QtGui import QKeySequence

    assert viewer.escape_action.shortcut() == QKeySequence("Esc")
    assert viewer.close_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Close)
    pdf = make_pdf(tmp_path / "a.pdf", ["Herons wade in the shallows at dawn."])
    viewer.show_source(str(pdf), 1, "Herons wade")
    viewer.show()
    qtbot.waitExposed(viewer)
    viewer.find_box.setFocus()
    viewer.find_box.setText("dawn")
    viewer.escape_action.trigger()  # the first Esc clears the search being typed
    assert viewer.find_box.text() == "" and viewer.isVisible()
    viewer.escape_action.trigger()
    assert not viewer.isVisible()
    viewer.show()
    qtbot.waitExposed(viewer)
    viewer.close_action.trigger()  # Ctrl+W (the platform's Close key)
    assert not viewer.isVisible()


def test_only_real_citation_markers_become_links():
    from app.gui.markdown_view import render_markdown

    html = render_markdown("> statef [1] tas sa nt [16] tas sa nt [2]\n\nBuilt in 1887 [1][3].")
    assert 'href="cite:2"' in html and 'href="cite:1"' in html and 'href="cite:3"' in html
    assert 'href="cite:16"' not in html and "statef [1] tas" in html  # numbers in quoted output
    assert 'href="cite' not in render_markdown("see [3] below, and x[2]y")
