"""Reading the manifest beside its writer: a second, read-only SQLite connection.

Why: the manifest's writing connection is shared under one lock, so a search through it waits
for a long write (a VACUUM, a big transaction). SQLite in WAL mode lets a separate connection
read a consistent snapshot while the writer writes; this one never writes.
"""

from __future__ import annotations

from pathlib import Path

from rag.store.manifest import Manifest


class NoLibraryYet:
    """What a reader sees in a folder where no writer has made a library yet: nothing. A reader
    creates no file, so it cannot open a manifest that does not exist; `Library` swaps this for
    the real one as soon as a writer has made it."""

    def documents(self, status: str | None = None) -> list:
        return []

    def counts(self) -> dict:
        return {"documents": 0, "chunks": 0, "by_status": {}}

    def chunk_count(self) -> int:
        return 0

    def under(self, _path: str) -> list:
        return []

    def get_meta(self, _key: str) -> None:
        return None

    def close(self) -> None:
        pass


class ReadingManifest(Manifest):
    """A read-only `Manifest` whose cached counts follow the writer's commits."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, read_only=True)
        self._version = -1

    def refresh(self) -> None:
        """Drop cached term and chunk counts if another connection committed since."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._version = version
                self._changed()


def checkpoint(manifest: Manifest) -> bool:
    """Copy the WAL into the main file and empty it; False while a reader holds an older
    snapshot (the old pages, with forgotten text, would stay on disk until it finishes)."""
    row = manifest._one("PRAGMA wal_checkpoint(TRUNCATE)", ())
    return row is None or int(row[0]) == 0
