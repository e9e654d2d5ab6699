"""Offline environment and in-process network guard, installed first thing in every hearth process.

Why: Hearth promises that documents never leave the machine. Libraries we depend on have their own
ideas (Hugging Face hub checks, telemetry); environment switches turn those off, and an audit hook
(PEP 578) refuses any Python-level socket operation that is not loopback or a Unix socket, so a
regression fails loudly instead of leaking quietly. The one exception is opt-in and inbound only:
`hearth serve --allow-remote --host ADDR` may listen on ADDR (allow_listen). Native code that
opens sockets itself is not visible to audit hooks; the strace and `unshare -rn` tests
(tests/test_privacy_os.py) cover that.

This module must stay cheap: no heavy imports, and the hook filters on the event name first
because it runs on every audit event in the process (file opens, imports, ...).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "CHROMA_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    "DISABLE_TELEMETRY": "1",
    "OTEL_SDK_DISABLED": "true",  # opentelemetry (pulled in by chromadb)
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "GRADIO_ANALYTICS_ENABLED": "False",
    # onnxruntime (the OCR; 1.2x and later send telemetry from Linux and macOS too): its
    # documented opt-out, read once when the library loads; both spellings it has used.
    "ORT_TELEMETRY_DISABLED": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

#: Environment variable naming a file where refused attempts are appended (else stderr only).
LOG_ENV = "HEARTH_PRIVACY_LOG"
LOG_NAME = "privacy.log"

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

# Audit events that mean "talk to another host", mapped to how to find the host in their args.
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"})
_NAME_EVENTS = frozenset({
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
    "socket.gethostbyaddr", "socket.getnameinfo",
})
_CLIENT_EVENTS = frozenset({
    "http.client.connect", "ftplib.connect", "smtplib.connect", "poplib.connect",
    "imaplib.open", "nntplib.connect", "telnetlib.Telnet.open",
})
_WATCHED = _SOCKET_EVENTS | _NAME_EVENTS | _CLIENT_EVENTS | {"urllib.Request"}

_AF_UNIX = getattr(socket, "AF_UNIX", None)
_AF_NETLINK = getattr(socket, "AF_NETLINK", None)  # local kernel plumbing (interface lists)
_INET = (socket.AF_INET, socket.AF_INET6)
_STDLIB_DIR = os.path.dirname(os.__file__)

_lock = threading.Lock()
_installed = False
_reported: set[str] = set()
_attempts: list[dict] = []
_servers: set[tuple[str, int]] = set()  # the configured library server (allow_server)
_listen_on: set[str] = set()  # addresses `hearth serve --allow-remote` may bind (see allow_listen)


class NetworkBlocked(OSError):
    """Raised instead of letting a non-loopback network operation happen."""


def set_offline_env() -> None:
    """Force the offline/no-telemetry switches (overrides whatever the user's shell had)."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value


def chroma_settings() -> dict:
    """Keyword arguments for `chromadb.config.Settings(...)`: telemetry off, explicitly."""
    return {"anonymized_telemetry": False, "allow_reset": True}


def install_guard(log_path: str | os.PathLike | None = None, private_umask: bool = True) -> None:
    """Set the offline env, make new files private, and install the network audit hook once.

    `log_path` (or $HEARTH_PRIVACY_LOG, else `<data dir>/privacy.log`) gets refused attempts; they
    always go to stderr too, once per destination. `private_umask` sets umask 0o077 so every file
    this process creates (SQLite, chroma segments, settings, logs) is 0600 and every dir 0700.
    Calling it again only updates the log path.
    """
    global _installed
    set_offline_env()
    if log_path is not None:
        os.environ[LOG_ENV] = os.fspath(log_path)
    if private_umask:
        os.umask(0o077)
    with _lock:
        if _installed:
            return
        sys.addaudithook(_audit_hook)
        _installed = True


def guard_installed() -> bool:
    return _installed


def guard_native(server: str | None = None) -> str | None:
    """Refuse datagram sockets at the kernel for the rest of this process: no name lookup (DNS
    over UDP), QUIC or raw packet from native code, which the audit hook cannot see.

    Why not when `server` names a host: the team library's server must be looked up by name.
    Why not in the window: programs it opens for the user (the default app for a file) would
    inherit the filter. Returns None when the filter is on, else why not (also logged).
    """
    from urllib.parse import urlsplit

    from rag.offline import sandbox

    host = urlsplit(server if "://" in (server or "") else f"//{server}").hostname if server \
        else None
    if host and not is_loopback_host(host) and not _is_address(host):
        reason = "a library server is named by host name, so name lookups stay possible"
    else:
        reason = sandbox.deny_datagrams()
    if reason:
        log_notice(f"the kernel-level network filter is off: {reason}")
    return reason


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        return True
    except ValueError:
        return False


def log_notice(text: str) -> None:
    """A privacy notice (not a refusal) for the privacy log only, once per text: a user on a
    system without the kernel filter should not read it before every command."""
    with _lock:
        if text in _reported:
            return
        _reported.add(text)
    _write_line(f"hearth privacy guard: {text}\n", to_stderr=False)


def set_log_dir(data_dir: str | os.PathLike) -> None:
    """Once the data dir is known, log refused attempts to `<data_dir>/privacy.log` as well."""
    os.environ[LOG_ENV] = os.path.join(os.fspath(data_dir), LOG_NAME)


def allow_listen(host: str) -> None:
    """Let this process bind (listen on) the non-loopback address `host`.

    Why: `hearth serve --allow-remote --host ADDR` is the user's explicit choice to answer other
    machines. Only binding that exact address is allowed; connects, sends and name lookups to
    any non-loopback host stay refused, so Hearth still never opens a connection outwards.
    """
    with _lock:
        _listen_on.add(_normal_ip(host))


def listen_allowed() -> list[str]:
    """The non-loopback addresses this process was allowed to listen on, sorted."""
    with _lock:
        return sorted(_listen_on)


def _normal_ip(host: object) -> str:
    """A literal address in one spelling ('::0' and '0:0::' are '::'), else the text as given."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip().strip("[]").split("%", 1)[0].lower()
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def allow_server(host: str, port: int) -> None:
    """Let this process connect to the one library server the user configured (`--server`).

    Why: a team library lives on a Chroma server. Only that host and port become reachable:
    its name may be looked up, and connects go only to the addresses it resolves to, on that
    port. Every other host and port stays refused.
    """
    with _lock:
        _servers.add((_server_key(host), int(port)))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:  # unresolvable: the connection attempt reports it in plain words
        return
    with _lock:
        _servers.update((_server_key(info[4][0]), int(port)) for info in infos)


def _server_key(host: object) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip().strip("[]").split("%", 1)[0].rstrip(".").lower()
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _server_allowed(host: object, port: object) -> bool:
    """True for the configured library server's host (any port when `port` is None)."""
    if not _servers:
        return False
    key = _server_key(host)
    if port is None:
        return any(h == key for h, _ in _servers)
    try:
        return (key, int(port)) in _servers
    except (TypeError, ValueError):
        return False


def blocked_attempts() -> list[dict]:
    """What this process tried and was refused (event, destination, origin), oldest first."""
    with _lock:
        return [dict(a) for a in _attempts]


def is_loopback_host(host: object) -> bool:
    """True for 'localhost' and literal loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().rstrip(".").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.split("%", 1)[0]  # IPv6 zone id
    if not name or not (name[0].isdigit() or ":" in name):
        return False
    import ipaddress  # stdlib, small; only reached for real network events

    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return bool(addr.is_loopback or (mapped is not None and mapped.is_loopback))


def _host_of(address: object) -> object:
    """The host part of a socket address tuple, or the address itself."""
    if isinstance(address, tuple) and address:
        return address[0]
    return address


def _socket_destination(event: str, args: tuple) -> str | None:
    """None if allowed, else a printable destination for a socket.* operation."""
    sock, address = args[0], args[1]
    family = getattr(sock, "family", None)
    if address is None or family is None:  # sendmsg on a connected socket: its connect was checked
        return None
    if family == _AF_UNIX or family == _AF_NETLINK:
        return None
    if family in _INET and is_loopback_host(_host_of(address)):
        return None
    if event == "socket.bind" and family in _INET and _listen_on \
            and _normal_ip(_host_of(address)) in _listen_on:
        return None  # hearth serve --allow-remote: listening only, never connecting
    if family in _INET and event == "socket.connect" and isinstance(address, tuple) \
            and len(address) >= 2 and _server_allowed(address[0], address[1]):
        return None  # the configured library server, that address and port only
    return _format(address)  # non-loopback IP, wildcard bind, raw/packet/bluetooth sockets...


def _name_destination(event: str, args: tuple) -> str | None:
    """None if allowed, else the name/address someone tried to resolve."""
    target = args[0] if args else None
    if event == "socket.getnameinfo":
        target = _host_of(target)
    if target is None:  # getaddrinfo(None, port): local wildcard, no lookup
        return None
    if is_loopback_host(target):
        return None
    if event == "socket.getaddrinfo" and _server_allowed(target, args[1] if len(args) > 1 else None):
        return None
    return _format(args[0] if event != "socket.getaddrinfo" else (args[0], args[1]))


def _client_destination(event: str, args: tuple) -> str | None:
    host = args[1] if len(args) > 1 else None
    if is_loopback_host(host):
        return None
    port = args[2] if len(args) > 2 else ""
    if _server_allowed(host, port if port != "" else None):
        return None
    return f"{host}:{port}"


def _url_destination(args: tuple) -> str | None:
    url = args[0] if args else ""
    if not isinstance(url, str):
        url = getattr(url, "full_url", str(url))
    scheme, _, rest = url.partition("://")
    if scheme.lower() in ("file", "data", ""):
        return None
    netloc = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    host = netloc[1:].split("]", 1)[0] if netloc.startswith("[") else netloc.split(":", 1)[0]
    return None if is_loopback_host(host) else url


def _format(value: object) -> str:
    if isinstance(value, tuple):
        return ":".join(str(v) for v in value[:2])
    return str(value)


def _origin() -> str:
    """The innermost few frames outside the stdlib and this module: who tried to connect."""
    frame = sys._getframe(3)  # 0 _origin, 1 _report, 2 _audit_hook, 3 the caller
    found: list[str] = []
    while frame is not None and len(found) < 3:
        name = frame.f_code.co_filename
        if not name.startswith(_STDLIB_DIR) or "site-packages" in name:
            if name != __file__:
                found.append(f"{name}:{frame.f_lineno}")
        frame = frame.f_back
    return " <- ".join(found) or "?"


def _audit_hook(event: str, args: tuple) -> None:
    if event not in _WATCHED:  # the hot path: every import/open/exec event stops here
        return
    if event in _SOCKET_EVENTS:
        dest = _socket_destination(event, args)
    elif event in _NAME_EVENTS:
        dest = _name_destination(event, args)
    elif event == "urllib.Request":
        dest = _url_destination(args)
    else:
        dest = _client_destination(event, args)
    if dest is None:
        return
    _report(event, dest)
    raise NetworkBlocked(f"Hearth works offline: blocked {event} to {dest}")


def _report(event: str, dest: str) -> None:
    origin = _origin()
    with _lock:
        _attempts.append({"event": event, "destination": dest, "origin": origin,
                          "time": time.time()})
        if dest in _reported:
            return
        _reported.add(dest)
    _write_line(f"hearth privacy guard: blocked {event} to {dest} (from {origin})\n")


def _write_line(line: str, to_stderr: bool = True) -> None:
    try:
        if to_stderr:
            sys.stderr.write(line)
    except Exception:  # noqa: BLE001 - reporting must never mask the refusal itself
        pass
    log_path = _log_path()
    if log_path:
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + line)
        except OSError:
            pass


def _log_path() -> str | None:
    """$HEARTH_PRIVACY_LOG, else privacy.log in the data dir if that already exists."""
    explicit = os.environ.get(LOG_ENV)
    if explicit:
        return explicit
    try:
        from rag.base.paths import default_data_dir

        folder = default_data_dir()
    except Exception:  # noqa: BLE001 - platformdirs missing or odd env: stderr still has it
        return None
    return os.path.join(folder, LOG_NAME) if os.path.isdir(folder) else None


def onnxruntime_telemetry_off() -> None:
    """onnxruntime's own switch, beside the ORT_TELEMETRY_DISABLED environment variable set
    above before it loads (the variable is the one that also stops start-up events); the OCR
    and the ONNX embedder call it before their first session."""
    try:
        import onnxruntime

        onnxruntime.disable_telemetry_events()
    except (ImportError, AttributeError):  # an onnxruntime without telemetry has no switch
        pass
