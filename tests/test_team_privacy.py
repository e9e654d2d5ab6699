"""Privacy with a team library: the guard lets exactly the configured server through.

In fresh subprocesses (audit hooks can't be removed): `allow_server(HOST, PORT)` permits that
address and port and nothing else; then the real `hearth --server URL index/search` under
`strace -f` against a real `chroma run` on this machine's non-loopback address (loopback when
there is none) connects to that one address and port only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import netcheck
import pytest
from chroma_server import ChromaServer, non_loopback_address

pytestmark = pytest.mark.slow


def test_guard_allows_exactly_the_configured_server(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent("""\
        import json, socket
        from rag.offline.privacy import install_guard, allow_server, NetworkBlocked
        install_guard()
        allow_server("192.0.2.10", 8000)
        out = {}
        for host, port in [("192.0.2.10", 8000), ("192.0.2.10", 8001), ("192.0.2.11", 8000),
                           ("93.184.216.34", 443)]:
            s = socket.socket()
            s.settimeout(0.2)
            try:
                s.connect((host, port))
                out[f"{host}:{port}"] = "connected"
            except NetworkBlocked:
                out[f"{host}:{port}"] = "blocked"
            except OSError as exc:  # allowed by the guard; the network itself said no
                out[f"{host}:{port}"] = "allowed"
            finally:
                s.close()
        try:
            socket.getaddrinfo("example.com", 443)
            out["lookup"] = "allowed"
        except NetworkBlocked:
            out["lookup"] = "blocked"
        except OSError:
            out["lookup"] = "allowed"
        print(json.dumps(out))
        """), encoding="utf-8")
    env = netcheck.clean_env(tmp_path / "data")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=60, cwd=str(netcheck.REPO))
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"192.0.2.10:8000": "allowed", "192.0.2.10:8001": "blocked",
                   "192.0.2.11:8000": "blocked", "93.184.216.34:443": "blocked",
                   "lookup": "blocked"}


def test_hearth_with_a_server_connects_only_to_it(tmp_path):
    if reason := netcheck.strace_available():
        pytest.skip(reason)
    host = non_loopback_address() or "127.0.0.1"
    srv = ChromaServer(tmp_path / "chroma", host=host).start()
    try:
        share = tmp_path / "share"
        share.mkdir()
        (share / "notes.txt").write_text("The quasarbellflower opens at night on the north "
                                         "slope.\n", encoding="utf-8")
        data = tmp_path / "data"
        flags = ["--server", srv.url, "--server-library", "traced", "--server-root", str(tmp_path)]
        runs = []
        for args in (["index", str(share), "--json"], ["search", "quasarbellflower", "--json"]):
            run = netcheck.run_traced([*netcheck.hearth_command(), *args, *flags],
                                      netcheck.clean_env(data), tmp_path / f"{args[0]}.trace",
                                      timeout=400)
            assert run.returncode == 0, run.explain()
            assert "privacy guard: blocked" not in run.stderr, run.stderr[-2000:]
            conns = netcheck.parse_strace(run.trace)
            assert {(c.address, c.port) for c in conns if c.syscall == "connect"
                    and not (c.loopback and host != "127.0.0.1")} == {(host, srv.port)}, \
                run.explain()
            if host != "127.0.0.1":
                assert {(c.address, c.port) for c in run.remote} == {(host, srv.port)}
            runs.append(run)
        assert json.loads(runs[0].stdout)["indexed"] == 1
        hits = json.loads(runs[1].stdout)
        assert hits and hits[0]["path"] == "share/notes.txt"
    finally:
        srv.stop()


def test_cli_server_down_message(tmp_path):
    from chroma_server import free_port

    proc = subprocess.run([*netcheck.hearth_command(), "status", "--server",
                           f"http://127.0.0.1:{free_port()}"],
                          env=netcheck.clean_env(tmp_path / "data"), capture_output=True,
                          text=True, timeout=120, cwd=str(Path(netcheck.REPO)))
    assert proc.returncode == 1
    assert "Cannot reach the library server" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()  # nothing written for a server that isn't there
