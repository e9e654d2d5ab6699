"""Hostile files end in a reason, never a hang, a crash or a memory blow-up (issue 18).

Each case is the reproduction from the issue, made on the spot: a FIFO and a link to /dev/zero
(hung `hearth index` forever), a name with invalid UTF-8 (aborted the whole run), 100,000
nested <div>s (~30 min in BeautifulSoup), a .docx zip bomb (2.1 GB RSS), sparse multi-GB files
(minutes of hashing before being refused), a 5 MB one-word note (one 5 MB chunk), a GGUF header
with arrays nested 5,000 deep (RecursionError; `hearth models` crashed), and a killed writer
(`hearth status` kept saying "in use").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import (
    ROOT,
    canary,
    hearth,
    make_bad_name,
    make_deep_html,
    make_dev_zero_link,
    make_fifo,
    make_huge_word,
    make_nested_gguf,
    make_sparse,
    make_zip_bomb_docx,
    note,
)

GIB = 1 << 30


@pytest.mark.slow
def test_hostile_folder_every_file_ends_in_a_reason(tmp_path):
    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    words = [canary(), canary()]
    note(docs / "a-good.txt", words[0])
    note(docs / "z-good.md", words[1])
    make_fifo(docs / "pipe.txt")
    make_dev_zero_link(docs / "zero.txt")
    bad = make_bad_name(docs, canary())
    make_deep_html(docs / "deep.html")
    make_zip_bomb_docx(docs / "bomb.docx")
    make_sparse(docs / "huge.docx", 4 * GIB, b"PK\x03\x04")
    make_sparse(docs / "sparse.pdf", 400 << 20, b"%PDF-1.4\n")
    (docs / "zeros.pdf").write_bytes(bytes(2 << 20))  # no PDF header: refused unread
    make_huge_word(docs / "word.md", 1 << 20)  # 5 MB: test_chunks_have_a_hard_size_cap

    run = hearth(data, "index", docs, "--json", timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    files = {Path(f["path"]).name: f for f in run.json()["files"]}
    assert len(files) == 11, sorted(files)
    reasons = {name: (f["status"], f["reason"]) for name, f in files.items()}
    for name in ("a-good.txt", "z-good.md", "deep.html", "word.md"):
        assert files[name]["status"] == "indexed", reasons[name]
    assert "not a regular file" in files["pipe.txt"]["reason"]
    assert "not a regular file" in files["zero.txt"]["reason"]
    bad_name = Path(os.fsencode(bad).decode("utf-8", "backslashreplace")).name
    assert files[bad_name]["status"] == "failed"
    assert "not valid UTF-8" in files[bad_name]["reason"]
    assert "too large when unpacked" in files["bomb.docx"]["reason"]
    assert files["huge.docx"]["reason"].startswith("file too large")
    assert files["sparse.pdf"]["reason"].startswith("mostly empty space")
    assert "does not start like a PDF" in files["zeros.pdf"]["reason"]
    # Refused cheaply: nothing was hashed or inflated in full (before: 26 s, 55 s, 2.1 GB).
    # The child also embeds ~300 chunks of word.md: its peak varied from 0.87 to 2.2 GiB between
    # runs on a loaded 2-core machine (allocator and thread-pool timing), so this bound only
    # catches an inflated bomb (> 3 GiB); the bomb's own refusal is asserted by its reason
    # above, and the 1.5 GiB target is checked by the fault suite (`make bench`).
    assert run.peak_rss < 3 * GIB, run.peak_rss
    assert run.seconds < 120, run.seconds
    print(f"hostile folder: {run.seconds:.1f} s, peak RSS {run.peak_rss / 2**20:.0f} MiB")

    again = hearth(data, "index", docs, "--json")  # the folder stays indexable, run after run
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.json()["indexed"] == 0
    for word in words:
        hits = hearth(data, "search", word, "--json", "--mode", "keyword").json()
        assert [Path(h["path"]).name for h in hits if word in h["text"]][:1], word
    deep = hearth(data, "search", "deep text at the bottom", "--json", "-k", "1").json()
    assert deep[0]["path"].endswith("deep.html")


def test_deep_html_parses_in_linear_time():
    from rag.loaders.html import html_to_text

    page = "<div>" * 100_000 + "bottom line" + "</div>" * 100_000
    t0 = time.perf_counter()
    title, text = html_to_text(page.encode())
    seconds = time.perf_counter() - t0
    assert text == "bottom line"
    # BeautifulSoup took 52 s at 16k levels (quadratic: ~30 min at 100k); this parser takes
    # 1-5 s at 100k, and the bound leaves room for a loaded 2-core machine.
    assert seconds < 60, seconds


def test_chunks_have_a_hard_size_cap(embedder):
    from rag.base.types import Page
    from rag.ingest.chunking import ChunkingConfig, chunk_pages

    text = "Intro line.\n" + "x" * (5 * 1024 * 1024) + "\nOutro line."
    t0 = time.perf_counter()
    _, chunks = chunk_pages([Page(None, text)], "Huge", embedder)
    cap = ChunkingConfig().max_chunk_chars
    assert chunks and max(len(c.text) for c in chunks) <= cap
    assert sum(len(c.text) for c in chunks) >= len(text) - 100  # the text is all still there
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert time.perf_counter() - t0 < 30


def test_failure_reasons_carry_no_garbage_bytes(tmp_path, embedder):
    """A PDF naming a garbled stream filter: pypdf quotes the raw bytes in its message."""
    import makedocs

    from rag.ingest.indexer import clean_reason
    from rag.library import Library

    pdf = makedocs.make_pdf(tmp_path / "garbled.pdf", ["Ferries run at dawn."])
    pdf.write_bytes(pdf.read_bytes().replace(b"/FlateDecode", b"/Flate\xe0\x88\xf0   "))
    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        [outcome] = lib.index([pdf]).outcomes
        assert lib.documents()[0].reason == outcome.reason
    assert outcome.status == "failed"
    assert outcome.reason.endswith("(Unsupported filter /Flate…)"), outcome.reason
    assert clean_reason("Unsupported filter /Flate\xe0\x88\xf0x") == "Unsupported filter /Flate…"
    assert clean_reason("no text layer (scanned PDF?) — OCR is not supported") == (
        "no text layer (scanned PDF?) — OCR is not supported")
    assert len(clean_reason("word " * 500)) <= 300


def test_nested_array_gguf_is_a_clean_model_error_and_discovery_survives(tmp_path):
    from inference.base import ModelError
    from inference.discovery import DiscoveryRoots, discover_models
    from inference.gguf_info import read_gguf_info

    folder = tmp_path / "models"
    folder.mkdir()
    evil = make_nested_gguf(folder / "evil.gguf")
    with pytest.raises(ModelError, match="nested too deep"):
        read_gguf_info(evil)
    roots = DiscoveryRoots(hearth=[folder], include_bundled=False)
    [entry] = discover_models(tmp_path, roots, with_info=True)
    assert entry.info is None and "nested too deep" in entry.error


@pytest.mark.slow
def test_models_commands_with_a_nested_array_gguf(tmp_path):
    """`hearth models` lists the bad file with its error; add and info refuse it in one line."""
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    evil = make_nested_gguf(data / "models" / "evil.gguf")
    listed = hearth(data, "models", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {Path(r["path"]).name: r for r in listed.json()["models"]}
    assert "nested too deep" in rows["evil.gguf"]["error"]
    for args in (("models", "add", evil), ("models", "info", evil)):
        run = hearth(tmp_path / "other", *args)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1 and "nested too deep" in run.stderr


def test_listing_models_does_not_create_the_data_folder(tmp_path, monkeypatch, capsys):
    from app.cli import run_cli

    data = tmp_path / "never-made"
    monkeypatch.setenv("HEARTH_DATA_DIR", str(data))
    assert run_cli(["models", "--json"]) == 0
    assert "models" in json.loads(capsys.readouterr().out)
    assert run_cli(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 0
    assert not data.exists()


def test_status_forgets_a_killed_writer(tmp_path, capsys):
    """The lock note of a SIGKILLed writer stays in library.lock; its pid is gone."""
    from app.cli import run_cli

    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from rag.store.lock import LibraryLock; "
         f"LibraryLock({str(data)!r}, 'hearth index').acquire(); print('locked', flush=True); "
         "sys.stdin.read()"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"

    def in_use():
        assert run_cli(["status", "--json", "--data-dir", str(data)]) == 0
        return json.loads(capsys.readouterr().out)["in_use_by"]

    assert in_use() == "hearth index"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (data / "library.lock").read_text()  # the dead writer's note is still there
    assert in_use() is None


@pytest.mark.slow
def test_a_pdf_flate_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """1 GiB of page content in a 1 MB PDF: refused with a plain reason, the reading child
    staying far under its memory limit (before: 1.6 GB, stopped only by the RSS check)."""
    from hostile import make_pdf_flate_bomb

    from rag.ingest.plain_reasons import plain_reason
    from rag.loaders.pdf_streams import check_streams

    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    bomb = make_pdf_flate_bomb(docs / "bomb.pdf")
    assert bomb.stat().st_size < 8 << 20
    note(docs / "good.txt", canary())
    with pytest.raises(Exception, match="too large when unpacked"):
        check_streams(bomb)
    check_streams(bomb, max_stream=2 << 30, max_page=2 << 30, max_total=4 << 30)  # bounded
    run = hearth(data, "index", docs, "--json", timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    files = {Path(f["path"]).name: f for f in run.json()["files"]}
    assert files["good.txt"]["status"] == "indexed"
    assert files["bomb.pdf"]["status"] == "failed"
    assert "too large when unpacked" in files["bomb.pdf"]["reason"], files["bomb.pdf"]
    assert plain_reason(files["bomb.pdf"]["reason"]).startswith("This file unpacks to far more")
    # The run's peak includes the embedder's, which varies up to ~2.2 GiB on a loaded machine
    # (see above): this bound catches an inflated bomb; the reader's own peak is measured alone.
    assert run.peak_rss < 3 << 30, run.peak_rss / 2**20
    import os
    import subprocess
    import sys

    # The reader alone, in a process of its own: VmHWM is the peak of this program (ru_maxrss
    # would count the forked test process before exec).
    reader = subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from rag.base.errors import LoadError\n"
        "from rag.loaders.pdf import load_pdf\n"
        "try:\n    load_pdf(Path(sys.argv[1]))\nexcept LoadError as e:\n    print(e)\n"
        "print([ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0])"),
        str(bomb)], capture_output=True, text=True, timeout=120, env={
            **os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    said = reader.stdout
    assert reader.returncode == 0 and "too large when unpacked" in said, said + reader.stderr
    peak_kib = int(said.split("VmHWM:")[1].split()[0])
    assert peak_kib < 512 << 10, peak_kib  # KiB: far under the 1 GiB the bomb unpacks to


def test_the_stream_limits_count_each_page_and_leave_images_out_of_the_total(tmp_path):
    """A page's content streams are counted together (PDFium joins them); a real manual passes
    all three limits in well under a second."""
    from hostile import make_pdf_flate_bomb
    from makedocs import make_pdf

    from rag.base.errors import LoadError
    from rag.loaders.pdf_streams import check_streams

    bomb = make_pdf_flate_bomb(tmp_path / "bomb.pdf", 40 << 20)
    check_streams(bomb)  # 40 MiB of page content: allowed
    with pytest.raises(LoadError, match="page 1 unpacks to more than"):
        check_streams(bomb, max_stream=64 << 20, max_page=32 << 20, max_total=1 << 30)
    with pytest.raises(LoadError, match="in all"):
        check_streams(bomb, max_stream=64 << 20, max_page=64 << 20, max_total=16 << 20)
    plain = make_pdf(tmp_path / "plain.pdf", ["An ordinary page of text."] * 3)
    t0 = time.perf_counter()
    check_streams(plain)
    assert time.perf_counter() - t0 < 1.0
