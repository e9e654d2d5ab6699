"""A reader is a reader, even on a fresh folder (issue 27, item 1): it creates nothing, never
takes the writer lock, and sees what a writer adds afterwards. Real Library, real chroma, and
the real `hearth serve` and `hearth index` processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hostile import canary, note

from rag.library import Library

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_a_reader_on_a_fresh_folder_creates_nothing_and_sees_the_writers_documents(
        tmp_path, embedder):
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    word = canary()
    note(docs / "heron.txt", f"Grey herons stand in the shallows. Marker {word}.")
    with Library.open(data, embedder=embedder, reads_only=True) as reader:
        assert reader.search("herons", k=3) == [] and reader.status()["chunks"] == 0
        assert not data.exists()  # not even the folder
        with Library.open(data, embedder=embedder, owner="test writer") as writer:  # no lock
            assert writer.index([docs]).count("indexed") == 1
        assert reader.status()["documents"] == 1  # current counts, without reopening
        hits = reader.search(word, k=1)
        assert hits and word in hits[0].text


def test_serve_on_a_fresh_folder_then_index_it(tmp_path):
    """The reproduction from the issue: `hearth serve` first, then `hearth index` on the same
    fresh folder was refused ("in use by `hearth serve`"). Now the index runs and the server
    finds what was added."""
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    word = canary()
    note(docs / "kite.txt", f"The red kite circles over the valley. Marker {word}.")
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    hearth = [sys.executable, "-m", "app"]
    token = subprocess.run([*hearth, "serve", "--show-token"], env=env, cwd=ROOT, text=True,
                           capture_output=True, timeout=120).stdout.strip()
    server = subprocess.Popen([*hearth, "serve", "--port", "0", "--json"], env=env, cwd=ROOT,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = server.stdout.readline()  # once the model is loaded and the port listens
        assert line, server.stderr.read()[-3000:]
        url = json.loads(line)["urls"][0]
        assert not (data / "library.lock").exists() or \
            "serve" not in (data / "library.lock").read_text()
        index = subprocess.run([*hearth, "index", str(docs), "--json"], env=env, cwd=ROOT,
                               text=True, capture_output=True, timeout=300)
        assert index.returncode == 0, index.stderr[-2000:]
        assert json.loads(index.stdout)["indexed"] == 1
        found = httpx.post(url + "/search", json={"query": word, "k": 1}, timeout=60,
                           headers={"Authorization": f"Bearer {token}"})
        assert found.status_code == 200, found.text
        assert word in json.dumps(found.json())
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
