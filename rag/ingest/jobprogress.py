"""Progress over a whole indexing job: one monotonic fraction and an ETA that holds still.

Why: counting files as they were discovered made the bar run 100% -> 24% and the ETA swing from
0 s to 5 minutes. Here every file is found and weighed first (its size in bytes, a fixed weight
that never changes), and each file's own progress only moves forward: reading (pages), OCR
(pages) and embedding (chunks) fill its share. The fraction is the weighted sum, so it can only
grow, and the ETA is elapsed time * (1 - f) / f: a cumulative rate, which moves slowly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

from rag.base.types import IndexProgress, IndexReport

MIN_WEIGHT = 16 * 1024  # a tiny file still costs a model call and a commit
READ_SHARE = 0.05  # of a file's weight: reading its text (cheap next to embedding it)
OCR_SHARE = 0.8  # ...when its pages are being recognised (OCR is the slow part then)
ETA_AFTER = 0.05  # no ETA before this much of the job is done (the rate means little yet)
# OCR of one page takes seconds with no page finished in between, so a page's share fills with
# time at the pace of the pages recognised so far (this process), up to IN_PAGE_CAP of it. Before
# any page was timed, a first guess: one A4 scan took 6-14 s with rapidocr on a 2-core laptop.
OCR_FIRST_GUESS_S = 10.0
IN_PAGE_CAP = 0.9
_ocr_pace: list[float] = []  # seconds per OCR'd page, latest estimate last


class JobProgress:
    """Weights fixed at discovery; per-file progress in [0, 1], never decreasing."""

    def __init__(self, prog: IndexProgress) -> None:
        self.prog = prog
        self.weights: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.read_share: dict[str, float] = {}
        self.total = 0.0
        self.finished = 0.0  # weight of files already complete
        self.t0 = time.monotonic()
        self._ocr: tuple[str, int, int, float] | None = None  # key, pages done, total, since

    def add(self, key: str, size: int) -> None:
        """Weigh a file that needs work (size in bytes)."""
        w = float(max(size, MIN_WEIGHT))
        self.weights[key] = self.weights.get(key, 0.0) + w
        self.total += w

    def start(self) -> None:
        """Discovery is over: the clock for the ETA starts now."""
        self.t0 = time.monotonic()
        self._update()

    def reading(self, key: str, stage: str, done: int, total: int) -> None:
        if key not in self.weights or total <= 0:
            return
        share = self.read_share.get(key, READ_SHARE)
        if stage == "ocr":
            share = self.read_share[key] = OCR_SHARE
            self._ocr_page(key, done, total)
        else:
            self._ocr = None
        self._set(key, share * min(1.0, done / total))
        self.prog.stage = "recognising text (OCR)" if stage == "ocr" else "reading"
        self.prog.pages_done, self.prog.pages_total = done, total

    def embedded(self, key: str, done: int, total: int) -> None:
        if key not in self.weights:
            return
        share = self.read_share.get(key, READ_SHARE)
        self._set(key, share + (1.0 - share) * (min(1.0, done / total) if total else 1.0))

    def complete(self, key: str) -> None:
        self._ocr = None
        self._set(key, 1.0)

    def tick(self) -> IndexProgress:
        """The report, with elapsed time and ETA brought up to now (while a file is read): during
        OCR the page being recognised fills its share at the pace pages have taken."""
        ocr = self._ocr
        if ocr is None or ocr[1] >= ocr[2]:
            self._update()
            return self.prog
        key, done, total, since = ocr
        pace = ocr_pace()
        in_page = min(IN_PAGE_CAP, (time.monotonic() - since) / pace)
        self._set(key, OCR_SHARE * (done + in_page) / total)
        if self.prog.eta_s is None:  # early in the job: at least the pages still to recognise
            self.prog.eta_s = (total - done - in_page) * pace
        return self.prog

    def _ocr_page(self, key: str, done: int, total: int) -> None:
        """A page began (or the file's first report): time the page just finished."""
        now, last = time.monotonic(), self._ocr
        if last is not None and last[0] == key and done == last[1]:
            return
        if last is not None and last[0] == key and done > last[1]:
            took = (now - last[3]) / (done - last[1])
            _ocr_pace.append(took if not _ocr_pace else 0.5 * _ocr_pace[-1] + 0.5 * took)
            del _ocr_pace[:-1]
        self._ocr = (key, done, total, now)

    def _set(self, key: str, value: float) -> None:
        old = self.done.get(key, 0.0)
        if value > old and key in self.weights:
            self.done[key] = value
            self.finished += (value - old) * self.weights[key]
        self._update()

    def _update(self) -> None:
        p = self.prog
        f = 1.0 if self.total <= 0 else min(1.0, self.finished / self.total)
        p.fraction = max(p.fraction, f)
        p.elapsed_s = time.monotonic() - self.t0
        p.eta_s = (p.elapsed_s * (1.0 - p.fraction) / p.fraction
                   if p.fraction > ETA_AFTER and p.elapsed_s > 0 else None)


def ocr_pace() -> float:
    """Seconds one page of OCR takes here: measured on the pages recognised so far."""
    return _ocr_pace[-1] if _ocr_pace else OCR_FIRST_GUESS_S


def embedder_cold(embedder) -> bool:  # noqa: ANN001
    """True while the embedder's model is not loaded yet: the job then says "Loading the
    embedding model" (seconds on a cold start) and keeps that time out of its rate."""
    inner = getattr(embedder, "inner", embedder)
    return hasattr(embedder, "load") and getattr(inner, "_model", object()) is None


def run_to_report(steps: Generator[IndexProgress, None, IndexReport],
                  progress: Callable[[IndexProgress], None] | None = None) -> IndexReport:
    """Run an indexing job's steps to its report, handing each step to `progress`: how a
    library's blocking `index` (CLI, watcher, tests) runs what the GUI's writer lane streams."""
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(step)
