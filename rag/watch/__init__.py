"""Watched folders: keep the library in sync with folders on disk (issue 4).

Pipeline: watchdog observer -> filter -> debounced, coalescing queue (with a stability check so
half-written files are never read) -> one writer thread that calls `Library.index/forget/rename`.
Startup reconciliation catches up on changes made while Hearth was closed. Qt-free: front ends
pass an `on_status` callback. See docs/watching.md.
"""

from rag.watch.folders import WatchedFolder
from rag.watch.service import WatchService, WatchStatus

__all__ = ["WatchService", "WatchStatus", "WatchedFolder"]
