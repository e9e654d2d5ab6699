"""Source viewer on a real PDF: `python -m bench.viewer FILE.pdf [--passages N]`.

Why: the viewer must find the indexed passage on the page PDFium renders (text extracted and
cleaned differently) and show it fast. Random passages of the loader's own page text are opened
as quotes at their pages, offscreen; prints how many were highlighted and the open times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time


def bench_viewer(path: str, passages: int = 40, seed: int = 1) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.gui.source_viewer import SourceViewer
    from rag.loaders import load_document

    app = QApplication.instance() or QApplication([])
    doc = load_document(path)
    rng = random.Random(seed)
    viewer = SourceViewer(system_open=lambda _url: False)
    viewer.resize(800, 900)
    shown: list = []
    viewer.shown.connect(shown.append)
    times, found, missed = [], 0, []
    try:
        pages = [p for p in doc.pages if len(p.text) >= 400]
        for page in rng.sample(pages, min(passages, len(pages))):
            start = rng.randint(0, len(page.text) - 300)
            quote = page.text[start:start + 300]
            before = len(shown)
            t0 = time.perf_counter()
            viewer.show_source(path, page.number, quote)
            while len(shown) == before:
                app.processEvents()
            times.append(time.perf_counter() - t0)
            if shown[-1].highlights:
                found += 1
            else:
                missed.append(page.number)
    finally:
        viewer.shutdown()
    times.sort()
    return {"file": os.path.basename(path), "pages": len(doc.pages), "passages": len(times),
            "highlighted": found, "missed_pages": missed,
            "median_s": round(times[len(times) // 2], 3), "max_s": round(times[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pdf")
    parser.add_argument("--passages", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(bench_viewer(args.pdf, args.passages), indent=2))


if __name__ == "__main__":
    main()
