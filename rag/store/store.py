"""Vector store: `Store` is the interface; `ChromaStore` keeps vectors on disk with chromadb.

Chroma holds vectors and {doc_id, ordinal, page} only. Chunk text lives in the manifest's SQLite
(one place to scrub on forget), and paths too (so a rename never touches vectors).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.base.errors import EmbeddingMismatch, HearthError

COLLECTION = "chunks"


@runtime_checkable
class Store(Protocol):
    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict]) -> None: ...

    def delete_doc(self, doc_id: int) -> None: ...

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]: ...

    def query(self, vector: np.ndarray, k: int, doc_ids: list[int] | None = None
              ) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    from rag.offline.privacy import chroma_settings

    return ChromaSettings(**chroma_settings())  # telemetry off, explicitly


class ChromaStore:
    """A persistent chromadb collection in cosine space with explicit embeddings only."""

    def __init__(self, path: str | Path, *, model_id: str, dim: int, lock=None,
                 reader: bool = False, swap_guard=None) -> None:
        """`lock`: the library's `rag.store.lock.StoreLock`: held exclusively around every change
        (writer) or shared around every read (`reader`: another process writes; this one only
        reads, reopening when the writer has changed the files since). `swap_guard`: a context
        manager that keeps this process's readers out while `compact` swaps the files."""
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

        self.path = Path(path)
        self.model_id = model_id
        self.dim = dim
        self.reader = reader
        self._lock = lock
        self._swap_guard = swap_guard or contextlib.nullcontext
        self._seen = -1  # the writer's change count when a reader opened
        self._count: int | None = None  # chroma's count() costs ~8 ms at 100k; we are its writer
        with self._changing():
            if not reader:
                _recover_swap(self.path)
                self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._open()

    def _open(self) -> None:
        import chromadb

        if self.reader and not (self.path / "chroma.sqlite3").exists():
            raise HearthError(f"No vector store at {self.path} yet.")  # a reader creates nothing
        try:
            self._client = chromadb.PersistentClient(path=str(self.path),
                                                     settings=_chroma_settings())
            if self.reader:
                self._col = self._client.get_collection(COLLECTION, embedding_function=None)
            else:
                self._col = self._client.get_or_create_collection(
                    COLLECTION, embedding_function=None, metadata={
                        "hnsw:space": "cosine", "embedding_model": self.model_id,
                        "dim": self.dim})
        except Exception as exc:  # chroma raises many types; the user needs one sentence
            raise HearthError(f"Cannot open the vector store at {self.path}: {exc}") from exc
        meta = self._col.metadata or {}
        if meta.get("embedding_model") != self.model_id or \
                int(meta.get("dim", self.dim)) != self.dim:
            raise EmbeddingMismatch(
                f"This library was built with the embedding model {meta.get('embedding_model')!r} "
                f"(dim {meta.get('dim')}), not {self.model_id!r} (dim {self.dim}). Re-index into "
                "a new library or choose the same model."
            )
        self._max_batch = max(1, int(self._client.get_max_batch_size()))
        self._count = None

    @contextlib.contextmanager
    def _changing(self):
        """Around a change of the files: other processes' readers are kept out meanwhile."""
        if self.reader:
            if self._lock is None:
                yield
                return
            with self._lock.shared() as seen:
                self._seen = seen
                yield
            return
        if self._lock is None:
            yield
        else:
            with self._lock.exclusive():
                yield

    @contextlib.contextmanager
    def _reading(self):
        """Around a read. In the writer's process chroma serialises its own threads; a reading
        process takes the shared lock and reopens if the writer changed the files since."""
        if not self.reader or self._lock is None:
            yield
            return
        with self._lock.shared() as seen:
            if seen != self._seen:
                self._release()
                self._open()
                self._seen = seen
            yield

    def _writable(self) -> None:
        if self.reader:
            raise HearthError("This library is open for reading only (another Hearth process "
                              "is writing it).")

    @property
    def max_batch(self) -> int:
        return self._max_batch

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict]) -> None:
        self._writable()
        self._count = None
        for i in range(0, len(ids), self._max_batch):
            j = i + self._max_batch
            with self._changing():
                self._col.upsert(ids=ids[i:j], metadatas=metadatas[i:j],
                                 embeddings=np.asarray(vectors[i:j], dtype=np.float32))

    def delete_doc(self, doc_id: int) -> None:
        self._writable()
        self._count = None
        with self._changing():
            self._col.delete(where={"doc_id": int(doc_id)})

    def delete_docs(self, doc_ids: list[int]) -> None:
        self._writable()
        self._count = None
        for i in range(0, len(doc_ids), 500):
            with self._changing():
                self._col.delete(where={"doc_id": {"$in": [int(d) for d in doc_ids[i:i + 500]]}})

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (ids not in the store are left out)."""
        if not ids:
            return {}
        with self._reading():
            got = self._col.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32)
                for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def ids_for_doc(self, doc_id: int) -> list[str]:
        with self._reading():
            return list(self._col.get(where={"doc_id": int(doc_id)}, include=[])["ids"])

    def query(self, vector: np.ndarray, k: int, doc_ids: list[int] | None = None
              ) -> list[tuple[str, float]]:
        n = self.count()
        if n == 0 or k <= 0:
            return []
        where = None
        if doc_ids is not None:
            if not doc_ids:
                return []
            where = {"doc_id": {"$in": [int(d) for d in doc_ids]}}
        with self._reading():
            res = self._col.query(query_embeddings=np.asarray([vector], dtype=np.float32),
                                  n_results=min(k, n), where=where, include=["distances"])
        return list(zip(res["ids"][0], (float(d) for d in res["distances"][0]), strict=True))

    def count(self) -> int:
        if self.reader:
            with self._reading():
                return int(self._col.count())
        if self._count is None:
            self._count = int(self._col.count())
        return self._count

    def wipe(self) -> None:
        self._writable()
        self._count = None
        with self._changing():
            self._client.delete_collection(COLLECTION)
            self._col = self._client.get_or_create_collection(
                COLLECTION, embedding_function=None, metadata={
                    "hnsw:space": "cosine", "embedding_model": self.model_id, "dim": self.dim})

    def compact(self, keep: set[int] | None = None) -> None:
        """Rewrite the store from the surviving vectors so deleted ones leave chroma's files.

        chroma keeps every add (id + vector) in its write-ahead log until the HNSW index
        persists (every 1000 ops), and hnswlib only marks deletions: delete() scrubs neither.
        A forget must, so the collection is rebuilt beside the old one and swapped in. The new
        one is written by a fresh process: the HNSW files were seen to carry stale heap bytes
        (chunk ids of forgotten documents) when written by a process that had held them.
        `keep`: only vectors of these doc ids survive (drops any a crash left orphaned).
        """
        self._writable()
        step = self._max_batch
        ids: list[str] = []
        metas: list[dict] = []
        vecs: list[np.ndarray] = []
        for offset in range(0, self.count(), step):
            got = self._col.get(include=["embeddings", "metadatas"], limit=step, offset=offset)
            rows = [i for i, m in enumerate(got["metadatas"])
                    if keep is None or int((m or {}).get("doc_id", -1)) in keep]
            ids += [got["ids"][i] for i in rows]
            metas += [got["metadatas"][i] for i in rows]
            vecs.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(-1, self.dim)[rows])
        meta = dict(self._col.metadata or {})
        new, old = _sibling(self.path, ".new"), _sibling(self.path, ".old")
        shutil.rmtree(new, ignore_errors=True)
        allv = np.concatenate(vecs) if vecs else np.zeros((0, self.dim), np.float32)
        _rebuild_in_child(new, meta, ids, metas, allv, step)  # readers go on with the old one
        zero_unused_hnsw(new)
        # The swap: this process's readers wait for it (ms), other processes' readers too.
        with self._swap_guard(), self._changing():
            self.close()
            os.replace(self.path, old)
            os.replace(new, self.path)
            shutil.rmtree(old, ignore_errors=True)
            self._open()

    def _release(self) -> None:
        try:
            self._client.clear_system_cache()  # releases file handles of the persistent client
        except Exception:
            pass

    def close(self) -> None:
        self._release()
        if not self.reader:  # a reader writes nothing, not even zeros
            with self._changing():
                zero_unused_hnsw(self.path)


def zero_unused_hnsw(chroma_dir: Path) -> None:
    """Zero the HNSW slots chroma wrote but does not use (call with no client open).

    Why: chroma saves `data_level0.bin` at its full capacity (100 elements at first) while
    only `cur_element_count` are in use; the rest is uninitialised heap, seen to hold chunk
    ids of documents forgotten earlier in the same process. hnswlib never reads those bytes.
    """
    import struct

    for header in Path(chroma_dir).glob("*/header.bin"):
        try:
            head = header.read_bytes()
            if len(head) < 36 or struct.unpack_from("<i", head, 0)[0] != 1:
                continue  # a layout we don't know: leave it alone
            _capacity, used, per_element = struct.unpack_from("<QQQ", head, 12)
            _zero_from(header.with_name("data_level0.bin"), used * per_element)
            _zero_from(header.with_name("length.bin"), used * 4)
        except OSError:
            continue


def _zero_from(path: Path, offset: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if offset >= size:
        return
    with open(path, "r+b") as fh:
        fh.seek(offset)
        left = size - offset
        while left:
            n = min(left, 1 << 20)
            fh.write(bytes(n))
            left -= n
        fh.flush()
        os.fsync(fh.fileno())


def _rebuild_in_child(path: Path, meta: dict, ids: list[str], metas: list[dict],
                      vectors: np.ndarray, step: int) -> None:
    """Write a new collection at `path` from these rows only, in a process that never saw
    anything else (its memory, and so any stale bytes it writes, holds only survivors)."""
    import errno
    import pickle
    import subprocess
    import sys

    payload = pickle.dumps({"path": str(path), "meta": meta, "ids": ids, "metas": metas,
                            "vectors": vectors, "step": step, "collection": COLLECTION})
    root = str(Path(__file__).resolve().parents[2])  # the folder holding rag/
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]), "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run([sys.executable, "-m", "rag.store.store_rebuild"], input=payload, env=env,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = err[-1] if err else f"exit status {proc.returncode}"
        if any(w in last.lower() for w in ("disk is full", "no space left", "errno 28")):
            raise OSError(errno.ENOSPC, f"No space left to rewrite the vector store ({last})")
        raise HearthError(f"Could not rewrite the vector store: {last}")


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _recover_swap(path: Path) -> None:
    """A crash during compact() leaves `.old`/`.new` beside the store: keep the complete one."""
    old, new = _sibling(path, ".old"), _sibling(path, ".new")
    if old.exists() and not path.exists():
        os.replace(old, path)
    shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
