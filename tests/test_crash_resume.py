"""Kill -9 mid-index, reopen, finish: nothing duplicated, nothing lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
N_FILES = 400


def indexed_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM documents WHERE status='indexed'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_mid_index_then_rerun_completes_without_duplicates(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(N_FILES):
        (docs / f"note{i:04d}.txt").write_text(
            f"Note {i}. " + " ".join(f"Observation {i}-{j} concerns topic {(i * j) % 97} and its "
                                     f"measured value {i * 31 + j}." for j in range(12)))
    data = tmp_path / "data"
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(docs), "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    db = data / "library.sqlite3"
    deadline = time.monotonic() + 240
    while indexed_count(db) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    done_at_kill = indexed_count(db)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < done_at_kill < N_FILES, f"kill should land mid-run ({done_at_kill})"

    from rag.library import Library

    with Library.open(data, embedder=embedder) as lib:
        indexed_before = lib.status()["by_status"].get("indexed", 0)
        interrupted = {r.path for r in lib.unfinished()}
        resumed = lib.resume()
        assert {o.path for o in resumed.outcomes if o.status == "indexed"} == interrupted
        assert lib.unfinished() == []
        report = lib.index([docs])
        assert report.count("unchanged") == indexed_before + len(interrupted)
        assert report.count("indexed") == N_FILES - indexed_before - len(interrupted)
        status = lib.status()
        assert status["by_status"] == {"indexed": N_FILES}, status
        assert report.count("failed") == 0
        # every chunk exactly once: vectors == text rows, and ids unique per document ordinal
        assert lib.store.count() == status["chunks"]
        per_doc = [d.chunks for d in lib.documents()]
        assert sum(per_doc) == status["chunks"] and min(per_doc) >= 1
        hit = lib.search("Observation 123-5 measured value", k=1, mode="keyword")[0]
        assert hit.path.endswith("note0123.txt")
