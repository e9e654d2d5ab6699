"""Render the real window into PNGs for the README: `python -m app.gui.screenshots OUTDIR`.

Builds a throw-away library from generated sample PDFs in a *watched* folder (indexed by the real
watcher and core), asks a question with the bundled model, grabs the window at 1400×900
(`HEARTH_SHOT_SIZE` to change) and at 800×600, then the Settings dialog with its model picker
(works offscreen or under Xvfb). Nothing
about the user's own library is touched: everything lives in a temporary data dir.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = {
    "zephyr-lighthouse.pdf": [
        "Coastal history of the northern shore. Harbour towns grew near the sea and traded fish, "
        "salt and timber.",
        "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned whale "
        "oil until 1921, when the lighthouse was electrified. The tower is 31 metres tall.",
    ],
    "kitchen/sourdough.pdf": [
        "Sourdough bread needs a starter made of flour and water, fed daily for a week. Bake the "
        "loaf at 230 degrees Celsius for forty minutes, with steam for the first fifteen.",
    ],
    "travel/ferry-timetable.pdf": [
        "The island ferry leaves the harbour at 07:40 and 16:15 on weekdays. On Sundays there is "
        "one crossing at 11:00. Tickets are sold on board.",
    ],
}
QUESTION = "Who built the Zephyr lighthouse, and when was it electrified?"
SMALL = (800, 600)


def _make_pdf(path: Path, pages: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(pdf.output()))


def _wait(app, condition, timeout: float) -> bool:
    from PySide6.QtCore import QEventLoop

    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return bool(condition())


def render(outdir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from rag.offline.privacy import install_guard

    install_guard()
    from app.gui.launch import application

    app = application()
    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hearth-shots-"))
    try:
        return _shoot(app, work, outdir)
    finally:  # the sample documents and their library are only for the pictures
        shutil.rmtree(work, ignore_errors=True)


def _shoot(app, work: Path, outdir: Path) -> list[Path]:
    from app.gui.launch import create_window

    docs = work / "Documents"
    for name, pages in SAMPLES.items():
        _make_pdf(docs / name, pages)
    window = create_window(work / "data", opener=lambda _p, _pg: None)
    width, height = (int(v) for v in os.environ.get("HEARTH_SHOT_SIZE", "1400x900").split("x"))
    window.resize(width, height)
    window.show()
    window.start()
    written: list[Path] = []

    def grab(name: str) -> None:
        for _ in range(10):
            app.processEvents()
        path = outdir / name
        window.grab().save(str(path), "PNG")
        written.append(path)

    grab("hearth-empty.png")
    if not _wait(app, lambda: window.backend._lib is not None, 180):
        raise SystemExit("the library did not open")
    _wait(app, lambda: window.backend.watch.running, 60)
    window.library.watched.add_folder(str(docs))
    _wait(app, lambda: len(window.backend.documents) == len(SAMPLES) and all(
        d.status == "indexed" for d in window.backend.documents), 300)
    _wait(app, lambda: "Up to date" in window.sync_label.text(), 30)
    window.chat.input.setPlainText(QUESTION)
    window.chat.send()
    _wait(app, lambda: not window.chat.busy, 300)
    window.history_panel.refresh(select=window.chat.conversation_id)
    grab("hearth-answer.png")
    print(layout_report(window))
    window.resize(*SMALL)  # the smallest supported window: the chat keeps priority
    _wait(app, lambda: window.width() == SMALL[0], 10)
    grab("hearth-small.png")
    print(layout_report(window))
    window.resize(width, height)
    _wait(app, lambda: window.width() == width, 10)
    written.append(_grab_settings(app, window, outdir / "hearth-settings.png"))
    window.close()
    return written


def layout_report(window) -> str:
    """What a reviewer checks in a screenshot, in numbers: the chat's share of the width and any
    sideways scrollbar in the chat or the library list."""
    sizes = window.splitter.sizes()
    tree = window.library.tree
    return (f"{window.width()}x{window.height()}: panels {sizes}, chat "
            f"{sizes[1] / max(1, sum(sizes)):.0%} of the width; sideways scroll: chat "
            f"{window.chat.scroll.horizontalScrollBar().maximum()} px, library "
            f"{tree.horizontalScrollBar().maximum()} px")


def _grab_settings(app, window, path: Path) -> Path:
    from app.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.backend, window)
    dialog.show()
    _wait(app, lambda: dialog.picker.models_op.done, 60)
    names = [r.name for r in dialog.picker.rows()]
    if len(names) >= 2:  # show routing: two models ticked, "automatic" chosen (not saved)
        dialog.picker.set_enabled_models(names[:2])
    first = dialog.picker.tree.topLevelItem(0)
    if first is not None:
        dialog.picker.tree.setCurrentItem(first)
    for _ in range(10):
        app.processEvents()
    dialog.grab().save(str(path), "PNG")
    dialog.close()
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    outdir = Path(args[0] if args else "docs/screenshots")
    for path in render(outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
