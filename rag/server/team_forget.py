"""'Forget wins' across clients of a server library: tombstones, checked around every commit.

Why: an index run decides what to write from what it read when it started; without a fence, a
document another client forgets meanwhile would be written back as `indexed`. Chroma's server
has no conditional write (no compare-and-set, no transaction over two requests), so the
guarantee rests on the order of plain requests, each applied by the server before it answers:

- forget(paths): a tombstone per given library path (`NAME.forgotten`: path, nonce,
  state `forgetting`) -> list the document records under those paths -> delete their chunks,
  then their records -> the tombstones' state becomes `done` (same nonce).
- index run: at its start it reads the tombstones that cover its files (each file's path and
  every folder above it) and keeps those that are `done`: the forgets that happened before it.
  Right before it sends a batch it drops the documents covered by any other tombstone (new,
  renewed, or still `forgetting`); right after the batch's records say `indexed` it checks
  again and withdraws what it wrote for documents a forget reached meanwhile.

Why that is enough: say a forget's tombstone lands at time T and the run's last check reads at
time R. If T < R, the run sees the tombstone and withdraws its writes. If T > R, every write
of the run came before T, so the forget (which lists records after T) finds them and deletes
them. A forget still running when a run starts counts as after it. An index run that starts
after a forget finished may index the same path again: forget wins only over runs that were
already going.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable

FORGOTTEN_MEANWHILE = "forgotten while this run was indexing it (a forget wins)"


def stone_id(rel: str) -> str:
    """The tombstone id of library path `rel` (a file or a folder; '' is the whole library)."""
    return hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def covering(rel: str) -> list[str]:
    """`rel` and every folder above it, up to the library root ''."""
    parts = [p for p in rel.split("/") if p]
    return [""] + ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def forget_fenced(server, rels: Iterable[str], forget: Callable[[], int]) -> int:
    """Run `forget` (which must list the records itself, after this call's tombstones are on
    the server) between the tombstones' `forgetting` and `done`; returns what it returns."""
    nonce = uuid.uuid4().hex
    stones = {stone_id(r): {"path": r, "nonce": nonce, "state": "forgetting", "at": time.time()}
              for r in dict.fromkeys(rels)}
    if not stones:
        return 0
    server.put_tombstones(stones)
    n = forget()
    server.put_tombstones({k: {**v, "state": "done"} for k, v in stones.items()})
    return n


class Fence:
    """One index run's view of the forgets that finished before it started."""

    def __init__(self, server, rels: Iterable[str]) -> None:
        self.server = server
        got = server.tombstones(stone_id(r) for rel in rels for r in covering(rel))
        self.before = {i: s.get("nonce") for i, s in got.items() if s.get("state") == "done"}

    def forgotten(self, rels: Iterable[str]) -> set[str]:
        """The paths among `rels` that a forget this run did not see finished has reached."""
        ids = {rel: [stone_id(r) for r in covering(rel)] for rel in rels}
        if not ids:
            return set()
        got = self.server.tombstones(i for these in ids.values() for i in these)
        return {rel for rel, these in ids.items()
                if any(i in got and got[i].get("nonce") != self.before.get(i) for i in these)}


def withdraw(server, mirror, written: dict[str, str]) -> None:
    """Re-apply a forget that raced a commit to what the commit wrote (key -> record gen).
    A record someone else rewrote since (another gen, not `forgetting`) is theirs and stays."""
    now = server.get_docs(list(written))
    mine = [k for k, gen in written.items()
            if k not in now or now[k].get("gen") == gen or now[k].get("status") == "forgetting"]
    if mine:
        server.delete_chunks_of(mine)
        server.delete_docs(mine)
        server.bump()
        mirror.remove(mine)
