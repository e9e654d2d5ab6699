"""Reading limits and cancel (issue 14): files are read in a warm child process with a time and
a memory limit, cancel stops between pages and between embedding batches, and every document
ends in a true state (indexed, its previous version, or not started).

Real parts: the Library, real chroma, the real embedder (timed, not replaced), real files, the
real child process; `.hang`/`.bloat` are plugin loaders that really loop and really allocate.
Cancels are fired from the progress callback when the run is provably in the step under test.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from bench.common import CountingEmbedder
from bench.pdfgen import positioned_pdf
from rag.base.cancel import CancelToken
from rag.ingest.plain_reasons import plain_reason
from rag.library import Library
from rag.loaders import worker


class TimedEmbedder(CountingEmbedder):
    """The real embedder, with the start and end time of every call kept."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.spans: list[tuple[float, float]] = []

    def embed(self, texts):
        t0 = time.monotonic()
        try:
            return super().embed(texts)
        finally:
            self.spans.append((t0, time.monotonic()))

    def busy_after(self, t: float) -> float:
        """Seconds spent inside embed() after time t (the call in flight at a cancel)."""
        return sum(max(0.0, end - max(start, t)) for start, end in self.spans)


def statuses(lib) -> dict[str, str]:
    return {Path(r.path).name: r.status for r in lib.documents()}


def test_runaway_parsers_are_stopped_and_the_batch_goes_on(tmp_path, embedder, monkeypatch):
    import load_plugins  # noqa: F401 - registers .hang and .bloat (the child imports it too)

    monkeypatch.setenv("HEARTH_LOAD_SECONDS", "3")
    monkeypatch.setenv("HEARTH_LOAD_MEMORY_MB", "300")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpacas hum quietly when they are content in the field.")
    (docs / "b.hang").write_text("never finishes")
    (docs / "c.bloat").write_text("grows without end")
    (docs / "d.txt").write_text("Dormice sleep through most of the winter in warm nests.")
    children: set[int] = set()

    def progress(_p) -> None:
        children.update(w.proc.pid for w in worker._idle)

    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        report = lib.index([docs], progress=progress)
        by = {Path(o.path).name: o for o in report.outcomes}
        assert by["a.txt"].status == by["d.txt"].status == "indexed"
        assert by["b.hang"].status == "failed", by["b.hang"]
        assert by["b.hang"].reason.startswith("took too long to read"), by["b.hang"].reason
        assert by["c.bloat"].status == "failed", by["c.bloat"]
        assert "too much memory" in by["c.bloat"].reason, by["c.bloat"].reason
        assert plain_reason(by["b.hang"].reason).startswith("Reading this file took too long")
        assert plain_reason(by["c.bloat"].reason).startswith("Reading this file needed too much")
        assert statuses(lib) == {"a.txt": "indexed", "b.hang": "failed", "c.bloat": "failed",
                                 "d.txt": "indexed"}
        assert lib.search("dormice winter nests", k=1)[0].path.endswith("d.txt")
    # the stopped children are gone, not left spinning or holding memory
    alive = [pid for pid in children if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert all(pid in {w.proc.pid for w in worker._idle} for pid in alive)


def test_cancel_while_a_pdf_is_read_stops_between_pages(tmp_path, embedder):
    pdf = tmp_path / "big.pdf"
    positioned_pdf(pdf, ["First version ostrichmark page one."] * 3)
    token = CancelToken()
    seen: dict[str, float] = {}

    def progress(p) -> None:
        if p.stage == "reading" and p.pages_total > 100 and not token.cancelled:
            seen["pages"] = p.pages_done
            seen["t"] = time.monotonic()
            token.cancel()

    with Library.open(tmp_path / "data", embedder=embedder) as lib:
        lib.index([pdf])
        before = lib.documents()[0]
        warm = {w.proc.pid for w in worker._idle}
        positioned_pdf(pdf, [f"Second version page {n} emumark." for n in range(4000)])
        report = lib.index([pdf], progress=progress, cancel=token)
        latency = time.monotonic() - seen["t"]
        assert report.cancelled
        assert seen["pages"] < 4000  # it was mid-file when cancelled
        assert latency <= 1.0, latency
        after = lib.documents()[0]
        assert (after.status, after.sha256, after.chunks) == ("indexed", before.sha256,
                                                              before.chunks)
        assert lib.search("ostrichmark", k=1, mode="keyword")[0].path == str(pdf)
        assert lib.search("emumark", k=1, mode="keyword") == []
        # stopped by its own check between pages: the same warm child reads the next file
        assert warm & {w.proc.pid for w in worker._idle}
    print(f"\ncancel during a 4,000-page PDF read: stopped in {latency * 1000:.0f} ms")


def test_cancel_while_embedding_leaves_previous_versions(tmp_path, embedder):
    timed = TimedEmbedder(embedder)
    docs = tmp_path / "docs"
    docs.mkdir()
    old = docs / "old.txt"
    old.write_text("Version one of the notes: the heron waits by the pond.")
    new = docs / "new.txt"
    token = CancelToken()
    seen: dict[str, float] = {}

    def progress(p) -> None:
        if p.stage == "embedding" and p.chunks_done > 0 and not token.cancelled:
            seen["t"] = time.monotonic()
            seen["calls"] = timed.calls
            token.cancel()

    with Library.open(tmp_path / "data", embedder=timed) as lib:
        lib.index([docs])
        before = lib.documents()[0]
        paragraphs = [f"Paragraph {i} of version two: kingfisher{i} dives for fish near the "
                      "reeds, then returns to the same branch to eat." for i in range(400)]
        old.write_text("\n\n".join(paragraphs))
        new.write_text("\n\n".join(paragraphs[:50]))
        report = lib.index([docs], progress=progress, cancel=token)
        done = time.monotonic()
        assert report.cancelled
        assert timed.calls - seen["calls"] <= 2  # the call in flight, at most one more
        latency = done - seen["t"] - timed.busy_after(seen["t"])
        assert latency <= 1.0, latency
        assert "indexing" not in statuses(lib).values()
        assert statuses(lib) == {"old.txt": "indexed"}  # new.txt: not started
        after = lib.documents()[0]
        assert (after.sha256, after.chunks) == (before.sha256, before.chunks)
        assert lib.unfinished() == []
        assert lib.search("heron pond", k=1)[0].path == str(old)
        assert lib.search("kingfisher3", k=1, mode="keyword") == []
    print(f"\ncancel while embedding: stopped {latency * 1000:.0f} ms after the batch in "
          f"flight ({done - seen['t']:.2f} s in all)")


PARENT = """
import sys
sys.path.insert(0, sys.argv[1])
import load_plugins  # noqa: F401
from rag.loaders import worker
gen = worker.load_isolated(sys.argv[2], time_limit=600)
next(gen)  # the child has started on the file
print(gen.gi_frame.f_locals["worker"].proc.pid, flush=True)
sys.stdin.readline()  # killed while it waits here
"""


def test_a_killed_indexer_takes_its_reader_child_with_it(tmp_path):
    import signal
    import subprocess
    import sys

    hang = tmp_path / "stuck.hang"
    hang.write_text("never finishes")
    tests = str(Path(__file__).resolve().parent)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, tests, str(hang)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(tests).parent)
    child = psutil.Process(int(parent.stdout.readline()))
    assert child.is_running() and child.ppid() == parent.pid
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    gone, alive = psutil.wait_procs([child], timeout=10)
    assert alive == [], "the loader child outlived its killed parent"
