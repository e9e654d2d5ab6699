"""Debounced, coalescing change queue between the watcher threads and the single index writer.

Why: one save can raise a dozen events (create, modify x N, close, attrib) and a copy of 1,000
files raises thousands; the writer must see each path once, only after it has settled, and must
see moves as moves (so unchanged files are renamed in the manifest instead of re-embedded).

Per path only the latest intent is kept ("upsert" | "delete" | "scan" a new folder). Moves are
kept in arrival order and rewrite pending paths under their source, so later operations on the
moved paths still apply to the right place.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from rag.base.paths import is_under
from rag.watch.stability import StabilityTracker

UPSERT, DELETE, SCAN = "upsert", "delete", "scan"


@dataclass
class Move:
    src: str
    dest: str
    is_dir: bool = False


@dataclass
class Batch:
    """Work the writer applies in this order: moves, then deletes, then upserts and scans."""

    moves: list[Move] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    upserts: list[str] = field(default_factory=list)
    scans: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.moves or self.deletes or self.upserts or self.scans)

    def __len__(self) -> int:
        return len(self.moves) + len(self.deletes) + len(self.upserts) + len(self.scans)


@dataclass
class _Item:
    kind: str
    last_event: float
    first_event: float


class ChangeQueue:
    """Thread-safe. Producers call upsert/delete/move/scan; the writer calls `take_ready`.

    `debounce_seconds`: quiet time after a path's last event before it is looked at.
    `settle_seconds`: a file's size+mtime must be unchanged this long (see StabilityTracker).
    Deletes are held while files are still arriving (up to `hold_seconds`) so that a delete in
    one folder and a create in another can be paired as a move by content hash.
    """

    def __init__(self, *, debounce_seconds: float = 0.5, settle_seconds: float = 1.0,
                 hold_seconds: float | None = None, clock=time.monotonic) -> None:
        self.debounce_seconds = debounce_seconds
        self.tracker = StabilityTracker(settle_seconds, clock=clock)
        self.hold_seconds = (hold_seconds if hold_seconds is not None
                             else max(10.0, 4 * settle_seconds + debounce_seconds))
        self._clock = clock
        self._items: dict[str, _Item] = {}
        self._moves: list[Move] = []
        self._cond = threading.Condition()
        self.events_seen = 0

    # -- producers -------------------------------------------------------------------------
    def _put(self, path: str, kind: str) -> None:
        now = self._clock()
        with self._cond:
            self.events_seen += 1
            old = self._items.get(path)
            first = old.first_event if old else now
            if old and old.kind == SCAN and kind == UPSERT:
                kind = SCAN  # a folder that just appeared: keep scanning it as a whole
            self._items[path] = _Item(kind=kind, last_event=now, first_event=first)
            self._cond.notify_all()
        if kind == UPSERT:
            self.tracker.touch(path)
        else:
            self.tracker.forget(path)

    def upsert(self, path: str) -> None:
        """A file was created or modified (index it once it settles)."""
        self._put(path, UPSERT)

    def delete(self, path: str) -> None:
        """A file or folder disappeared (forget what the library holds at or under `path`)."""
        self._put(path, DELETE)

    def scan(self, path: str) -> None:
        """A folder appeared: index every wanted file below it once they settle."""
        self._put(path, SCAN)

    def move(self, src: str, dest: str, *, is_dir: bool = False) -> None:
        """A file or folder was renamed within the watched area."""
        with self._cond:
            self.events_seen += 1
            for m in self._moves:
                # watchdog follows a folder move with synthetic moves of its contents: drop them
                if m.is_dir and is_under(src, m.src) and is_under(dest, m.dest) and \
                        src[len(m.src):] == dest[len(m.dest):]:
                    return
            # Pending work on the source now belongs to the destination.
            for path in [p for p in self._items if is_under(p, src)]:
                item = self._items.pop(path)
                self._items[dest + path[len(src):]] = item
            # A pending delete of the destination is superseded: the move replaces it.
            dest_item = self._items.get(dest)
            if dest_item is not None and dest_item.kind == DELETE:
                del self._items[dest]
            self._moves.append(Move(src, dest, is_dir))
            self._cond.notify_all()
        self.tracker.rename(src, dest)

    # -- consumer --------------------------------------------------------------------------
    def pending(self) -> int:
        with self._cond:
            return len(self._items) + len(self._moves)

    def wait(self, timeout: float) -> None:
        """Sleep until something is queued, `poke` is called, or `timeout` passes."""
        with self._cond:
            self._cond.wait(timeout)

    def poke(self) -> None:
        """Wake a writer sleeping in `wait` (new job, or time to stop)."""
        with self._cond:
            self._cond.notify_all()

    def discard_under(self, folder: str) -> None:
        """Drop pending work for a folder that is no longer watched."""
        with self._cond:
            for path in [p for p in self._items if is_under(p, folder)]:
                del self._items[path]
            self._moves = [m for m in self._moves if not (is_under(m.src, folder)
                                                          and is_under(m.dest, folder))]

    def take_ready(self) -> Batch:
        """Remove and return what is ready now (settled files, due deletes, all moves)."""
        now = self._clock()
        batch = Batch()
        with self._cond:
            batch.moves, self._moves = self._moves, []
            candidates = [(p, it) for p, it in self._items.items()
                          if now - it.last_event >= self.debounce_seconds]
        settled: list[tuple[str, str]] = []
        for path, item in candidates:
            if item.kind != UPSERT:
                settled.append((path, item.kind))
                continue
            state = self.tracker.check(path)
            if state == "stable":
                settled.append((path, UPSERT))
            elif state == "gone":
                settled.append((path, DELETE))
        with self._cond:
            deletes: list[str] = []
            for path, kind in settled:
                item = self._items.get(path)
                if item is None or now - item.last_event < self.debounce_seconds:
                    continue  # changed meanwhile; look again next time
                if item.kind != kind and not (item.kind == UPSERT and kind == DELETE):
                    continue
                if kind == DELETE:
                    deletes.append(path)
                    continue
                del self._items[path]
                self.tracker.forget(path)
                (batch.upserts if kind == UPSERT else batch.scans).append(path)
            # Hold deletes while files are still arriving: they may be the other half of a move.
            held = set(deletes)
            arriving = any(it.kind != DELETE for p, it in self._items.items() if p not in held)
            for path in deletes:
                item = self._items[path]
                if arriving and now - item.first_event < self.hold_seconds:
                    continue
                del self._items[path]
                self.tracker.forget(path)
                batch.deletes.append(path)
        return batch

    def next_due(self) -> float:
        """Seconds until something might be ready (for the writer's sleep); 0 if moves wait."""
        now = self._clock()
        with self._cond:
            if self._moves:
                return 0.0
            if not self._items:
                return float("inf")
            dues = [max(0.0, self.debounce_seconds - (now - it.last_event))
                    for it in self._items.values()]
        return min(dues)
