"""`TeamLibrary`: a library on a Chroma server, shared by several clients.

It offers what the CLI and the answerer use from `rag.library.Library` (index, search, forget,
status, wipe, `manifest.chunk_count()`, `embedder`), with the same loaders, chunker, embedder and
hybrid retriever. Differences, and why:
- A document's identity is its *library path*: the path relative to a root (`--server-root`,
  default the home folder), with '/' separators. Team members who mount the same share at
  different places give their own mount point as the root and share one document, not two.
  The key stored on the server is a hash of that path; the path is kept for display.
- Writes go chunk-records-first: a document is marked `indexing` before its chunks are sent
  and `indexed` after, then the server's version token changes. A client killed or a server
  lost half-way leaves `indexing` records that the next run redoes under the same
  deterministic chunk ids (old chunks deleted first): no duplicates.
- A forget wins over index runs already going on other clients: tombstones on the server,
  checked right before and right after each commit (rag/server/team_forget.py).
- The keyword side is a per-client mirror of the server's chunk text (rag/server/team_mirror.py),
  refreshed before every search when the version token moved.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Sequence
from functools import partial
from pathlib import Path

from rag.base.cancel import CancelToken
from rag.base.errors import HearthError, LoadError, UnsupportedFormat
from rag.base.types import FileOutcome, Hit, IndexProgress, IndexReport
from rag.embed.embeddings import Embedder, SentenceTransformerEmbedder
from rag.ingest.chunking import ChunkingConfig, chunk_pages, embedding_text
from rag.ingest.indexer import EMBED_BATCH, FINAL, clean_reason, expand, file_sha256, norm_path
from rag.ingest.jobprogress import run_to_report
from rag.retrieve.retrieval import RetrievalConfig, Retriever
from rag.server.server_store import ServerCollections, ServerConfig
from rag.server.team_forget import FORGOTTEN_MEANWHILE, Fence, forget_fenced, withdraw
from rag.server.team_mirror import Mirror
from rag.store.manifest import DocumentRecord

CACHE_DIR = "server-cache"


def doc_key(rel: str) -> str:
    """The server's id for the document at library path `rel` (same on every client)."""
    return hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


class _Dense:
    """The `Store` side of `Retriever`, on the server (mirror ids -> server document keys)."""

    def __init__(self, server: ServerCollections, mirror: Mirror) -> None:
        self.server, self.mirror = server, mirror

    def query(self, vector, k: int, doc_ids: list[int] | None = None):
        keys = None if doc_ids is None else self.mirror.keys_for(doc_ids)
        return self.server.query(vector, k, keys)

    def vectors(self, ids: list[str]):
        return self.server.vectors(ids)


class TeamLibrary:
    def __init__(self, cfg: ServerConfig, data_dir: str | os.PathLike, *,
                 root: str | os.PathLike | None = None, embedder: Embedder | None = None,
                 retrieval: RetrievalConfig | None = None,
                 chunking: ChunkingConfig | None = None) -> None:
        """Connects first (a server that is down fails here, within 5 s, having written
        nothing), then opens this client's mirror in `data_dir`."""
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.root = norm_path(root) if root else norm_path(Path.home())
        self.embedder = embedder or SentenceTransformerEmbedder()
        self.server = ServerCollections(cfg, model_id=self.embedder.model_id,
                                        dim=self.embedder.dim)
        self.retrieval_config = retrieval or RetrievalConfig()
        self.chunking = chunking or ChunkingConfig()
        name = hashlib.sha256(f"{cfg.url.rstrip('/')}|{cfg.library}".encode()).hexdigest()[:16]
        from rag.base.paths import ensure_private_dir

        ensure_private_dir(self.data_dir)
        self.mirror = Mirror(self.data_dir / CACHE_DIR / f"{name}.sqlite3")
        self.read_only = False
        self.on_server = True  # the GUI doesn't watch folders into a server library

    # -- paths -----------------------------------------------------------------------------
    def library_path(self, path: str | os.PathLike) -> str:
        """`path` as the team sees it: relative to the root, '/'-separated."""
        full = norm_path(path)
        rel = os.path.relpath(full, self.root)
        if rel == os.curdir:
            return ""
        if rel.startswith(os.pardir):  # outside the root: the best we can do is the full path
            rel = full.lstrip(os.sep)
        return rel.replace(os.sep, "/")

    def _rel_of(self, p: str | os.PathLike) -> str:
        """A local file/folder -> its library path; anything else is taken as a library path."""
        return self.library_path(p) if os.path.exists(p) else os.fspath(p).strip("/")

    # -- state shared with the other clients ----------------------------------------------------
    def refresh(self) -> None:
        """Bring the keyword mirror up to the server's state if anything changed there."""
        ident = self.server.identity
        if self.mirror.get_meta("identity") != ident:
            self.mirror.reset()
            self.mirror.set_meta("identity", ident)
        token = self.server.version()  # read before the list: a later change moves it again
        if token and token == self.mirror.get_meta("version"):
            return
        records = self.server.all_docs()
        self.mirror.sync(self.server, records)
        complete = {k: r.get("gen") for k, r in records.items() if r.get("status") == "indexed"}
        if self.mirror.generations() == complete:
            self.mirror.set_meta("version", token)

    @property
    def store(self) -> _Dense:
        """The dense side (the server's chunks), as `Library.store` is for the retriever."""
        return _Dense(self.server, self.mirror)

    @property
    def manifest(self) -> Mirror:
        """What `rag.answering.answer` asks for the chunk count; fresh from the server."""
        self.refresh()
        return self.mirror

    # -- indexing -------------------------------------------------------------------------------
    def unfinished(self) -> list:
        return []  # `indexing` records are redone by the next index of their folder

    def resume(self, **_ignored) -> IndexReport:
        return IndexReport()

    def index(self, paths: Iterable[str | os.PathLike], *,
              progress: Callable[[IndexProgress], None] | None = None,
              cancel: CancelToken | None = None, force: bool = False) -> IndexReport:
        """Index files and folders into the server library (see the module docstring)."""
        return run_to_report(self.iter_index(paths, cancel, force=force), progress)

    def iter_index(self, paths: Iterable[str | os.PathLike], cancel: CancelToken | None = None,
                   *, force: bool = False) -> Generator[IndexProgress, None, IndexReport]:
        """The same as `index`, as a generator of progress (what the GUI's writer lane runs)."""
        from rag import loaders

        t0 = time.perf_counter()
        report = IndexReport()
        files, folders = expand(list(paths))
        targets = [(f, self.library_path(f)) for f in files]
        fence = Fence(self.server, [rel for _, rel in targets])  # before the records are read
        records = self.server.all_docs()
        seen = {rel for _, rel in targets}
        prefixes = [self.library_path(d) for d in folders]
        vanished = [k for k, r in records.items() if r.get("path") not in seen
                    and any(under(str(r.get("path", "")), p) for p in prefixes)]
        if vanished:
            self._forget_keys(vanished)
            report.outcomes += [FileOutcome(records[k]["path"], "removed", "file no longer exists")
                                for k in vanished]
        prog = IndexProgress(files_total=len(targets), stage="reading")
        pending: list[dict] = []
        for path, rel in targets:
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            prog.current = rel
            outcome = self._prepare(path, rel, records.get(doc_key(rel)), force, pending, loaders,
                                    fence)
            if outcome is not None:
                report.outcomes.append(outcome)
                prog.files_done += 1
            else:
                prog.chunks_total += len(pending[-1]["chunks"])
            if sum(len(p["chunks"]) for p in pending) >= EMBED_BATCH:
                yield from self._flush(pending, report, prog, cancel, fence)
            yield prog
        if not report.cancelled:
            yield from self._flush(pending, report, prog, cancel, fence)
        prog.stage, prog.current = "done", ""
        yield prog
        report.seconds = time.perf_counter() - t0
        return report

    def _prepare(self, path: Path, rel: str, rec: dict | None, force: bool, pending: list[dict],
                 loaders, fence: Fence) -> FileOutcome | None:
        fail = partial(self._record_failure, rel, fence=fence)
        if not loaders.is_supported(path):
            return FileOutcome(rel, "skipped", f"unsupported file type {path.suffix or '(none)'}")
        try:
            st = path.stat()
            settled = rec is not None and rec.get("status") in FINAL and not force
            if settled and rec.get("size") == st.st_size and rec.get("mtime") == st.st_mtime:
                return FileOutcome(rel, "unchanged", chunks=int(rec.get("chunks", 0)))
            problem = loaders.precheck(path, st)
            if problem is not None:
                return fail("failed", problem, st)
            sha = file_sha256(path)
        except OSError as exc:
            return FileOutcome(rel, "failed", clean_reason(exc.strerror or str(exc)))
        if settled and rec.get("sha") == sha:
            return FileOutcome(rel, "unchanged", chunks=int(rec.get("chunks", 0)))
        try:
            doc = loaders.load_document(path)
        except UnsupportedFormat as exc:
            return fail("skipped", str(exc), st, sha)
        except LoadError as exc:
            return fail("failed", str(exc), st, sha)
        except Exception as exc:  # noqa: BLE001 - a loader bug must not stop the batch
            return fail("failed", f"could not read: {exc}", st, sha)
        title, chunks = chunk_pages(doc.pages, doc.title, self.embedder, self.chunking,
                                    outline=doc.outline)
        if not chunks:
            return fail("skipped", "no text to index", st, sha)
        pending.append({"rel": rel, "key": doc_key(rel), "title": doc.title, "sha": sha,
                        "size": st.st_size, "mtime": st.st_mtime, "chunks": chunks,
                        "texts": [embedding_text(title, c.text, c.heading) for c in chunks]})
        return None

    def _record(self, rel: str, status: str, *, title: str = "", sha: str = "", size: int = 0,
                mtime: float = 0.0, chunks: int = 0, reason: str = "") -> dict:
        return {"path": rel, "title": title, "sha": sha, "size": int(size), "mtime": float(mtime),
                "status": status, "reason": reason, "chunks": int(chunks),
                "gen": uuid.uuid4().hex[:16], "updated_at": time.time()}

    def _record_failure(self, rel: str, status: str, reason: str, st, sha: str = "", *,
                        fence: Fence) -> FileOutcome:
        reason = clean_reason(reason)
        if fence.forgotten([rel]):
            return FileOutcome(rel, "removed", FORGOTTEN_MEANWHILE)
        key = doc_key(rel)
        rec = self._record(rel, status, sha=sha, size=st.st_size, mtime=st.st_mtime, reason=reason)
        self.server.delete_chunks_of([key])
        self.server.put_docs({key: rec})
        self.server.bump()
        if fence.forgotten([rel]):  # a forget raced this write: it wins
            withdraw(self.server, self.mirror, {key: rec["gen"]})
            return FileOutcome(rel, "removed", FORGOTTEN_MEANWHILE)
        return FileOutcome(rel, status, reason)

    def _flush(self, pending: list[dict], report: IndexReport, prog: IndexProgress,
               cancel: CancelToken | None, fence: Fence) -> Generator[IndexProgress, None, None]:
        """Embed here, then: records `indexing` -> old chunks out -> new chunks in -> records
        `indexed` -> version bumped. Each step is safe to repeat. Documents a forget reached
        since the run started are left out before, and withdrawn after (rag/server/team_forget.py)."""
        dropped = fence.forgotten(p["rel"] for p in pending) if pending else set()
        pending[:] = [p for p in pending if p["rel"] not in dropped]
        report.outcomes += [FileOutcome(rel, "removed", FORGOTTEN_MEANWHILE) for rel in dropped]
        prog.files_done += len(dropped)
        if not pending:
            return
        import numpy as np

        texts = [t for p in pending for t in p["texts"]]
        vectors = []
        prog.stage = "embedding"
        for i in range(0, len(texts), EMBED_BATCH):
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                pending.clear()
                return  # nothing of these documents reached the server
            vectors.append(self.embedder.embed(texts[i:i + EMBED_BATCH]))
            prog.chunks_done += len(texts[i:i + EMBED_BATCH])
            yield prog
        allvec = np.concatenate(vectors)
        ids, metas, docs = [], [], []
        for p in pending:
            for c in p["chunks"]:
                ids.append(f"{p['key']}:{p['sha'][:12]}:{c.ordinal}")
                metas.append({"doc_key": p["key"], "ordinal": c.ordinal,
                              "page": -1 if c.page is None else int(c.page),
                              "start": int(c.start), "end": int(c.end)})
                docs.append(c.text)
        common = {p["key"]: dict(title=p["title"], sha=p["sha"], size=p["size"],
                                 mtime=p["mtime"]) for p in pending}
        self.server.put_docs({p["key"]: self._record(p["rel"], "indexing", **common[p["key"]])
                              for p in pending})
        self.server.delete_chunks_of(common)
        self.server.add_chunks(ids, allvec, metas, docs)
        done = {p["key"]: self._record(p["rel"], "indexed", chunks=len(p["chunks"]),
                                       **common[p["key"]]) for p in pending}
        self.server.put_docs(done)
        self.server.bump()
        late = fence.forgotten(p["rel"] for p in pending)  # a forget that raced the commit
        if late:
            withdraw(self.server, self.mirror,
                     {p["key"]: done[p["key"]]["gen"] for p in pending if p["rel"] in late})
        for p in pending:
            report.outcomes.append(FileOutcome(p["rel"], "removed", FORGOTTEN_MEANWHILE)
                                   if p["rel"] in late else
                                   FileOutcome(p["rel"], "indexed", chunks=len(p["chunks"])))
            prog.files_done += 1
        prog.stage = "reading"
        pending.clear()

    # -- queries ---------------------------------------------------------------------------------
    def doc_ids_for(self, paths: Sequence[str | os.PathLike]) -> list[int]:
        self.refresh()
        ids: set[int] = set()
        for p in paths:
            ids.update(self.mirror.ids_under(self._rel_of(p)))
        return sorted(ids)

    def search(self, query: str, k: int = 5, paths: Sequence[str | os.PathLike] | None = None,
               mode: str | None = None, one_page_once: bool | None = None) -> list[Hit]:
        self.refresh()
        doc_ids = self.doc_ids_for(paths) if paths else None
        if self.mirror.chunk_count() == 0:
            return []
        retriever = Retriever(self.mirror, self.store, self.embedder, self.retrieval_config)
        return retriever.search(query, k=k, doc_ids=doc_ids, mode=mode,
                                one_page_once=one_page_once)

    def status(self) -> dict:
        records = self.server.all_docs()
        by: dict[str, int] = {}
        for r in records.values():
            by[str(r.get("status"))] = by.get(str(r.get("status")), 0) + 1
        return {"documents": len(records), "by_status": by,
                "chunks": sum(int(r.get("chunks", 0)) for r in records.values()
                              if r.get("status") == "indexed"),
                "server": self.cfg.url, "library": self.cfg.library, "root": self.root,
                "data_dir": str(self.data_dir), "embedding_model": self.embedder.model_id,
                "embedding_dim": self.embedder.dim}

    def documents(self) -> list[DocumentRecord]:
        """Every document of the server library, as the local library lists them."""
        recs = sorted(self.server.all_docs().values(), key=lambda r: str(r.get("path")))
        return [DocumentRecord(i, str(r.get("path", "")), str(r.get("title", "")),
                               str(r.get("sha", "")), int(r.get("size", 0)),
                               float(r.get("mtime", 0.0)), str(r.get("status", "")),
                               str(r.get("reason", "")), int(r.get("chunks", 0)),
                               float(r.get("updated_at", 0.0))) for i, r in enumerate(recs, 1)]

    # -- changes ---------------------------------------------------------------------------------
    def keys_for(self, paths: Iterable[str | os.PathLike]) -> dict[str, str]:
        """Server keys -> library paths of the documents at or under these paths."""
        return self._keys_under([self._rel_of(p) for p in paths])

    def _keys_under(self, rels: list[str]) -> dict[str, str]:
        return {k: str(r.get("path")) for k, r in self.server.all_docs().items()
                if any(under(str(r.get("path", "")), rel) for rel in rels)}

    def forget_many(self, paths: Iterable[str | os.PathLike], **_ignored) -> int:
        """Forget files or folders for every client: tombstones, records marked, chunks out,
        records out. It also wins over index runs already going elsewhere (team_forget.py)."""
        rels = [self._rel_of(p) for p in paths]

        def forget() -> int:
            keys = list(self._keys_under(rels))  # listed after the tombstones are on the server
            if keys:
                self._forget_keys(keys)
            return len(keys)

        return forget_fenced(self.server, rels, forget)

    def forget(self, path: str | os.PathLike) -> int:
        return self.forget_many([path])

    def _forget_keys(self, keys: list[str]) -> None:
        records = self.server.all_docs()
        self.server.put_docs({k: {**records[k], "status": "forgetting", "gen": uuid.uuid4().hex}
                              for k in keys if k in records})
        self.server.delete_chunks_of(keys)
        self.server.delete_docs(keys)
        self.server.bump()
        self.mirror.remove(keys)

    def wipe(self) -> None:
        """Delete the whole server library (for every client) and this client's mirror."""
        self.server.wipe()
        self.mirror.reset()

    def close(self) -> None:
        self.mirror.close()
        self.server.close()

    def __enter__(self) -> TeamLibrary:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_team(url: str, data_dir: str | os.PathLike, *, library: str | None = None,
              token_file: str | None = None, root: str | None = None, **kwargs) -> TeamLibrary:
    """Open a server library from user-given strings (CLI, GUI settings)."""
    from rag.server.server_store import DEFAULT_LIBRARY, read_token

    if not url:
        raise HearthError("No library server given.")
    cfg = ServerConfig(url=url.rstrip("/"), library=library or DEFAULT_LIBRARY,
                       token=read_token(token_file))
    return TeamLibrary(cfg, data_dir, root=root, **kwargs)
