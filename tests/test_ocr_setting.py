"""Turning OCR off: scanned pages and images are skipped with a plain reason, not recognised.

Real parts: a scan made by rendering real PDF text to a 300-dpi image, a PNG of text, a real
Library (files read in its child processes, which must see the switch), the real CLI in a
subprocess, and the real Settings dialog in an offscreen window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from makedocs import make_pdf  # noqa: E402
from test_ocr import TEXT, scan_strip  # noqa: E402

from rag.base.settings import Settings  # noqa: E402
from rag.loaders import ocr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REASON = ocr.unavailable_reason()
needs_ocr = pytest.mark.skipif(REASON is not None, reason=REASON or "")
MEMO = "Meeting moved to Thursday at 14:30 in room B12."


@pytest.fixture(autouse=True)
def ocr_back_on():
    """The switch is process-wide (an environment variable): leave it on for other tests."""
    yield
    ocr.set_enabled(True)


def make_docs(folder: Path, tmp: Path) -> Path:
    """An image-only scan, a PNG, a text PDF, and a PDF with one text page and one scanned."""
    from fpdf import FPDF

    folder.mkdir()
    strip = scan_strip(tmp, TEXT, "lighthouse")
    strip.save(tmp / "strip.png")
    width, height = strip.width * 72 / 300, strip.height * 72 / 300
    scan = FPDF(unit="pt", format=(width, height))
    scan.add_page()
    scan.image(str(tmp / "strip.png"), x=0, y=0, w=width)
    (folder / "scan.pdf").write_bytes(bytes(scan.output()))
    mixed = FPDF(unit="pt", format=(width, max(height, 120)))
    mixed.add_page()
    mixed.set_font("Helvetica", size=10)
    mixed.text(10, 30, "Harbour report: the pier was repaired with oak beams in spring.")
    mixed.add_page()
    mixed.image(str(tmp / "strip.png"), x=0, y=0, w=width)
    (folder / "mixed.pdf").write_bytes(bytes(mixed.output()))
    scan_strip(tmp, MEMO, "memo", dpi=200).save(folder / "memo.png")
    make_pdf(folder / "bread.pdf", ["Sourdough bread needs a starter of flour and water."])
    return folder


def statuses(report: dict) -> dict[str, tuple[str, str]]:
    return {Path(f["path"]).name: (f["status"], f.get("reason") or "") for f in report["files"]}


def test_the_setting_is_saved_and_old_settings_files_mean_on(tmp_path):
    assert Settings().ocr is True
    (tmp_path / "settings.json").write_text(json.dumps({"schema_version": 1, "n_ctx": 2048}))
    assert Settings.load(tmp_path).ocr is True  # written before the setting existed
    Settings(ocr=False).save(tmp_path)
    assert Settings.load(tmp_path).ocr is False
    assert ocr.configure(tmp_path) is False and not ocr.enabled()
    assert ocr.configure(tmp_path, override=True) is True and ocr.enabled()  # --ocr wins


@pytest.mark.slow
def test_off_skips_scans_and_images_with_a_reason_and_on_reads_them(tmp_path, embedder):
    from rag.library import Library

    docs = make_docs(tmp_path / "docs", tmp_path)
    ocr.set_enabled(False)
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        off = statuses(lib.index([docs]).to_json())
        assert off["bread.pdf"][0] == "indexed" and off["mixed.pdf"][0] == "indexed"
        for name in ("scan.pdf", "memo.png"):
            status, reason = off[name]
            assert status == "skipped" and "OCR is turned off" in reason, off
            assert "Settings > Documents" in reason
        assert "scanned PDF" in off["scan.pdf"][1] and "image" in off["memo.png"][1]
        pier = lib.search("pier repaired with oak beams", k=3)
        assert pier[0].path.endswith("mixed.pdf") and pier[0].page == 1
        assert not any(h.path.endswith("mixed.pdf") and h.page == 2 for h in
                       lib.search("Kowalski lighthouse 1887", k=10))  # its scan was not read
        if REASON is not None:
            return  # OCR can't run here (Python >= 3.13): turning it on can't read them
        ocr.set_enabled(True)
        on = statuses(lib.index([docs], force=True).to_json())
        assert {name: s for name, (s, _) in on.items()} == dict.fromkeys(
            ("bread.pdf", "mixed.pdf", "scan.pdf", "memo.png"), "indexed"), on
        assert lib.search("when is the meeting on Thursday", k=1)[0].path.endswith("memo.png")
        pages = {(Path(h.path).name, h.page) for h in lib.search("Kowalski lighthouse 1887", k=4)}
        assert {("scan.pdf", 1), ("mixed.pdf", 2)} <= pages


@needs_ocr
@pytest.mark.slow
def test_cli_follows_the_setting_and_ocr_flag_overrides_it(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    scan_strip(tmp_path, MEMO, "memo", dpi=200).save(docs / "memo.png")
    data = tmp_path / "data"
    data.mkdir()
    Settings(ocr=False).save(data)

    def index(*flags: str) -> dict:
        run = subprocess.run([sys.executable, "-m", "app", "index", str(docs), *flags, "--json",
                              "--data-dir", str(data)], cwd=ROOT, capture_output=True,
                             text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "HEARTH_OCR": ""})
        assert run.returncode == 0, run.stderr
        return statuses(json.loads(run.stdout))

    status, reason = index()["memo.png"]
    assert status == "skipped" and "hearth index --ocr --force" in reason
    assert index("--ocr", "--force")["memo.png"][0] == "indexed"
    assert Settings.load(data).ocr is False  # the flag is for that run; the setting stays


@pytest.mark.slow
def test_settings_dialog_turns_ocr_off_and_the_window_skips_an_image(qtbot, tmp_path):
    from app.gui.launch import create_window
    from app.gui.settings_dialog import SettingsDialog

    docs = tmp_path / "docs"
    docs.mkdir()
    scan_strip(tmp_path, MEMO, "memo", dpi=200).save(docs / "memo.png")
    window = create_window(tmp_path / "data", opener=lambda *a: None)
    qtbot.addWidget(window)
    window.show()
    window.start()
    backend = window.backend
    qtbot.waitUntil(lambda: backend._lib is not None, timeout=120_000)
    dialog = SettingsDialog(backend, window)
    qtbot.addWidget(dialog)
    assert dialog.ocr.isChecked() and dialog.ocr.toolTip()
    dialog.ocr.setChecked(False)
    backend.apply_settings(dialog.result_settings())  # what Save does (window.open_settings)
    assert Settings.load(window.data_dir).ocr is False and not ocr.enabled()
    op = backend.index([str(docs)])
    qtbot.waitUntil(lambda: op.done, timeout=180_000)
    qtbot.waitUntil(lambda: any(d.path.endswith("memo.png") for d in backend.documents),
                    timeout=30_000)
    (memo,) = [d for d in backend.documents if d.path.endswith("memo.png")]
    assert memo.status == "skipped" and "OCR is turned off" in memo.reason
    reopened = SettingsDialog(backend, window)
    qtbot.addWidget(reopened)
    assert not reopened.ocr.isChecked()  # the dialog shows the saved choice
