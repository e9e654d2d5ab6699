"""`hearth watch ...` through the real CLI entry point (in-process and as a subprocess)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.cli import run_cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_add_list_run_once_remove(tmp_path, capsys):
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    (docs / "owl.txt").write_text("Barn owls hunt mice at night.")
    (docs / "owl.txt~").write_text("editor backup: ignored")
    base = ["--data-dir", str(data)]

    assert run_cli(["watch", "add", str(docs), *base, "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["added"] == [str(docs)] and added["indexed"] == 1

    assert run_cli(["watch", "list", *base, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(f["path"], f["state"]) for f in listed] == [(str(docs), "idle")]

    (docs / "heron.txt").write_text("Grey herons stand still in shallow water.")
    (docs / "owl.txt").unlink()
    assert run_cli(["watch", "run", "--once", *base]) == 0
    out = capsys.readouterr().out
    assert "Indexed 1" in out and "removed 1" in out

    assert run_cli(["search", "herons in water", "-k", "1", *base, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["path"] == str(docs / "heron.txt")

    assert run_cli(["watch", "remove", str(docs), *base, "--json"]) == 0
    removed = json.loads(capsys.readouterr().out)
    assert removed == {"removed": [str(docs)], "forgotten": 1, "errors": []}
    assert run_cli(["watch", "list", *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run_cli(["watch", "remove", str(docs), *base]) == 1  # not watched any more


def test_forget_inside_a_watched_folder_keeps_it_out_until_indexed_again(tmp_path, capsys):
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    (docs / "keep.txt").write_text("Puffins nest in burrows on cliff tops.")
    gone = docs / "gone.txt"
    gone.write_text("Gannets dive into the sea from thirty metres.")
    base = ["--data-dir", str(data)]
    assert run_cli(["watch", "add", str(docs), *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["indexed"] == 2

    assert run_cli(["forget", str(gone), *base, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["forgotten"] == 1 and out["kept_out"] == [str(gone)]
    gone.write_text("Gannets dive into the sea from thirty metres, edited.")
    assert run_cli(["watch", "run", "--once", *base]) == 0  # reconciles the folder
    capsys.readouterr()
    assert run_cli(["status", *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 1
    assert run_cli(["watch", "list", *base]) == 0
    assert f"kept out (removed): {gone}" in capsys.readouterr().out

    assert run_cli(["index", str(gone), *base, "--json"]) == 0  # added again by hand
    assert json.loads(capsys.readouterr().out)["indexed"] == 1
    assert run_cli(["watch", "list", *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["excluded"] == []


def test_run_watches_until_ctrl_c(tmp_path):
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "app", "watch"]
    assert subprocess.run([*cmd, "add", str(docs)], env=env, cwd=ROOT,
                          capture_output=True, timeout=120).returncode == 0
    # SIGINT back to its default in the child: a runner started from a non-interactive shell
    # hands down SIGINT as ignored, and then Ctrl+C could never reach `watch run`.
    proc = subprocess.Popen([*cmd, "run", "--json"], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[dict] = []
    # A reader thread, so a silent child fails the test at its deadline instead of hanging it.
    pending: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: [*map(pending.put, proc.stdout), pending.put(None)],
                     daemon=True).start()

    def read_until(pred, timeout=120.0):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = pending.get(timeout=left)
            except queue.Empty:
                break
            if raw is None:
                break
            lines.append(json.loads(raw))
            if pred(lines[-1]):
                return lines[-1]
        pytest.fail(f"no matching status line; got {lines[-5:]}")

    try:
        read_until(lambda s: s.get("message") == "Up to date")
        (docs / "fox.md").write_text("# Foxes\nRed foxes cache food for winter.")
        read_until(lambda s: s.get("message") == "Up to date" and s["done"] >= 1)
        proc.send_signal(signal.SIGINT)
        final = read_until(lambda s: s.get("stopped"), timeout=30)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert final["indexed"] == 1
    states = [(s.get("message"), s["folders"][0]["state"]) for s in lines if "folders" in s]
    assert all(state == "watching" for _, state in states), "\n".join(map(str, states))
