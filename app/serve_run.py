"""Running the API server: the bearer token, loopback-only sockets, uvicorn in the foreground
(`hearth serve`) or on a background thread (the GUI's toggle).

Why we bind the sockets ourselves: uvicorn binds one host; Hearth listens on 127.0.0.1 and ::1
(same port), and a bind is where the "loopback only" promise is kept. A non-loopback address
is refused unless `--allow-remote` is given; then `hearth serve` tells the privacy guard
(rag/offline/privacy.py `allow_listen`) that this one address may be listened on. The guard still
refuses every outbound connect and lookup, so Hearth only ever answers, it never calls out.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from rag.base.errors import HearthError
from rag.offline.privacy import NetworkBlocked, is_loopback_host

DEFAULT_PORT = 4327  # "HEAR" on a phone keypad
DEFAULT_HOSTS = ("127.0.0.1", "::1")
TOKEN_NAME = "api-token"
CONFIG_NAME = "serve.json"  # the GUI toggle: {"enabled": bool, "port": int}


class _Stopped(Exception):
    """A stop signal arrived (see Server.run)."""


class UsageError(HearthError):
    """Bad command-line use (exit code 2)."""


def token_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / TOKEN_NAME


def load_or_create_token(data_dir: str | os.PathLike, *, renew: bool = False) -> str:
    """The API key every request must carry, made on first use and kept 0600 in the data dir."""
    path = token_path(data_dir)
    if not renew:
        try:
            token = path.read_text(encoding="ascii").strip()
            if token:
                return token
        except OSError:
            pass
    Path(data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    token = "hearth-" + secrets.token_urlsafe(32)
    tmp = path.with_name(TOKEN_NAME + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
    os.replace(tmp, path)
    return token


def read_config(data_dir: str | os.PathLike) -> dict:
    try:
        raw = json.loads((Path(data_dir) / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    port = raw.get("port")
    return {"enabled": bool(raw.get("enabled", False)),
            "port": port if isinstance(port, int) and 0 < port < 65536 else DEFAULT_PORT}


def write_config(data_dir: str | os.PathLike, enabled: bool, port: int) -> None:
    path = Path(data_dir) / CONFIG_NAME
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"enabled": enabled, "port": port}, fh)
    os.replace(path.with_suffix(".tmp"), path)


def check_hosts(hosts: Sequence[str], allow_remote: bool) -> list[str]:
    """Literal addresses to bind; anything not loopback needs `allow_remote` (UsageError)."""
    out = []
    for host in hosts:
        host = host.strip().strip("[]")
        if host.lower() == "localhost":
            host = "127.0.0.1"
        if not is_loopback_host(host) and not allow_remote:
            raise UsageError(
                f"Hearth serves only this computer (127.0.0.1 and ::1); listening on {host} "
                "would let other machines ask about your documents. Add --allow-remote if you "
                "really mean it.")
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            raise UsageError(f"--host takes an IP address, not {host!r}.") from None
        out.append(host)
    return out


def bind_sockets(hosts: Sequence[str], port: int) -> list[socket.socket]:
    """Listening sockets, one per address, on one port (port 0: a free one, shared by all).
    An unavailable ::1 (IPv6 off) is skipped when 127.0.0.1 is bound."""
    socks: list[socket.socket] = []
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(1024)
            sock.setblocking(False)
        except NetworkBlocked:
            sock.close()
            for s in socks:
                s.close()
            raise HearthError(
                f"Hearth's privacy guard refused to listen on {host}: only this computer may "
                f"ask unless you start `hearth serve --allow-remote --host {host}`. A tunnel "
                f"to loopback also works (ssh -L {port or DEFAULT_PORT}:127.0.0.1:"
                f"{port or DEFAULT_PORT} THIS_HOST)."
            ) from None
        except OSError as exc:
            sock.close()
            if family == socket.AF_INET6 and socks and host == "::1":
                continue  # IPv6 disabled, or the port is taken there only: IPv4 still serves
            for s in socks:
                s.close()
            raise HearthError(f"Cannot listen on {host} port {port}: "
                              f"{exc.strerror or exc}. Try another --port.") from None
        port = port or sock.getsockname()[1]
        socks.append(sock)
    return socks


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/v1"


class Server:
    """uvicorn on pre-bound sockets, in the foreground (`run`) or on a thread (`start`/`stop`)."""

    def __init__(self, app, sockets: list[socket.socket], max_connections: int = 512,
                 on_exit=None) -> None:
        import uvicorn

        class _Server(uvicorn.Server):
            def handle_exit(self, sig, frame) -> None:  # SIGINT/SIGTERM: stop queued work too
                super().handle_exit(sig, frame)
                if on_exit is not None:
                    on_exit()

        self.sockets = sockets
        self.on_exit = on_exit
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", limit_concurrency=max_connections,
                                timeout_graceful_shutdown=3, server_header=False,
                                proxy_headers=False)
        self.server = _Server(config)
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def urls(self) -> list[str]:
        return [url_for(s) for s in self.sockets]

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM. uvicorn shuts down gracefully on either and then raises
        the signal again for the previous handler: ours turns that into a normal return, so
        the caller still closes the model and the library (exit 0, not "killed")."""
        import signal

        def stopped(_signum, _frame) -> None:
            raise _Stopped

        previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.server.run(sockets=self.sockets)
        except _Stopped:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._close_sockets()

    def start(self) -> None:
        import asyncio

        def main() -> None:
            try:
                asyncio.run(self.server.serve(sockets=self.sockets))
            except BaseException as exc:  # noqa: BLE001 - kept for whoever stops it
                self.error = exc
            finally:
                self._close_sockets()

        self._thread = threading.Thread(target=main, name="hearth-serve-http", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.on_exit is not None:
            self.on_exit()
        if self._thread is not None:
            self._thread.join(timeout)

    def _close_sockets(self) -> None:
        for s in self.sockets:
            s.close()


def say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
