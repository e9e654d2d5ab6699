"""The in-process network guard (rag/offline/privacy.py), exercised in fresh subprocesses.

Why subprocesses: audit hooks can never be removed, so installing one inside pytest would change
every later test; and the OS-level check (strace) must watch a process of its own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import netcheck
import pytest

from rag.offline import privacy

REMOTE = "93.184.216.34"  # a public address (example.com's old one); must never be contacted


def run_py(code: str, tmp_path: Path, env_extra: dict[str, str] | None = None,
           traced: bool = False) -> netcheck.TracedRun:
    """Run `code` with the guard installed first, in a clean user-like environment."""
    script = tmp_path / "probe.py"
    script.write_text("from rag.offline.privacy import install_guard\ninstall_guard()\n"
                      + textwrap.dedent(code), encoding="utf-8")
    env = netcheck.clean_env(tmp_path / "data", **(env_extra or {}))
    args = [sys.executable, str(script)]
    if traced:
        return netcheck.run_traced(args, env, tmp_path / "trace.txt", timeout=60)
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60,
                          cwd=str(netcheck.REPO))
    return netcheck.TracedRun(proc.returncode, proc.stdout, proc.stderr, "")


def last_json(run: netcheck.TracedRun) -> dict:
    assert run.returncode == 0, run.explain()
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_remote_connect_refused_before_any_syscall(tmp_path):
    code = f"""
    import json, socket
    from rag.offline.privacy import NetworkBlocked, blocked_attempts
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    results = {{}}
    for name, call in [("connect", lambda: s.connect(("{REMOTE}", 80))),
                       ("connect_ex", lambda: s.connect_ex(("{REMOTE}", 80)))]:
        try:
            call()
            results[name] = "connected"
        except NetworkBlocked as exc:
            results[name] = ["blocked", isinstance(exc, OSError), str(exc)]
    print(json.dumps({{"results": results, "attempts": blocked_attempts()}}))
    """
    reason = netcheck.strace_available()
    run = run_py(code, tmp_path, traced=reason is None)
    out = last_json(run)
    for name in ("connect", "connect_ex"):
        status, is_oserror, message = out["results"][name]
        assert status == "blocked" and is_oserror, out
        assert REMOTE in message
    assert [a["destination"] for a in out["attempts"]] == [f"{REMOTE}:80"] * 2
    assert "probe.py" in out["attempts"][0]["origin"]  # the log says who tried
    # Logged once per destination on stderr, however many times it was tried.
    assert run.stderr.count(f"blocked socket.connect to {REMOTE}:80") == 1
    if reason is None:
        assert not [c for c in netcheck.parse_strace(run.trace) if c.address == REMOTE], run.trace


def test_name_lookups_and_clients_refused(tmp_path):
    code = """
    import json, socket, urllib.request, http.client
    from rag.offline.privacy import NetworkBlocked
    calls = {
        "getaddrinfo": lambda: socket.getaddrinfo("example.com", 443),
        "gethostbyname": lambda: socket.gethostbyname("example.com"),
        "gethostbyname_ex": lambda: socket.gethostbyname_ex("example.com"),
        "gethostbyaddr": lambda: socket.gethostbyaddr("8.8.8.8"),
        "getnameinfo": lambda: socket.getnameinfo(("8.8.8.8", 53), 0),
        "create_connection": lambda: socket.create_connection(("example.com", 80), 1),
        "urlopen": lambda: urllib.request.urlopen("https://huggingface.co/api/models", timeout=1),
        "http.client": lambda: http.client.HTTPSConnection("us.i.posthog.com", timeout=1).connect(),
        "udp_sendto": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
            b"x", ("8.8.8.8", 53)),
        "udp6_sendmsg": lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendmsg(
            [b"x"], [], 0, ("2001:4860:4860::8888", 53)),
        "bind_all_interfaces": lambda: socket.socket().bind(("0.0.0.0", 0)),
    }
    out = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = "allowed"
        except NetworkBlocked:
            out[name] = "blocked"
        except OSError as exc:
            out[name] = f"other OSError: {exc!r}"
    print(json.dumps(out))
    """
    reason = netcheck.strace_available()
    run = run_py(code, tmp_path, traced=reason is None)
    out = last_json(run)
    assert out == {name: "blocked" for name in out}, out
    assert len(out) == 11
    if reason is None:
        assert run.remote == [], run.explain()


class _PongServer:
    """A tiny loopback TCP server: answers each connection's first line with 'pong'."""

    def __init__(self, family: int, host: str):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(16)
                conn.sendall(b"pong")

    def close(self) -> None:
        self.sock.close()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_loopback_and_unix_sockets_allowed(tmp_path):
    v4 = _PongServer(socket.AF_INET, "127.0.0.1")
    v6 = _PongServer(socket.AF_INET6, "::1") if _has_ipv6_loopback() else None
    code = f"""
    import json, socket
    def ping(addr, family=socket.AF_INET):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(addr)
            s.sendall(b"ping")
            return s.recv(16).decode()
    out = {{"ip": ping(("127.0.0.1", {v4.port})),
           "name": socket.create_connection(("localhost", {v4.port}), 5).close() or "ok"}}
    if {v6.port if v6 else 0}:
        out["v6"] = ping(("::1", {v6.port if v6 else 0}), socket.AF_INET6)
    a, b = socket.socketpair()
    a.sendall(b"unix")
    out["socketpair"] = b.recv(8).decode()
    path = {str(tmp_path / "s.sock")!r}
    srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen()
    cli = socket.socket(socket.AF_UNIX); cli.connect(path)
    out["unix"] = "ok"
    srv2 = socket.socket(); srv2.bind(("127.0.0.1", 0))
    out["bind_loopback"] = "ok"
    print(json.dumps(out))
    """
    try:
        out = last_json(run_py(code, tmp_path))
    finally:
        v4.close()
        if v6:
            v6.close()
    expected = {"ip": "pong", "name": "ok", "socketpair": "unix", "unix": "ok",
                "bind_loopback": "ok"}
    if v6:
        expected["v6"] = "pong"
    assert out == expected


def test_install_is_idempotent_cheap_and_sets_env(tmp_path):
    log = tmp_path / "privacy.log"
    code = f"""
    import json, os, socket, sys
    from rag.offline import privacy
    privacy.install_guard(log_path={str(log)!r})
    privacy.install_guard()
    for _ in range(3):
        try:
            socket.socket().connect(("{REMOTE}", 443))
        except privacy.NetworkBlocked:
            pass
    heavy = [m for m in ("torch", "chromadb", "transformers", "sentence_transformers",
                         "llama_cpp", "PySide6", "numpy") if m in sys.modules]
    print(json.dumps({{"attempts": len(privacy.blocked_attempts()), "heavy": heavy,
                      "env": {{k: os.environ.get(k) for k in privacy.OFFLINE_ENV}},
                      "umask": os.umask(0o077)}}))
    """
    # The user's shell says "online"; the guard must override it.
    out = last_json(run_py(code, tmp_path, env_extra={"HF_HUB_OFFLINE": "0",
                                                     "ANONYMIZED_TELEMETRY": "True"}))
    assert out["attempts"] == 3  # one hook, not two: each attempt recorded exactly once
    assert out["heavy"] == []
    assert out["env"] == privacy.OFFLINE_ENV
    assert out["umask"] == 0o077
    lines = log.read_text().splitlines()
    assert len(lines) == 1 and f"{REMOTE}:443" in lines[0]
    assert log.stat().st_mode & 0o777 == 0o600


def test_hook_fast_path_is_cheap():
    import time

    start = time.perf_counter()
    for _ in range(200_000):
        privacy._audit_hook("open", ("x", "r", 0))
    per_call = (time.perf_counter() - start) / 200_000
    assert per_call < 5e-6, f"{per_call * 1e6:.2f} us per unrelated audit event"


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("::ffff:127.0.0.1", True), ("localhost", True), ("LOCALHOST.", True), (b"127.0.0.1", True),
    ("foo.localhost", True), ("", False), ("0.0.0.0", False), ("::", False),
    ("10.0.0.1", False), ("93.184.216.34", False), ("example.com", False),
    ("localhost.example.com", False), ("128.0.0.1", False), (None, False),
])
def test_is_loopback_host(host, loopback):
    assert privacy.is_loopback_host(host) is loopback


def test_chroma_settings_is_a_plain_dict_with_telemetry_off():
    settings = privacy.chroma_settings()
    assert settings["anonymized_telemetry"] is False
    from chromadb.config import Settings

    assert Settings(**settings).anonymized_telemetry is False


def test_blocked_attempt_logged_in_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    code = """
    import socket
    from rag.offline.privacy import NetworkBlocked
    try:
        socket.getaddrinfo("telemetry.example.invalid", 443)
    except NetworkBlocked:
        print("blocked")
    """
    run = run_py(code, tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "blocked", run.explain()
    log = data / privacy.LOG_NAME
    assert "telemetry.example.invalid:443" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600
    assert "telemetry.example.invalid" in run.stderr
