"""The list of watched folders, persisted as `<data_dir>/watched.json` (atomic write, 0600).

Why a file of its own (not settings.json): the watcher updates per-folder state (paused, the
device a folder lives on) without racing the GUI's settings writes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rag.base.errors import HearthError
from rag.base.paths import is_under, private_file

FILENAME = "watched.json"
SCHEMA_VERSION = 1

# States a folder can be in (WatchedFolder.state):
WATCHING = "watching"  # native events (inotify / FSEvents / ReadDirectoryChangesW)
POLLING = "polling"  # periodic scans: inotify limit hit, or a filesystem without events
PAUSED = "paused"  # the user paused it: nothing is indexed or forgotten
MISSING = "missing"  # folder gone (unplugged drive): documents kept until it returns/removed
IDLE = "idle"  # stored but no watcher running (e.g. listed from the CLI)


@dataclass
class WatchedFolder:
    path: str
    state: str = IDLE
    notice: str = ""
    paused: bool = False
    device: int | None = None  # st_dev when added: a different device = drive not mounted
    excluded: list[str] = field(default_factory=list)  # files/folders the user removed

    def to_json(self) -> dict:
        return {"path": self.path, "state": self.state, "notice": self.notice,
                "paused": self.paused, "excluded": list(self.excluded)}


def normalize(path: str | os.PathLike) -> str:
    """Absolute, symlink-resolved, no trailing separator: the one spelling used everywhere."""
    return os.path.normpath(os.path.realpath(os.path.expanduser(os.fspath(path))))


def device_of(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _copy(folder: WatchedFolder) -> WatchedFolder:
    return WatchedFolder(**{**vars(folder), "excluded": list(folder.excluded)})


class FolderStore:
    """Load/save the watched-folder list. Thread-safe; every change is written immediately."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.path = Path(data_dir) / FILENAME
        self._lock = threading.Lock()
        self._folders: dict[str, WatchedFolder] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise HearthError(f"The watched-folder list {self.path} is unreadable ({exc}); "
                              "fix or delete it.") from exc
        for entry in raw.get("folders", []):
            if isinstance(entry, str):
                entry = {"path": entry}
            path = normalize(entry["path"])
            excluded = sorted({normalize(e) for e in entry.get("excluded", [])
                               if isinstance(e, str) and is_under(normalize(e), path)})
            self._folders[path] = WatchedFolder(path=path, paused=bool(entry.get("paused")),
                                                device=entry.get("device"), excluded=excluded)

    def _save(self) -> None:
        data = {"schema_version": SCHEMA_VERSION,
                "folders": [{"path": f.path, "paused": f.paused, "device": f.device,
                             "excluded": f.excluded} for f in self._folders.values()]}
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        private_file(tmp)
        os.replace(tmp, self.path)

    def list(self) -> list[WatchedFolder]:
        with self._lock:
            return [_copy(f) for f in self._folders.values()]

    def get(self, path: str) -> WatchedFolder | None:
        with self._lock:
            f = self._folders.get(normalize(path))
            return _copy(f) if f else None

    def excluded(self) -> list[str]:
        """Every path kept out of its watched folder, across all folders."""
        with self._lock:
            return sorted(e for f in self._folders.values() for e in f.excluded)

    def exclude(self, paths) -> list[str]:
        """Keep these files/folders out of their watched folder from now on: the user removed
        them from the library, so an edit or a restart must not bring them back. Returns the
        paths newly excluded (paths outside every watched folder are ignored)."""
        done: list[str] = []
        with self._lock:
            for raw in paths:
                p = normalize(raw)
                folder = next((f for f in self._folders.values()
                               if p != f.path and is_under(p, f.path)), None)
                if folder is None or any(is_under(p, e) for e in folder.excluded):
                    continue
                folder.excluded = sorted([e for e in folder.excluded if not is_under(e, p)] + [p])
                done.append(p)
            if done:
                self._save()
        return done

    def include(self, paths) -> list[str]:
        """Undo `exclude` for these paths and anything excluded below them (the user added
        them to the library again). Returns the exclusions dropped."""
        dropped: list[str] = []
        with self._lock:
            for raw in paths:
                p = normalize(raw)
                for f in self._folders.values():
                    gone = [e for e in f.excluded if is_under(e, p)]
                    if gone:
                        f.excluded = [e for e in f.excluded if e not in gone]
                        dropped += gone
            if dropped:
                self._save()
        return dropped

    def add(self, path: str | os.PathLike) -> tuple[WatchedFolder, list[str]]:
        """Add a folder; returns it and the already-watched subfolders it absorbs."""
        p = normalize(path)
        if not os.path.isdir(p):
            raise HearthError(f"{p} is not a folder (or it does not exist).")
        with self._lock:
            for other in self._folders:
                if p == other:
                    return _copy(self._folders[p]), []
                if is_under(p, other):
                    raise HearthError(f"{p} is already watched as part of {other}.")
            absorbed = [o for o in self._folders if o != p and is_under(o, p)]
            kept = sorted(e for o in absorbed for e in self._folders[o].excluded)
            for o in absorbed:
                del self._folders[o]
            folder = WatchedFolder(path=p, device=device_of(p), excluded=kept)
            self._folders[p] = folder
            self._save()
            return _copy(folder), absorbed

    def remove(self, path: str | os.PathLike) -> bool:
        p = normalize(path)
        with self._lock:
            if p not in self._folders:
                return False
            del self._folders[p]
            self._save()
            return True

    def update(self, path: str, **changes) -> None:
        """Persist `paused` / `device` changes for one folder (ignores unknown folders)."""
        with self._lock:
            folder = self._folders.get(path)
            if folder is None:
                return
            for key, value in changes.items():
                setattr(folder, key, value)
            self._save()
