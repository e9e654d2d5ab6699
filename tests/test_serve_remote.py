"""`hearth serve --allow-remote`: other machines may ask, Hearth still calls nobody.

A real server bound to this machine's own non-loopback address (the first IPv4 address of a
non-loopback interface, e.g. a container's eth0), under `strace -f`, answered through that
address by the official `openai` client and httpx. The trace must show no connect/sendto to any
non-loopback address: listening for others is allowed, reaching out is not.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import netcheck
import pytest
from corpus import build_corpus

openai = pytest.importorskip("openai")
ROOT = Path(__file__).resolve().parents[1]
REMOTE = "93.184.216.34"  # a public address that must never be contacted
QUESTION = "Which Roman town was destroyed by pyroclastic flows?"
SIOCGIFADDR = 0x8915


def lan_address() -> str | None:
    """This machine's first non-loopback IPv4 address (read from the interfaces, no traffic)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            try:
                raw = fcntl.ioctl(probe.fileno(), SIOCGIFADDR,
                                  struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on this interface
            addr = socket.inet_ntoa(raw[20:24])
            if not addr.startswith("127."):
                return addr
    finally:
        probe.close()
    return None


@pytest.fixture(scope="module")
def lan() -> str:
    addr = lan_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address to listen on")
    return addr


def guarded(code: str, tmp_path: Path) -> subprocess.Popen:
    """A fresh guarded Python process under strace (reads lines from the test on stdin)."""
    script = tmp_path / "probe.py"
    script.write_text("from rag.offline.privacy import install_guard\ninstall_guard()\n"
                      + textwrap.dedent(code), encoding="utf-8")
    cmd = ["strace", "-f", "-qq", "-s", "0", "-e", f"trace=bind,{netcheck.TRACED_SYSCALLS}",
           "-e", "signal=none", "-o", str(tmp_path / "trace.txt"), sys.executable, str(script)]
    return subprocess.Popen(cmd, env=netcheck.clean_env(tmp_path / "data"), cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_guard_lets_a_chosen_address_listen_and_still_refuses_every_outbound_use(lan, tmp_path):
    if reason := netcheck.strace_available():
        pytest.skip(reason)
    proc = guarded(f"""
    import json, socket, sys
    from rag.offline.privacy import NetworkBlocked, allow_listen

    def attempt(call):
        try:
            call()
            return "allowed"
        except NetworkBlocked:
            return "blocked"

    out = {{}}
    srv = socket.socket()
    out["bind_before"] = attempt(lambda: srv.bind(("{lan}", 0)))
    allow_listen("{lan}")
    out["bind_after"] = attempt(lambda: srv.bind(("{lan}", 0)))
    srv.listen(4)
    print(srv.getsockname()[1], flush=True)
    conn, peer = srv.accept()          # the test connects in from outside this process
    conn.sendall(conn.recv(16).upper())
    conn.close()
    sys.stdin.readline()               # the test has read its answer
    out["peer"] = peer[0]
    out["connect_to_it"] = attempt(lambda: socket.create_connection(("{lan}", 9), timeout=1))
    out["connect_remote"] = attempt(lambda: socket.socket().connect(("{REMOTE}", 80)))
    out["udp_sendto"] = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                                .sendto(b"x", ("{lan}", 9)))
    out["bind_wildcard"] = attempt(lambda: socket.socket().bind(("0.0.0.0", 0)))
    out["lookup"] = attempt(lambda: socket.getaddrinfo("example.com", 443))
    print(json.dumps(out), flush=True)
    """, tmp_path)
    try:
        port = int(proc.stdout.readline() or 0)
        assert port, proc.stderr.read()
        with socket.create_connection((lan, port), timeout=30) as client:
            client.sendall(b"ping")
            assert client.recv(16) == b"PING"  # served to an inbound client on the LAN address
        proc.stdin.write("done\n")
        proc.stdin.flush()
        out = json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert out == {"bind_before": "blocked", "bind_after": "allowed", "peer": lan,
                   "connect_to_it": "blocked", "connect_remote": "blocked",
                   "udp_sendto": "blocked", "bind_wildcard": "blocked", "lookup": "blocked"}
    trace = (tmp_path / "trace.txt").read_text()
    assert f'inet_addr("{lan}")' in trace  # the trace saw the probe (its bind, and its accept)
    assert netcheck.remote_connections(trace) == []  # not one packet addressed outwards


@pytest.fixture(scope="module")
def remote_server(lan, tmp_path_factory, embedder):
    """`hearth serve --host LAN --allow-remote` under strace, on a library indexed here."""
    if reason := netcheck.strace_available():
        pytest.skip(reason)
    from rag.library import Library

    root = tmp_path_factory.mktemp("remote")
    docs, data = build_corpus(root / "docs"), root / "data"
    with Library.open(data, embedder=embedder, owner="test") as lib:
        lib.index([docs])
    env = netcheck.clean_env(data)
    token = subprocess.run([*netcheck.hearth_command(), "serve", "--show-token"], env=env,
                           cwd=ROOT, capture_output=True, text=True, timeout=120).stdout.strip()
    trace = root / "serve.trace"
    cmd = ["strace", "-f", "-qq", "-s", "0", "-e", f"trace=bind,{netcheck.TRACED_SYSCALLS}",
           "-e", "signal=none", "-o", str(trace), *netcheck.hearth_command(), "serve",
           "--host", lan, "--port", "0", "--allow-remote", "--json"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # printed once the model is loaded and the port listens
    if not line:
        pytest.fail(f"hearth serve --allow-remote did not start: {proc.stderr.read()}")
    yield {"info": json.loads(line), "token": token, "proc": proc, "trace": trace}
    if proc.poll() is None:
        stop(proc)


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM to the traced hearth process (strace's child), as Ctrl+C would; its exit code."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    for pid in children:
        os.kill(int(pid), signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.mark.slow
def test_remote_server_answers_clients_through_the_lan_address(remote_server, lan):
    info, token = remote_server["info"], remote_server["token"]
    assert info["urls"] == [f"http://{lan}:{info['port']}/v1"]  # only the chosen address
    client = openai.OpenAI(base_url=info["urls"][0], api_key=token, max_retries=0)
    assert info["models"][0] in [m.id for m in client.models.list()]
    chunks = list(client.chat.completions.create(
        model="hearth", messages=[{"role": "user", "content": QUESTION}], stream=True,
        max_tokens=16))
    first = chunks[0].model_extra["sources"][0]
    assert Path(first["path"]).name == "volcanoes.pdf" and first["page"] == 2
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    vectors = client.embeddings.create(model="x", input=["lava", "ash"]).data
    assert len(vectors) == 2 and len(vectors[0].embedding) == 384
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=info["urls"][0], api_key="wrong", max_retries=0).models.list()
    # Other machines name this one however they like: the Host check is for loopback only.
    r = httpx.get(info["urls"][0] + "/models", headers={"Authorization": f"Bearer {token}",
                                                       "Host": "hearth-box.lan:4327"})
    assert r.status_code == 200
    with pytest.raises(httpx.ConnectError):  # loopback was not asked for, so it isn't served
        httpx.get(f"http://127.0.0.1:{info['port']}/v1/models", timeout=5)


@pytest.mark.slow
def test_remote_server_warns_and_never_connects_outwards(remote_server):
    # Runs last in this module: stop the server, then read everything it wrote and did.
    proc = remote_server["proc"]
    assert stop(proc) == 0
    stderr = proc.stderr.read()
    assert "WARNING: --allow-remote" in stderr and "API key" in stderr
    assert "privacy guard: blocked" not in stderr and "Traceback" not in stderr
    trace = remote_server["trace"].read_text()
    lan = remote_server["info"]["urls"][0].split("//")[1].split(":")[0]
    assert f'inet_addr("{lan}")' in trace and "bind(" in trace  # the trace saw the server
    remote = netcheck.remote_connections(trace)
    assert remote == [], "\n".join(c.line for c in remote[:20])
    assert netcheck.name_lookups(trace) == [], netcheck.name_lookups(trace)[:20]
