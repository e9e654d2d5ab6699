"""Team library on a real Chroma server (`chroma run` on a free loopback port, no mocks).

Covers: sharing between clients (search sees another client's chunks, keyword side included;
forget is seen by all), identity by library path (two mount points, one document), the server
killed mid-index (clear error; the re-run completes without duplicates), a server that is down
(plain message within 5 s, nothing written), and the token header through a proxy.
"""

from __future__ import annotations

import http.client
import http.server
import shutil
import threading
import time
from pathlib import Path

import pytest
from chroma_server import ChromaServer

from rag.base.errors import HearthError
from rag.server.server_store import ServerConfig, ServerUnavailable, insecure_warning, read_token
from rag.server.team import TeamLibrary, doc_key

WORDS = ["zircon", "marmot", "quillwort", "basalt", "heron", "lichen", "tundra", "sorrel"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ChromaServer(tmp_path_factory.mktemp("srv") / "chroma").start()
    yield srv
    srv.stop()


def write_docs(folder: Path, tag: str, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"{tag}-{i}.txt"
        p.write_text(f"Note {tag} {i}. The {tag}{i}marker sample holds {WORDS[i % len(WORDS)]} "
                     f"and describes field work number {i} by the {tag} team.\n", encoding="utf-8")
        out.append(p)
    return out


def team(server, data: Path, root: Path, embedder, library: str = "shared") -> TeamLibrary:
    return TeamLibrary(ServerConfig(server.url, library), data, root=root, embedder=embedder)


def server_ids(lib: TeamLibrary) -> list[str]:
    return list(lib.server.chunks.get(include=[])["ids"])


def test_two_clients_share_index_search_and_forget(server, tmp_path, embedder):
    share = tmp_path / "share"
    write_docs(share / "alpha", "alpha", 3)
    write_docs(share / "beta", "beta", 3)
    a = team(server, tmp_path / "a", share, embedder)
    b = team(server, tmp_path / "b", share, embedder)
    try:
        assert a.index([share / "alpha"]).count("indexed") == 3
        assert b.index([share / "beta"]).count("indexed") == 3
        # the keyword side is shared: a rare word only b indexed is found by a, by words alone
        hits = a.search("beta1marker", k=3, mode="keyword")
        assert hits and hits[0].path == "beta/beta-1.txt"
        hybrid = a.search("beta1marker", k=3)
        assert hybrid[0].path == "beta/beta-1.txt" and hybrid[0].keyword_rank == 1
        assert a.status()["documents"] == 6 and a.status()["chunks"] == 6
        # forget from b is seen by a's next search (its mirror follows the server)
        assert b.forget_many([share / "alpha" / "alpha-2.txt"]) == 1
        assert all(h.path != "alpha/alpha-2.txt" for h in a.search("alpha2marker", k=6))
        assert "alpha/alpha-2.txt" not in {r.path for r in a.documents()}
        # scoped search by a folder of this machine
        scoped = a.search("field work", k=10, paths=[share / "beta"])
        assert scoped and {h.path.split("/")[0] for h in scoped} == {"beta"}
        ids = server_ids(a)
        assert len(ids) == len(set(ids)) == 5
        # b edits a file and re-indexes it: a's next search has the new text, not the old
        (share / "beta" / "beta-0.txt").write_text("Rewritten: the zeppelinfox lives here now.\n",
                                                   encoding="utf-8")
        assert b.index([share / "beta"]).count("indexed") == 1
        hits = a.search("zeppelinfox", k=1, mode="keyword")
        assert hits and hits[0].path == "beta/beta-0.txt" and "zeppelinfox" in hits[0].text
        assert all("beta0marker" not in h.text for h in a.search("beta0marker", k=5))
        assert len(server_ids(a)) == 5
    finally:
        a.close()
        b.close()


def test_document_identity_does_not_depend_on_the_mount_point(server, tmp_path, embedder):
    """Two machines mount the same share at different places: one document, not two."""
    mount_a, mount_b = tmp_path / "mnt-a", tmp_path / "Volumes" / "team"
    write_docs(mount_a / "papers", "gamma", 2)
    shutil.copytree(mount_a, mount_b)  # same files, other place, other mtimes
    a = team(server, tmp_path / "a", mount_a, embedder, library="mounts")
    b = team(server, tmp_path / "b", mount_b, embedder, library="mounts")
    try:
        assert a.index([mount_a / "papers"]).count("indexed") == 2
        report = b.index([mount_b / "papers"])
        assert report.count("unchanged") == 2 and report.count("indexed") == 0
        assert {r.path for r in b.documents()} == {"papers/gamma-0.txt", "papers/gamma-1.txt"}
        assert len(server_ids(b)) == 2
        assert doc_key("papers/gamma-0.txt") in {k for k in b.server.all_docs()}
        # forgetting by this machine's path removes it for the other machine too
        assert b.forget_many([mount_b / "papers" / "gamma-0.txt"]) == 1
        assert [h.path for h in a.search("gamma0marker", k=3)] == ["papers/gamma-1.txt"]
    finally:
        a.close()
        b.close()


def test_server_killed_mid_index_then_rerun_completes_without_duplicates(tmp_path, embedder):
    srv = ChromaServer(tmp_path / "chroma").start()
    folder = tmp_path / "share" / "many"
    write_docs(folder, "delta", 200)  # one chunk each: the first batch (128) commits, then...
    lib = team(srv, tmp_path / "a", tmp_path / "share", embedder, library="killed")
    killed = threading.Event()

    def progress(p):
        if p.files_done >= 128 and not killed.is_set():
            killed.set()
            srv.kill()  # ...the server dies between two batches

    try:
        with pytest.raises(ServerUnavailable) as err:
            lib.index([folder], progress=progress)
        assert killed.is_set()
        assert "Run the same command again" in str(err.value)
        lib.close()
        srv.start()
        lib = team(srv, tmp_path / "a", tmp_path / "share", embedder, library="killed")
        report = lib.index([folder])
        assert report.count("indexed") + report.count("unchanged") == 200
        assert report.count("unchanged") >= 128
        ids = server_ids(lib)
        assert len(ids) == len(set(ids)) == 200
        st = lib.status()
        assert st["by_status"] == {"indexed": 200} and st["chunks"] == 200
        assert lib.search("delta150marker", k=1)[0].path == "many/delta-150.txt"
    finally:
        lib.close()
        srv.stop()


def test_server_down_is_a_plain_message_within_5_s(tmp_path, embedder):
    from chroma_server import free_port

    data = tmp_path / "data"
    t0 = time.perf_counter()
    with pytest.raises(ServerUnavailable) as err:
        TeamLibrary(ServerConfig(f"http://127.0.0.1:{free_port()}"), data, embedder=embedder)
    assert time.perf_counter() - t0 < 5
    assert "Cannot reach the library server" in str(err.value)
    assert not data.exists()  # nothing written for a server that isn't there


def test_insecure_url_warning_and_bad_inputs(tmp_path):
    assert insecure_warning("http://10.1.2.3:8000") and "https" in insecure_warning(
        "http://10.1.2.3:8000")
    assert insecure_warning("https://chroma.lab.example") is None
    assert insecure_warning("http://127.0.0.1:8000") is None
    assert insecure_warning("http://localhost:8000") is None
    with pytest.raises(HearthError):
        ServerConfig("ftp://x:1").parts  # noqa: B018 - the property validates
    empty = tmp_path / "token"
    empty.write_text("\n")
    with pytest.raises(HearthError, match="empty"):
        read_token(empty)


class _TokenProxy(http.server.ThreadingHTTPServer):
    """A reverse proxy like the TLS proxy of docs/team.md: only requests with the token pass."""

    daemon_threads = True

    def __init__(self, upstream_port: int, token: str) -> None:
        self.upstream_port, self.token, self.seen = upstream_port, token, []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        srv = self.server
        auth = self.headers.get("Authorization", "")
        srv.seen.append(auth)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if auth != f"Bearer {srv.token}":
            self.send_response(401)
            self.send_header("Content-Length", "12")
            self.end_headers()
            self.wfile.write(b"Unauthorized")
            return
        conn = http.client.HTTPConnection("127.0.0.1", srv.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


def test_token_header_is_sent_and_required_by_the_proxy(server, tmp_path, embedder):
    proxy = _TokenProxy(server.port, "s3cret-team-token")
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-team-token\n")
    try:
        write_docs(tmp_path / "share" / "eps", "eps", 1)
        cfg = ServerConfig(url, "viaproxy", token=read_token(token_file))
        with TeamLibrary(cfg, tmp_path / "a", root=tmp_path / "share", embedder=embedder) as lib:
            assert lib.index([tmp_path / "share" / "eps"]).count("indexed") == 1
            assert lib.search("eps0marker", k=1)[0].path == "eps/eps-0.txt"
        assert proxy.seen and set(proxy.seen) == {"Bearer s3cret-team-token"}
        with pytest.raises(HearthError, match="refused the token"):
            TeamLibrary(ServerConfig(url, "viaproxy"), tmp_path / "b", embedder=embedder)
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_ask_answers_from_the_server_library(server, tmp_path, embedder, chat_model):
    """`hearth ask` uses the same answering code: evidence and sources come from the server."""
    from rag.answering.answer import answer_stream

    write_docs(tmp_path / "share" / "ask", "ask", 3)
    with team(server, tmp_path / "a", tmp_path / "share", embedder, library="asking") as lib:
        assert lib.index([tmp_path / "share" / "ask"]).count("indexed") == 3
        events = list(answer_stream(lib, chat_model, "What does the ask1marker sample hold?",
                                    k=3, max_tokens=24))
    done = [e for e in events if e.kind == "done"][-1].answer
    assert done.sources and done.sources[0].path == "ask/ask-1.txt"
    assert done.evidence and "marmot" in done.evidence[0].quote  # WORDS[1]
