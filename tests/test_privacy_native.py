"""Zero network below Python: the kernel filter (rag/offline/sandbox.py) and native telemetry.

Real parts: the real seccomp filter in fresh processes, libc's own socket() called through
ctypes (past Python's audit hook, as native code would), the real file-reading child, and the
real `hearth watch` reading text, a PDF, a scanned PDF and two images with the real OCR engine
(onnxruntime), under `strace -f`, then kept alive past onnxruntime's telemetry delay. The
environment is a user's: no offline switch and no CI variable pre-set (onnxruntime stays quiet
by itself when it sees one), so only Hearth's own switches can keep it quiet.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import netcheck
import pytest
from makedocs import make_pdf
from test_ocr import scan_strip

from rag.loaders import ocr
from rag.offline import sandbox

ROOT = Path(__file__).resolve().parents[1]
NO_FILTER = sandbox.unavailable_reason()
needs_filter = pytest.mark.skipif(NO_FILTER is not None, reason=NO_FILTER or "")
QUIET_S = 65  # onnxruntime's uploader first wakes about 9 s after a session; a minute covers it

PROBE = textwrap.dedent("""
    import ctypes, json, socket, sys, threading
    from rag.offline import sandbox

    libc = ctypes.CDLL(None, use_errno=True)

    def try_socket(family, kind):
        fd = libc.socket(int(family), int(kind), 0)
        if fd >= 0:
            libc.close(fd)
            return "opened"
        return f"errno {ctypes.get_errno()}"

    kinds = {"udp": (socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK),
             "udp6": (socket.AF_INET6, socket.SOCK_DGRAM), "tcp": (socket.AF_INET,
             socket.SOCK_STREAM), "tcp6": (socket.AF_INET6, socket.SOCK_STREAM),
             "unix": (socket.AF_UNIX, socket.SOCK_STREAM)}
    ready, go, early = threading.Event(), threading.Event(), {}

    def started_before():  # a native thread that already runs when the filter goes on
        ready.set()
        go.wait()
        early["udp"] = try_socket(*kinds["udp"])

    thread = threading.Thread(target=started_before)
    thread.start()
    ready.wait()
    reason = getattr(sandbox, sys.argv[1])()
    go.set()
    thread.join()
    print(json.dumps({"reason": reason, "early": early,
                      **{name: try_socket(*args) for name, args in kinds.items()}}))
""")


def probe(mode: str) -> dict:
    run = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_filter_program_jumps_only_forward_to_its_two_returns():
    for arch in ("x86_64", "aarch64"):
        for streams in (True, False):
            insns = sandbox.program(arch, streams)
            assert [code for code, *_ in insns[-2:]] == [0x06, 0x06]
            for i, (code, jt, jf, _k) in enumerate(insns[:-2]):
                if code in (0x15, 0x35):  # a conditional jump: both targets inside the program
                    assert i + 1 + max(jt, jf) < len(insns), (arch, i)


@needs_filter
def test_the_kernel_refuses_native_sockets_in_every_thread():
    errno_perm = "errno 1"
    full = probe("deny_network")
    assert full["reason"] is None
    assert [full[k] for k in ("udp", "udp6", "tcp", "tcp6")] == [errno_perm] * 4
    assert full["unix"] == "opened" and full["early"] == {"udp": errno_perm}
    streams = probe("deny_datagrams")  # the `hearth` CLI: TCP for loopback and the team server
    assert streams["reason"] is None
    assert [streams[k] for k in ("udp", "udp6")] == [errno_perm] * 2
    assert streams["tcp"] == streams["tcp6"] == streams["unix"] == "opened"
    assert streams["early"] == {"udp": errno_perm}


@needs_filter
def test_the_file_reader_child_has_no_network(tmp_path):
    import load_plugins  # registers .phone (the child imports it too)

    from rag.loaders.worker import load_isolated

    hostile = tmp_path / "payload.phone"
    hostile.write_text("calls home")
    gen = load_isolated(hostile)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            doc = stop.value
            break
    assert doc.pages[0].text == "udp=errno1 tcp=errno1 tcp6=errno1"
    # The same parser here, in the test's process without the filter, does get its sockets:
    # the child's answer above is the filter's doing, not this machine's.
    assert load_plugins.load_phone(hostile).pages[0].text.count("opened") == 3


def test_onnxruntime_telemetry_is_switched_off_by_hearths_environment():
    from rag.offline.privacy import OFFLINE_ENV

    assert OFFLINE_ENV["ORT_DISABLE_TELEMETRY"] == "1"  # the name onnxruntime 1.2x reads


@pytest.mark.slow
@pytest.mark.skipif(ocr.unavailable_reason() is not None, reason=ocr.unavailable_reason() or "")
def test_watching_a_folder_with_ocr_makes_no_network_calls_for_a_minute_after(tmp_path):
    """`hearth watch run` under strace: four formats arrive, two of them read by OCR, and the
    process then lives on for QUIET_S seconds, past the delay of onnxruntime's telemetry."""
    reason = netcheck.strace_available()
    if reason:
        pytest.skip(reason)
    data, docs = tmp_path / "data", tmp_path / "docs"
    docs.mkdir()
    env = {**netcheck.clean_env(data), "PYTHONUNBUFFERED": "1"}
    hearth = netcheck.hearth_command()
    add = subprocess.run([*hearth, "watch", "add", str(docs)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    trace = tmp_path / "watch.trace"
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-s", "0", "-e", f"trace={netcheck.TRACED_SYSCALLS}", "-e",
         "signal=none", "-o", str(trace), *hearth, "watch", "run", "--json"],
        env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: [*map(lines.put, proc.stdout), lines.put(None)],
                     daemon=True).start()

    def status_until(pred, timeout: float = 300.0) -> dict:
        deadline, seen = time.monotonic() + timeout, []
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = lines.get(timeout=left)
            except queue.Empty:
                break
            if raw is None:
                break
            seen.append(json.loads(raw))
            if pred(seen[-1]):
                return seen[-1]
        pytest.fail(f"no matching status line; got {seen[-5:]}; {proc.stderr.read()[-2000:]}")

    try:
        status_until(lambda s: s.get("message") == "Up to date")
        (docs / "notes.txt").write_text("The heron pond is drained every March.")
        make_pdf(docs / "report.pdf", ["Quarterly report: the orchard gave 412 kg of pears."])
        strip = scan_strip(tmp_path, "The boiler was serviced on 14 May by Kestrel Heating.",
                           "boiler")
        strip.save(docs / "boiler.png")
        strip.convert("RGB").save(docs / "scan.pdf")  # an image-only PDF, like a scanner's
        status_until(lambda s: s.get("message") == "Up to date" and s["done"] >= 4)
        ocr_done = time.monotonic()
        # The observation window the proof needs (not a wait for an event): the uploader of a
        # telemetry-enabled onnxruntime wakes seconds after a session and then keeps retrying.
        time.sleep(QUIET_S)
        hearth_pid = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
        os.kill(hearth_pid, signal.SIGINT)
        final = status_until(lambda s: s.get("stopped"), timeout=60)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - ocr_done >= QUIET_S
    assert final["indexed"] == 4, final
    search = subprocess.run([*hearth, "search", "Kestrel boiler service", "--json", "-k", "2"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    hits = json.loads(search.stdout)
    assert {Path(h["path"]).name for h in hits} == {"boiler.png", "scan.pdf"}  # OCR really ran
    assert all(ocr.is_ocr_text(h["text"]) for h in hits)
    text = trace.read_text()
    assert netcheck.remote_connections(text) == [], netcheck.remote_connections(text)[:20]
    assert netcheck.name_lookups(text) == [], netcheck.name_lookups(text)[:20]


CONTROL = textwrap.dedent("""
    import sys, time
    import numpy as np
    from rag.loaders import ocr

    ocr.ocr_array((np.random.default_rng(1).random((64, 256, 3)) * 255).astype("uint8"))
    print("recognised", flush=True)
    time.sleep(float(sys.argv[1]))
""")


@pytest.mark.slow
@pytest.mark.skipif(ocr.unavailable_reason() is not None, reason=ocr.unavailable_reason() or "")
def test_the_proof_sees_onnxruntime_telemetry_when_the_switch_is_left_out(tmp_path):
    """Positive control for the test above, in an empty network namespace (nothing can leave):
    the same OCR without Hearth's switch makes onnxruntime look up its telemetry host within
    seconds; with Hearth's environment it looks up nothing in the same time."""
    reason = netcheck.netns_available() or netcheck.strace_available()
    if reason:
        pytest.skip(reason)
    from rag.offline.privacy import OFFLINE_ENV

    def run(env: dict[str, str], name: str) -> str:
        trace = tmp_path / f"{name}.trace"
        proc = subprocess.run(
            ["unshare", "-rn", "strace", "-f", "-qq", "-s", "0", "-e",
             f"trace={netcheck.TRACED_SYSCALLS}", "-o", str(trace), sys.executable, "-c",
             CONTROL, "30"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "recognised" in proc.stdout, proc.stderr[-2000:]
        return trace.read_text()

    bare = netcheck.clean_env(tmp_path / "data")
    assert netcheck.name_lookups(run(bare, "bare")), "onnxruntime made no lookup without the switch"
    assert netcheck.name_lookups(run({**bare, **OFFLINE_ENV}, "hearth")) == []
