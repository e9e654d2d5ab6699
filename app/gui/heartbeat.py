"""Measure GUI responsiveness: a timer that should fire every `interval_ms` records how late it is.

Why: "the window never blocks" is the app's main quality bar; a stall of the event loop shows up
as a heartbeat that fires late. Used by tests, the benchmark and (with HEARTH_HEARTBEAT=1) to log
stalls in a running app.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Qt, QTimer

log = logging.getLogger(__name__)


class Heartbeat(QObject):
    """Records the gap between consecutive ticks in excess of the interval (the stall)."""

    def __init__(
        self, interval_ms: int = 10, log_over_ms: float | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.log_over_ms = log_over_ms
        self.stalls_ms: list[float] = []
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.stalls_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        late = max(0.0, (now - self._last) * 1000.0 - self.interval_ms)
        self._last = now
        self.stalls_ms.append(late)
        if self.log_over_ms is not None and late > self.log_over_ms:
            log.warning("event loop stalled for %.0f ms", late)

    @property
    def ticks(self) -> int:
        return len(self.stalls_ms)

    def percentile(self, p: float) -> float:
        """The p-th percentile stall in ms (nearest-rank); 0.0 before any tick."""
        if not self.stalls_ms:
            return 0.0
        ordered = sorted(self.stalls_ms)
        rank = max(0, min(len(ordered) - 1, int(round(p / 100.0 * len(ordered))) - 1))
        return ordered[rank]

    def summary(self) -> dict:
        return {
            "ticks": self.ticks,
            "p50_ms": round(self.percentile(50), 1),
            "p99_ms": round(self.percentile(99), 1),
            "max_ms": round(max(self.stalls_ms, default=0.0), 1),
        }
