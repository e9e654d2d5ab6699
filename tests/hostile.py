"""Hostile files made on the spot, and a `hearth` subprocess runner that measures its peak RSS.

Why a module: the regression tests (tests/test_hostile_files.py) and the fault-injection suite
(tests/test_faults.py) feed the real CLI the same kinds of files.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILLER = " ".join(f"The ferry timetable lists crossing number {i} at the harbour." for i in range(40))


def canary() -> str:
    """Lower-case letters/digits ending in "xk": FTS5's porter stemmer leaves it unchanged."""
    return "qz" + uuid.uuid4().hex[:20] + "xk"


def note(path: Path, word: str) -> Path:
    path.write_text(f"Note about {word}. {FILLER} The code word is {word}.", encoding="utf-8")
    return path


# --- hostile files ---------------------------------------------------------------------------
def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_dev_zero_link(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def make_bad_name(folder: Path, word: str) -> Path:
    """A text file whose name holds bytes that are not UTF-8 (legal on Linux)."""
    raw = os.fsencode(folder) + b"/bad\xff\xfe" + word.encode() + b".txt"
    with open(raw, "wb") as fh:
        fh.write(f"A note with a broken file name, about {word}. {FILLER}".encode())
    return Path(os.fsdecode(raw))


def make_deep_html(path: Path, depth: int = 100_000) -> Path:
    path.write_text("<html><body>" + "<div>" * depth + "deep text at the bottom"
                    + "</div>" * depth + "</body></html>", encoding="utf-8")
    return path


def make_zip_bomb_docx(path: Path, inflated: int = 160 << 20) -> Path:
    """A small .docx whose word/document.xml inflates to `inflated` bytes."""
    block = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>" * 4096
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            written = 0
            while written < inflated:
                fh.write(block)
                written += len(block)
    return path


def make_pdf_flate_bomb(path: Path, inflated: int = 1 << 30) -> Path:
    """A one-page PDF (about 1 MB) whose content stream inflates to `inflated` bytes of a text
    operator PDFium must run, with a correct xref table."""
    import zlib

    squash = zlib.compressobj(9)
    unit = b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n" * 4096
    parts = [squash.compress(unit) for _ in range(inflated // len(unit) + 1)]
    stream = b"".join(parts) + squash.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
               + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def make_sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of `size` bytes that takes (almost) no disk: `head`, then a hole."""
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def make_huge_word(path: Path, n: int = 5 * 1024 * 1024) -> Path:
    path.write_text("# One long word\n\n" + "x" * n + "\n", encoding="utf-8")
    return path


def make_nested_gguf(path: Path, depth: int = 5000) -> Path:
    """A GGUF v3 header whose only metadata value is an array nested `depth` levels deep."""
    key = b"general.evil"
    out = [b"GGUF", struct.pack("<IQQ", 3, 0, 1), struct.pack("<Q", len(key)), key,
           struct.pack("<I", 9)]
    out += [struct.pack("<IQ", 9, 1)] * (depth - 1)
    out += [struct.pack("<IQ", 4, 1), struct.pack("<I", 7)]
    path.write_bytes(b"".join(out) + b"\0" * 64)
    return path


# --- running the real CLI --------------------------------------------------------------------
@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int  # bytes: `hearth` and the children it reaped (wait4 in a small launcher)

    def json(self):
        return json.loads(self.stdout)


def hearth_env(data: Path) -> dict:
    return {**os.environ, "HEARTH_DATA_DIR": str(data), "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def start(data: Path, *args: str | os.PathLike, quiet: bool = False) -> subprocess.Popen:
    """`hearth ARGS` started; `quiet`: its output is dropped (nobody reads a process we kill)."""
    out = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "app", *map(os.fspath, args)],
                            env=hearth_env(data), cwd=ROOT, stdout=out, stderr=out)


# A small launcher forks `hearth` and reports the child's rusage. Why not wait4 on a child of
# the test process: a child forked from a process of several GB starts with that process's pages
# mapped, and the kernel keeps that high-water mark across exec, so ru_maxrss measured pytest
# (4.3 GB late in the suite), not `hearth`. Forked from the launcher, `hearth` starts small; its
# ru_maxrss covers it and the children it reaped (the file-reading child).
_LAUNCH = ("import os, sys\n"
           "pid = os.fork()\n"
           "if pid == 0:\n"
           "    os.execv(sys.executable, [sys.executable, '-m', 'app', *sys.argv[2:]])\n"
           "_, status, usage = os.wait4(pid, 0)\n"
           "with open(sys.argv[1], 'w') as fh:\n"
           "    fh.write(str(usage.ru_maxrss))\n"
           "sys.exit(os.waitstatus_to_exitcode(status))\n")


def hearth(data: Path, *args: str | os.PathLike, timeout: float = 300) -> Run:
    """Run `hearth ARGS` to the end (killed after `timeout`), with its own peak RSS."""
    import tempfile
    import threading

    t0 = time.monotonic()
    with tempfile.NamedTemporaryFile(prefix="hearth-rss-", delete=False) as fh:
        report = Path(fh.name)
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, str(report), *map(os.fspath, args)],
                            env=hearth_env(data), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)

    out: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k=k, s=s: out.__setitem__(k, s.read()))
               for k, s in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
    for r in readers:
        r.join()
    said = report.read_text().strip()
    report.unlink(missing_ok=True)
    peak = int(said) * 1024 if said else 0  # nothing written: the run was killed
    return Run(proc.returncode, out["out"].decode("utf-8", "replace"),
               out["err"].decode("utf-8", "replace"), time.monotonic() - t0, peak)


def kill_when(proc: subprocess.Popen, condition, timeout: float = 240) -> bool:
    """SIGKILL `proc` as soon as `condition()` holds; False if it ended first (not killed)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if condition():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        raise AssertionError("the process neither met the condition nor ended")
    return False


def holds_lock(data: Path, pid: int) -> bool:
    """The process `pid` has opened the library (its note is in library.lock)."""
    try:
        return json.loads((data / "library.lock").read_text() or "{}").get("pid") == pid
    except (OSError, ValueError):
        return False


def kill_after_open(proc: subprocess.Popen, data: Path, delay: float) -> tuple[bool, float]:
    """SIGKILL `proc` `delay` seconds after it opened the library (startup imports are not
    where faults matter). Returns (killed, seconds from opening to the kill or the end)."""
    opened: list[float] = []

    def due() -> bool:
        if not opened:
            if holds_lock(data, proc.pid):
                opened.append(time.monotonic())
            return False
        return time.monotonic() - opened[0] >= delay

    killed = kill_when(proc, due)
    return killed, (time.monotonic() - opened[0]) if opened else 0.0


def find_in_dir(root: Path, needles: dict[str, bytes]) -> list[str]:
    """'<needle> in <file>' for every needle found in any regular file under root."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{name} in {path.relative_to(root)}" for name, n in needles.items()
                      if n in data]
    return found


def library_ids(data: Path, embedder) -> tuple[set[str], set[str]]:
    """(chunk ids in the manifest, vector ids in chroma), through the real library."""
    from rag.library import Library

    with Library.open(data, embedder=embedder, owner="test invariants") as lib:
        manifest = {cid for d in lib.documents() for cid in lib.manifest.chunk_ids(d.id)}
        chroma = set(lib.store._col.get(include=[])["ids"])
    return manifest, chroma
