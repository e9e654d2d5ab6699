"""OS-level proof of "zero network": the real `hearth` entry points, traced by the kernel.

Each test runs a real subprocess (the `hearth` console script, or `python -m app`) with none of the
offline switches pre-set, so the app must set them itself, under `strace -f` (every thread and
child), and asserts no connect/sendto/sendmsg ever named a non-loopback IPv4/IPv6 address. The
same pipeline then runs inside `unshare -rn` (a network namespace with no interfaces at all) and
must still index, search and answer. chroma silences telemetry when it sees pytest imported; a
fresh subprocess does not import pytest, so that shortcut cannot hide anything here.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import netcheck
import pytest
from makedocs import make_docx, make_html, make_pdf

pytestmark = pytest.mark.slow

MARKER = "quasarbellflower"  # a word only our test documents contain
QUESTION = "What colour is the quasarbellflower?"


def _skip_unless(reason: str | None) -> None:
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "notes.txt").write_text(
        f"Field notes. The {MARKER} is a deep violet flower that only opens at night. "
        "It grows on the north slope above the old mill.\n", encoding="utf-8")
    make_docx(folder / "garden.docx", [f"Garden plan: plant the {MARKER} near the pond."])
    make_html(folder / "page.html", "Flower page",
              [f"The {MARKER} smells of cloves.",
               "Remote image below must never be fetched."])
    make_pdf(folder / "report.pdf", [f"Report page one: {MARKER} seeds sprout in spring."])
    return folder


def hearth(*args: str) -> list[str]:
    return [*netcheck.hearth_command(), *args]


def traced(args: list[str], data: Path, trace: Path, timeout: float = 400,
           **env: str) -> netcheck.TracedRun:
    run = netcheck.run_traced(args, netcheck.clean_env(data, **env), trace, timeout=timeout)
    assert run.returncode == 0, run.explain()
    assert run.remote == [], "non-loopback network use:\n" + run.explain()
    assert run.lookups == [], "name lookups (DNS):\n" + run.explain()
    assert "privacy guard: blocked" not in run.stderr, run.stderr[-2000:]
    return run


# -- the proof's own proof -------------------------------------------------------------------

def test_parser_reads_strace_lines():
    sample = textwrap.dedent("""\
    101 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("93.184.216.34")}, 16) = -1 EINPROGRESS
    101 connect(4, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:4860::8888", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>
    102 sendto(5, ""..., 40, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 40
    102 connect(6, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 110) = 0
    103 sendmsg(7, {msg_name={sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, msg_namelen=28}, 0) = 1
    103 connect(8, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
    """)
    conns = netcheck.parse_strace(sample)
    assert [(c.syscall, c.address, c.port) for c in conns] == [
        ("connect", "93.184.216.34", 443), ("connect", "2001:4860::8888", 53),
        ("sendto", "127.0.0.53", 53), ("sendmsg", "::1", 9), ("connect", "127.0.0.1", 80)]
    assert [c.address for c in netcheck.remote_connections(sample)] == [
        "93.184.216.34", "2001:4860::8888"]


def test_strace_catches_a_real_remote_connect(tmp_path):
    """Positive control: an unguarded connect IS seen (run inside an empty netns: no packet)."""
    _skip_unless(netcheck.strace_available() or netcheck.netns_available())
    trace = tmp_path / "trace.txt"
    code = ("import socket\ns = socket.socket()\ntry:\n    s.connect(('192.0.2.1', 80))\n"
            "except OSError as e:\n    print(e)\n")
    netcheck.run_in_netns(["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace),
                           sys.executable, "-c", code], dict(os.environ), timeout=60)
    remote = netcheck.remote_connections(trace.read_text())
    assert [c.address for c in remote] == ["192.0.2.1"]


# -- the real entry points under strace ------------------------------------------------------

@pytest.fixture(scope="module")
def indexed(docs, tmp_path_factory) -> Path:
    """A library built by `hearth index` under strace (asserted clean inside)."""
    _skip_unless(netcheck.strace_available())
    data = tmp_path_factory.mktemp("data")
    run = traced(hearth("index", str(docs), "--json"), data, data.parent / "index.trace")
    report = json.loads(run.stdout)
    assert report["indexed"] == 4, report
    return data


def test_index_makes_no_network_calls(indexed):
    from rag.base.paths import loose_permissions

    assert (indexed / "library.sqlite3").exists() and (indexed / "chroma").is_dir()
    assert loose_permissions(indexed) == []  # the CLI wrote everything 0600/0700


def test_search_makes_no_network_calls(indexed, tmp_path):
    run = traced(hearth("search", MARKER, "--json"), indexed, tmp_path / "t")
    hits = json.loads(run.stdout)
    assert hits and any(MARKER in h["text"] for h in hits)


def test_ask_makes_no_network_calls(indexed, tmp_path):
    run = traced(hearth("ask", QUESTION, "--json", "--max-tokens", "24"), indexed, tmp_path / "t")
    answer = json.loads(run.stdout)
    assert answer["sources"] and any(MARKER in s["text"] for s in answer["sources"])
    assert answer["answer"].strip()


def test_status_and_forget_make_no_network_calls(docs, indexed, tmp_path):
    run = traced(hearth("status", "--json"), indexed, tmp_path / "t1")
    assert json.loads(run.stdout)["documents"] == 4
    run = traced(hearth("forget", str(docs / "notes.txt"), "--json"), indexed, tmp_path / "t2")
    assert json.loads(run.stdout)["forgotten"] == 1
    run = traced(hearth("index", str(docs / "notes.txt"), "--json"), indexed, tmp_path / "t3")
    assert json.loads(run.stdout)["indexed"] == 1


GUI_DRIVER = """
import json, os, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.gui.launch import application
from app.main import main

app = application(["hearth"])
asked = []

def report(tag, payload):
    print(tag + " " + json.dumps(payload), flush=True)
    app.quit()

def ask_when_ready():
    from app.gui.window import MainWindow
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    if asked or not windows or windows[0].backend._lib is None:
        return
    window = windows[0]
    asked.append(True)
    window.chat.input.setPlainText(os.environ["HEARTH_TEST_QUESTION"])
    window.send_action.trigger()  # the same action as Ctrl+Return
    op = window.chat.op
    op.succeeded.connect(lambda a: report("ANSWER", {
        "answer": a.answer, "model": a.model, "sources": [s.text for s in a.sources]}))
    op.failed.connect(lambda message: report("FAILED", message))

poll = QTimer()
poll.timeout.connect(ask_when_ready)
poll.start(100)
QTimer.singleShot(300_000, app.quit)  # a safety net for a hung session, not a sync point
sys.exit(main([]))
"""


def test_gui_session_makes_no_network_calls(indexed, tmp_path):
    """`hearth` with no arguments (offscreen): the window opens the library, with a watched folder
    whose image was read by OCR, a question is sent through the chat box, the model loads and
    answers, and only then does the app quit.

    The driver pre-creates the QApplication and a timer that waits for the library, then calls
    the same `app.main.main([])` as the `hearth` console script (which installs the guard).
    The driver's own 300 s timer is only a safety net for a hung session.
    """
    from test_ocr import scan_strip

    watched = tmp_path / "scans"
    watched.mkdir()
    scan_strip(tmp_path, f"Seed order: {MARKER} bulbs, two boxes.", "order").save(
        watched / "order.png")
    run = traced(hearth("watch", "add", str(watched), "--json"), indexed, tmp_path / "w.trace")
    assert json.loads(run.stdout)["indexed"] == 1  # the image, read by OCR, under strace
    run = traced([sys.executable, "-c", GUI_DRIVER], indexed, tmp_path / "gui.trace",
                 timeout=400, QT_QPA_PLATFORM="offscreen",
                 HEARTH_TEST_QUESTION=QUESTION)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith(("ANSWER ", "FAILED "))]
    assert lines and lines[0].startswith("ANSWER "), run.stdout[-2000:] + run.stderr[-2000:]
    answer = json.loads(lines[0][len("ANSWER "):])
    assert answer["answer"].strip() and answer["model"]
    assert any(MARKER in text for text in answer["sources"])


# -- no network at all: a namespace with no interfaces ----------------------------------------

def test_cli_works_without_any_network(docs, tmp_path):
    _skip_unless(netcheck.netns_available())
    data = tmp_path / "data"
    env = netcheck.clean_env(data)

    def run(*args: str):
        proc = netcheck.run_in_netns(hearth(*args), env, timeout=400)
        assert proc.returncode == 0, f"{args}: rc={proc.returncode}\n{proc.stderr[-3000:]}"
        assert "privacy guard: blocked" not in proc.stderr, proc.stderr[-2000:]
        return json.loads(proc.stdout)

    assert run("index", str(docs), "--json")["indexed"] == 4
    hits = run("search", MARKER, "--json")
    assert any(MARKER in h["text"] for h in hits)
    answer = run("ask", QUESTION, "--json", "--max-tokens", "24")
    assert answer["answer"].strip() and answer["sources"]
    assert run("status", "--json")["documents"] == 4
    assert run("forget", "--all", "--json")["all"] is True
    assert run("status", "--json")["documents"] == 0


def test_serve_answers_over_loopback_and_makes_no_network_calls(indexed, tmp_path):
    """`hearth serve` under strace: the OpenAI-compatible API answers a question on loopback."""
    import signal
    import subprocess

    import httpx

    env = netcheck.clean_env(indexed)
    token = subprocess.run(hearth("serve", "--show-token"), env=env, cwd=netcheck.REPO,
                           capture_output=True, text=True, timeout=120).stdout.strip()
    trace = tmp_path / "serve.trace"
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-s", "0", "-e", f"trace={netcheck.TRACED_SYSCALLS}", "-e",
         "signal=none", "-o", str(trace), *hearth("serve", "--port", "0", "--json")],
        env=env, cwd=netcheck.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # printed once the model is loaded and the port listens
        assert line, proc.stderr.read()[-3000:]
        url = json.loads(line)["urls"][0]
        reply = httpx.post(url + "/chat/completions", timeout=300,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"model": "hearth", "max_tokens": 16,
                                 "messages": [{"role": "user", "content": QUESTION}]})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["choices"][0]["message"]["content"].strip()
        assert any(MARKER in s["text"] for s in body["sources"])
    finally:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGTERM)
        proc.wait(timeout=60)
    text = trace.read_text()
    assert "socket(AF_INET" in text  # the trace saw the server's own listening socket
    assert netcheck.remote_connections(text) == [], netcheck.remote_connections(text)[:20]
    assert netcheck.name_lookups(text) == [], netcheck.name_lookups(text)[:20]
