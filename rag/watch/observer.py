"""One watchdog observer per watched folder, with a polling fallback and a notice saying why.

Why per folder: each folder can fail on its own (inotify limit, network filesystem, unplugged
drive) and must fall back or pause without disturbing the others.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver

from rag.watch.filters import PathFilter
from rag.watch.queue import ChangeQueue

log = logging.getLogger(__name__)

# inotify limits: "watch limit reached" (ENOSPC) and "instance limit reached" (EMFILE).
LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})
# Filesystems whose changes made elsewhere (another machine, the host of a VM) raise no events.
NO_EVENT_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "virtiofs", "vboxsf", "vmhgfs", "fuse.vmhgfs-fuse",
    "fuse.sshfs", "sshfs", "fuse.rclone", "davfs", "fuse.davfs2", "fuse.s3fs", "afs", "ceph",
    "glusterfs", "fuse.glusterfs", "fuse.gvfsd-fuse", "lustre",
})
_EDIT_EVENTS = frozenset({"created", "modified", "closed", "attrib"})


def filesystem_type(path: str, mounts_text: str | None = None) -> str | None:
    """The fstype of the mount holding `path` (Linux /proc/mounts; None elsewhere/unknown)."""
    if mounts_text is None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            with open("/proc/mounts", encoding="utf-8", errors="replace") as fh:
                mounts_text = fh.read()
        except OSError:
            return None
    best, best_type = "", None
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        mount = mount.rstrip("/") or "/"
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, best_type = mount, parts[2]
    return best_type


def _inotify_watch_limit() -> int | None:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches", encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def too_many_dirs(folder: str, limit: int | None) -> bool:
    """True if `folder` has more subfolders than half the inotify watch limit (stops early).

    Why: watchdog silently skips subfolders it cannot watch once the limit is hit, so a huge
    tree would be only partly watched. Polling is slower but complete.
    """
    if not limit:
        return False
    budget, count = limit // 2, 0
    for _root, dirs, _files in os.walk(folder):
        count += len(dirs)
        if count > budget:
            return True
    return False


class _Handler(FileSystemEventHandler):
    """Turns watchdog events into queue operations, dropping junk on the way."""

    def __init__(self, queue: ChangeQueue, path_filter: PathFilter) -> None:
        self.queue = queue
        self.filter = path_filter

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._handle(event)
        except Exception:  # never let one odd event kill the observer thread
            log.exception("watch: could not handle %r", event)

    def _handle(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind == "moved" and event.is_synthetic:
            return  # watchdog's per-file echo of a folder move: the folder move covers it
        src = os.fsdecode(event.src_path)
        if event.is_directory:
            ok = self.filter.dir_ok
            if kind == "created" and ok(src):
                self.queue.scan(src)
            elif kind == "deleted" and ok(src):
                self.queue.delete(src)
            elif kind == "moved":
                self._moved(src, os.fsdecode(event.dest_path), ok, is_dir=True)
            return
        ok = self.filter.wanted
        if kind in _EDIT_EVENTS and ok(src):
            self.queue.upsert(src)
        elif kind == "deleted" and ok(src):
            self.queue.delete(src)
        elif kind == "moved":
            self._moved(src, os.fsdecode(event.dest_path), ok, is_dir=False)

    def _moved(self, src: str, dest: str, ok: Callable[[str], bool], *, is_dir: bool) -> None:
        src_ok, dest_ok = bool(src) and ok(src), bool(dest) and ok(dest)
        if src_ok and dest_ok:
            self.queue.move(src, dest, is_dir=is_dir)
        elif dest_ok:  # e.g. an editor's atomic save: temp file renamed over the real one
            (self.queue.scan if is_dir else self.queue.upsert)(dest)
        elif src_ok:  # renamed to junk or hidden: as good as gone
            self.queue.delete(src)


def native_observer() -> BaseObserver:
    from watchdog.observers import Observer

    return Observer()


class FolderWatcher:
    """Watches one folder recursively; `mode` is "watching" or "polling", `notice` says why."""

    def __init__(self, folder: str, queue: ChangeQueue, path_filter: PathFilter, *,
                 polling_interval: float = 2.0,
                 native_factory: Callable[[], BaseObserver] = native_observer,
                 mounts_text: str | None = None) -> None:
        self.folder = folder
        self.polling_interval = polling_interval
        self.handler = _Handler(queue, path_filter)
        self._native_factory = native_factory
        self._mounts_text = mounts_text
        self._observer: BaseObserver | None = None
        self.mode = ""
        self.notice = ""

    def _polling_reason(self) -> str:
        fstype = filesystem_type(self.folder, self._mounts_text)
        if fstype in NO_EVENT_FILESYSTEMS:
            return (f"Checking for changes every {self.polling_interval:g} s: this folder is on a "
                    f"{fstype} filesystem, which does not report changes as they happen.")
        if sys.platform.startswith("linux") and too_many_dirs(self.folder, _inotify_watch_limit()):
            return (f"Checking for changes every {self.polling_interval:g} s: this folder has more "
                    "subfolders than the system lets one program watch (raise "
                    "fs.inotify.max_user_watches to get instant updates).")
        return ""

    def start(self) -> None:
        """Start watching; falls back to polling on inotify limits (raises other OSErrors)."""
        reason = self._polling_reason()
        if not reason:
            observer = self._native_factory()
            try:
                observer.schedule(self.handler, self.folder, recursive=True)
                observer.start()
            except OSError as exc:
                _stop_quietly(observer)
                if exc.errno not in LIMIT_ERRNOS:
                    raise
                reason = (f"Checking for changes every {self.polling_interval:g} s: the system "
                          f"limit on watched folders was reached ({exc.strerror or exc}). Raise "
                          "fs.inotify.max_user_watches / max_user_instances for instant updates.")
            else:
                self._observer, self.mode, self.notice = observer, "watching", ""
                return
        from watchdog.observers.polling import PollingObserver

        observer = PollingObserver(timeout=self.polling_interval)
        observer.schedule(self.handler, self.folder, recursive=True)
        observer.start()
        self._observer, self.mode, self.notice = observer, "polling", reason
        log.warning("watch: %s: %s", self.folder, reason)

    def alive(self) -> bool:
        """False once the observer or its emitter stopped (inotify stops when the root is deleted)."""
        obs = self._observer
        if obs is None or not obs.is_alive():
            return False
        return all(e.is_alive() for e in list(obs.emitters))

    def stop(self) -> None:
        if self._observer is not None:
            _stop_quietly(self._observer)
            self._observer = None


def _stop_quietly(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)
    except Exception:  # stopping must never raise into the caller
        log.debug("watch: observer stop failed", exc_info=True)
