"""Several `hearth --server` processes on one server library at once (real `chroma run`).

Two processes index different folders into the same library while a third searches; then
nothing is duplicated or lost, every client sees every document (keyword side included), and a
forget by one process is seen by the others.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import netcheck
import pytest
from chroma_server import ChromaServer
from test_team_server import write_docs

from rag.server.server_store import ServerConfig
from rag.server.team import TeamLibrary

pytestmark = pytest.mark.slow
PER_FOLDER = 150  # one chunk per file: two embedding batches per writer, interleaved on the server


def hearth(args: list[str], data: Path, flags: list[str]) -> subprocess.Popen:
    return subprocess.Popen([*netcheck.hearth_command(), *args, *flags],
                            env=netcheck.clean_env(data), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(netcheck.REPO))


def finish(proc: subprocess.Popen, timeout: float = 500) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return out


def test_two_writers_and_a_reader_at_once(tmp_path, embedder):
    srv = ChromaServer(tmp_path / "chroma").start()
    share = tmp_path / "share"
    write_docs(share / "north", "north", PER_FOLDER)
    write_docs(share / "south", "south", PER_FOLDER)
    names = {f"{side}/{side}-{i}.txt" for side in ("north", "south") for i in range(PER_FOLDER)}
    flags = ["--server", srv.url, "--server-library", "team", "--server-root", str(share)]
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(f"{side}{i}marker field work\n" for i in range(0, PER_FOLDER, 5)
                               for side in ("north", "south")), encoding="utf-8")
    try:
        writers = [hearth(["index", str(share / side), "--json"], tmp_path / side, flags)
                   for side in ("north", "south")]
        reader = hearth(["search", "--queries", str(queries), "-k", "5", "--json"],
                        tmp_path / "reader", flags)
        reports = [json.loads(finish(w)) for w in writers]
        assert [r["indexed"] for r in reports] == [PER_FOLDER, PER_FOLDER]
        for line in finish(reader).splitlines():  # whatever it saw mid-way was consistent
            hits = json.loads(line)["hits"]
            assert {h["path"] for h in hits} <= names
            assert len({(h["path"], h["text"]) for h in hits}) == len(hits)

        with TeamLibrary(ServerConfig(srv.url, "team"), tmp_path / "c", root=share,
                         embedder=embedder) as lib:
            st = lib.status()
            assert st["by_status"] == {"indexed": 2 * PER_FOLDER} and st["chunks"] == 2 * PER_FOLDER
            ids = list(lib.server.chunks.get(include=[])["ids"])
            assert len(ids) == len(set(ids)) == 2 * PER_FOLDER  # nothing duplicated or lost
            for side in ("north", "south"):  # a third client finds both writers' words
                assert lib.search(f"{side}77marker", k=1, mode="keyword")[0].path == \
                    f"{side}/{side}-77.txt"
            # one process forgets, the others see it at their next search
            out = finish(hearth(["forget", str(share / "north" / "north-77.txt"), "--json"],
                                tmp_path / "north", flags))
            assert json.loads(out)["forgotten"] == 1
            assert all(h.path != "north/north-77.txt" for h in lib.search("north77marker", k=5))
            seen = json.loads(finish(hearth(["search", "north77marker", "-k", "5", "--json"],
                                            tmp_path / "south", flags)))
            assert seen and all(h["path"] != "north/north-77.txt" for h in seen)
            assert lib.status()["documents"] == 2 * PER_FOLDER - 1
    finally:
        srv.stop()
