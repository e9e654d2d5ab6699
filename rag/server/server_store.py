"""A library on a Chroma server (`chroma run`): connection, errors, and its two collections.

Per library NAME the server holds `NAME.chunks` (vectors in cosine space, the chunk text as the
record's document, metadata {doc_key, ordinal, page, start, end}) and `NAME.docs` (one record per
document: its library-relative path, content hash, status, chunk count; plus a `~version` record
whose token changes after every write, so clients know cheaply when to refresh their keyword
mirror, rag/server/team_mirror.py), and `NAME.forgotten` (one tombstone per forgotten path, so a forget
wins over index runs that started before it: rag/server/team_forget.py). Explicit embeddings only: chroma's default embedding function is
never used, and telemetry is off.

Why our own timeouts: chromadb's HTTP client waits forever (httpx timeout=None); a server that
is down or unreachable must give the user a plain sentence within 5 seconds.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from rag.base.errors import EmbeddingMismatch, HearthError

CONNECT_TIMEOUT_S = 4.0  # the user hears within 5 s that the server is not there
READ_TIMEOUT_S = 120.0  # a big upsert on a busy server can take a while
VERSION_ID = "~version"
DEFAULT_LIBRARY = "hearth"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,48}[A-Za-z0-9]$")
GET_PAGE = 2000


class ServerUnavailable(HearthError):
    """The library server could not be reached or stopped answering."""


@dataclass(frozen=True)
class ServerConfig:
    """Where a shared library lives: `url` (http[s]://HOST[:PORT]), its name, optional token."""

    url: str
    library: str = DEFAULT_LIBRARY
    token: str | None = None

    @property
    def parts(self) -> tuple[bool, str, int]:
        return parse_server_url(self.url)

    @property
    def host(self) -> str:
        return self.parts[1]

    @property
    def port(self) -> int:
        return self.parts[2]


def parse_server_url(url: str) -> tuple[bool, str, int]:
    """(ssl, host, port) of `http://HOST:PORT` or `https://HOST[:PORT]`; HearthError if not."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise HearthError(f"Not a server address: {url!r} ({exc}).") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HearthError(f"Not a server address: {url!r}. Use http://HOST:PORT or https://HOST.")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise HearthError(f"Give the server as http://HOST:PORT only, not {url!r}.")
    ssl = parts.scheme == "https"
    return ssl, parts.hostname, port or (443 if ssl else 8000)


def insecure_warning(url: str) -> str | None:
    """A warning when documents would cross a network unencrypted (not https, not loopback)."""
    from rag.offline.privacy import is_loopback_host

    try:
        ssl, host, _port = parse_server_url(url)
    except HearthError:
        return None
    if ssl or is_loopback_host(host):
        return None
    return (f"{url} is not encrypted (http) and not on this computer: your documents' text and "
            "vectors would cross the network readable by anyone on it. Put the server behind "
            "an https proxy (docs/team.md).")


def check_library_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise HearthError(f"Library name {name!r} must be 3-50 letters, digits, '-' or '_'.")
    return name


def read_token(path: str | os.PathLike | None) -> str | None:
    """The token in `path` (first line, stripped), or None when no file is given."""
    if not path:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise HearthError(f"Cannot read the server token file {path}: {exc.strerror}.") from exc
    if not token or not token[0].strip():
        raise HearthError(f"The server token file {path} is empty.")
    return token[0].strip()


def _unreachable(cfg: ServerConfig, why: str) -> ServerUnavailable:
    return ServerUnavailable(
        f"Cannot reach the library server at {cfg.url} ({why}). Check that it is running "
        "(`chroma run --path DIR --host HOST --port N`) and reachable; local libraries still work.")


@contextmanager
def talking(cfg: ServerConfig, doing: str):
    """Turn transport failures of chromadb/httpx into one plain sentence (ServerUnavailable)."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise ServerUnavailable(f"The library server at {cfg.url} did not answer in time while "
                                f"{doing}. Run the same command again once it answers; nothing "
                                "is left half-written.") from exc
    except (httpx.TransportError, ConnectionError) as exc:
        raise ServerUnavailable(f"Lost the connection to the library server at {cfg.url} while "
                                f"{doing} ({type(exc).__name__}). Run the same command again "
                                "once it is back; it finishes without duplicates.") from exc
    except Exception as exc:  # noqa: BLE001 - chroma's own errors: one line for the user
        if isinstance(exc, HearthError):
            raise
        name = type(exc).__name__
        if _refused_auth(exc):
            raise HearthError(f"The library server at {cfg.url} refused the token while "
                              f"{doing} (none given, or not the right one: --server-token-file)."
                              ) from exc
        raise HearthError(f"The library server at {cfg.url} failed while {doing}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else name}") from exc


def _refused_auth(exc: BaseException) -> bool:
    """A 401/403 anywhere in the chain (chromadb re-raises it as ValueError or Exception)."""
    import httpx

    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 8:
        seen.append(cur)
        if isinstance(cur, httpx.HTTPStatusError) and cur.response.status_code in (401, 403):
            return True
        words = f"{type(cur).__name__} {cur}".lower()
        if any(w in words for w in ("unauthorized", "forbidden", "authentication", " 401")):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def probe(cfg: ServerConfig, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to the server: a plain error within `timeout`."""
    _ssl, host, port = cfg.parts
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError as exc:
        raise _unreachable(cfg, f"no answer within {timeout:.0f} s") from exc
    except OSError as exc:
        raise _unreachable(cfg, exc.strerror or type(exc).__name__) from exc


class ServerCollections:
    """The two collections of one library on one server (see the module docstring)."""

    def __init__(self, cfg: ServerConfig, *, model_id: str, dim: int) -> None:
        os.environ["ANONYMIZED_TELEMETRY"] = "False"
        from rag.offline.privacy import allow_server

        ssl, host, port = cfg.parts
        check_library_name(cfg.library)
        self.cfg = cfg
        allow_server(host, port)  # the privacy guard lets exactly this address through
        probe(cfg)
        import chromadb
        import httpx
        from chromadb.config import Settings as ChromaSettings

        from rag.offline.privacy import chroma_settings

        headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else None
        settings = ChromaSettings(**chroma_settings())
        with talking(cfg, "connecting"):
            self._client = chromadb.HttpClient(host=host, port=port, ssl=ssl, headers=headers,
                                               settings=settings)
            session = getattr(getattr(self._client, "_server", None), "_session", None)
            if session is not None:  # chromadb's client never times out on its own
                session.timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
            self._client.heartbeat()
            self.max_batch = max(1, min(int(self._client.get_max_batch_size()), 5000))
        self.model_id, self.dim = model_id, dim
        self._open()

    def _open(self) -> None:
        meta = {"hnsw:space": "cosine", "embedding_model": self.model_id, "dim": self.dim}
        with talking(self.cfg, "opening the library"):
            self.chunks = self._client.get_or_create_collection(
                f"{self.cfg.library}.chunks", metadata=meta, embedding_function=None)
            self.docs = self._client.get_or_create_collection(
                f"{self.cfg.library}.docs", metadata={"hearth": "documents"},
                embedding_function=None)
            self.forgotten = self._client.get_or_create_collection(
                f"{self.cfg.library}.forgotten", metadata={"hearth": "tombstones"},
                embedding_function=None)
        got = self.chunks.metadata or {}
        if got.get("embedding_model") != self.model_id or int(got.get("dim", self.dim)) != self.dim:
            raise EmbeddingMismatch(
                f"The server library {self.cfg.library!r} was built with the embedding model "
                f"{got.get('embedding_model')!r} (dim {got.get('dim')}), not {self.model_id!r}.")

    @property
    def identity(self) -> str:
        """Changes when the library is wiped and made again: the mirror must start over."""
        return f"{self.chunks.id}/{self.docs.id}"

    # -- documents --------------------------------------------------------------------------
    def all_docs(self) -> dict[str, dict]:
        """Every document record, by key (the version record left out)."""
        out: dict[str, dict] = {}
        with talking(self.cfg, "listing documents"):
            offset = 0
            while True:
                got = self.docs.get(include=["metadatas"], limit=GET_PAGE, offset=offset)
                for key, meta in zip(got["ids"], got["metadatas"], strict=True):
                    if key != VERSION_ID:
                        out[key] = dict(meta or {})
                if len(got["ids"]) < GET_PAGE:
                    return out
                offset += GET_PAGE

    def put_docs(self, records: dict[str, dict]) -> None:
        self._put_records(self.docs, records, "saving document records")

    def _put_records(self, collection, records: dict[str, dict], doing: str) -> None:  # noqa: ANN001
        """Records as metadata of one-number vectors (a collection that holds no text)."""
        keys = list(records)
        with talking(self.cfg, doing):
            for i in range(0, len(keys), self.max_batch):
                part = keys[i:i + self.max_batch]
                collection.upsert(ids=part, embeddings=np.ones((len(part), 1), np.float32),
                                  metadatas=[records[k] for k in part])

    def get_docs(self, keys: list[str]) -> dict[str, dict]:
        """The records of these documents that exist now, by key."""
        return self._get_by_ids(self.docs, keys, "reading document records")

    def delete_docs(self, keys: list[str]) -> None:
        with talking(self.cfg, "deleting document records"):
            for i in range(0, len(keys), 500):
                self.docs.delete(ids=keys[i:i + 500])

    # -- tombstones (rag/server/team_forget.py) --------------------------------------------------------
    def tombstones(self, ids: Iterable[str]) -> dict[str, dict]:
        """The tombstones among these ids, by id."""
        return self._get_by_ids(self.forgotten, list(dict.fromkeys(ids)), "checking forgets")

    def put_tombstones(self, stones: dict[str, dict]) -> None:
        self._put_records(self.forgotten, stones, "saving forgets")

    def _get_by_ids(self, coll, ids: list[str], doing: str) -> dict[str, dict]:
        out: dict[str, dict] = {}
        with talking(self.cfg, doing):
            for i in range(0, len(ids), 500):
                got = coll.get(ids=ids[i:i + 500], include=["metadatas"])
                out.update((k, dict(m or {})) for k, m in zip(got["ids"], got["metadatas"],
                                                               strict=True))
        return out

    def version(self) -> str:
        with talking(self.cfg, "checking for changes"):
            got = self.docs.get(ids=[VERSION_ID], include=["metadatas"])
        metas = got.get("metadatas") or []
        return str((metas[0] or {}).get("token", "")) if metas else ""

    def bump(self) -> None:
        """Tell every client the library changed (after the change is complete)."""
        with talking(self.cfg, "saving the library version"):
            self.docs.upsert(ids=[VERSION_ID], embeddings=np.ones((1, 1), np.float32),
                             metadatas=[{"token": uuid.uuid4().hex}])

    # -- chunks -----------------------------------------------------------------------------
    def add_chunks(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict],
                   texts: list[str]) -> None:
        with talking(self.cfg, "sending chunks"):
            for i in range(0, len(ids), self.max_batch):
                j = i + self.max_batch
                self.chunks.upsert(ids=ids[i:j], embeddings=np.asarray(vectors[i:j], np.float32),
                                   metadatas=metadatas[i:j], documents=texts[i:j])

    def delete_chunks_of(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        with talking(self.cfg, "deleting chunks"):
            for i in range(0, len(keys), 200):
                self.chunks.delete(where={"doc_key": {"$in": keys[i:i + 200]}})

    def chunks_of(self, keys: list[str]) -> dict[str, list[tuple[str, dict, str]]]:
        """(id, metadata, text) of every chunk of these documents, grouped by document key."""
        out: dict[str, list[tuple[str, dict, str]]] = {k: [] for k in keys}
        with talking(self.cfg, "reading chunk text"):
            for i in range(0, len(keys), 100):
                part = keys[i:i + 100]
                offset = 0
                while True:
                    got = self.chunks.get(where={"doc_key": {"$in": part}},
                                          include=["metadatas", "documents"],
                                          limit=GET_PAGE, offset=offset)
                    for cid, meta, text in zip(got["ids"], got["metadatas"], got["documents"],
                                               strict=True):
                        out.setdefault(str((meta or {}).get("doc_key")), []).append(
                            (cid, dict(meta or {}), text or ""))
                    if len(got["ids"]) < GET_PAGE:
                        break
                    offset += GET_PAGE
        return out

    def query(self, vector: np.ndarray, k: int, keys: list[str] | None = None
              ) -> list[tuple[str, float]]:
        if k <= 0 or (keys is not None and not keys):
            return []
        where = {"doc_key": {"$in": keys}} if keys is not None else None
        with talking(self.cfg, "searching"):
            n = self.chunks.count()
            if n == 0:
                return []
            res = self.chunks.query(query_embeddings=np.asarray([vector], np.float32),
                                    n_results=min(k, n), where=where, include=["distances"])
        return list(zip(res["ids"][0], (float(d) for d in res["distances"][0]), strict=True))

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        with talking(self.cfg, "reading vectors"):
            got = self.chunks.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, np.float32) for i, v in zip(got["ids"], got["embeddings"],
                                                             strict=True)}

    def count(self) -> int:
        with talking(self.cfg, "counting chunks"):
            return int(self.chunks.count())

    def wipe(self) -> None:
        with talking(self.cfg, "deleting the library"):
            for name in (f"{self.cfg.library}.{part}" for part in ("chunks", "docs", "forgotten")):
                try:
                    self._client.delete_collection(name)
                except Exception as exc:  # noqa: BLE001 - already gone is fine
                    if "does not exist" not in str(exc):
                        raise
        self._open()
        self.bump()

    def close(self) -> None:
        session = getattr(getattr(self._client, "_server", None), "_session", None)
        if session is not None:
            session.close()
