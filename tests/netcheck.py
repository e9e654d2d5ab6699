"""Helpers for the OS-level privacy proofs: run a command under strace / in a network namespace.

Why: Python audit hooks can't see sockets opened by native code (Rust, C++), chroma silences its
telemetry by itself whenever pytest is imported, and onnxruntime whenever it sees a CI variable. Only tracing the system calls of a real
`hearth` subprocess proves that nothing talks to another host.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRACED_SYSCALLS = "socket,connect,sendto,sendmsg,sendmmsg"
# Tools that switch their telemetry off when they think they run in CI (onnxruntime reads these):
# stripped, so the proof sees what a user's machine would do.
CI_MARKERS = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
              "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR",
              "BITBUCKET_BUILD_NUMBER", "ORT_RUNNING_UNIT_TESTS")

_SYSCALL = re.compile(r"\b(connect|sendto|sendmsg|sendmmsg)\(")
_FAMILY = re.compile(r"sa_family=(AF_INET6?)\b")
_V4 = re.compile(r'inet_addr\("([^"]*)"\)')
_V6 = re.compile(r'inet_pton\(AF_INET6,\s*"([^"]*)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_DATAGRAM = re.compile(r"\bsocket\((AF_INET6?|PF_INET6?),\s*(SOCK_DGRAM|SOCK_RAW)")


@dataclass(frozen=True)
class Connection:
    """One AF_INET/AF_INET6 destination seen in a traced syscall."""

    syscall: str
    family: str
    address: str
    port: int | None
    line: str

    @property
    def loopback(self) -> bool:
        return is_loopback_address(self.address)


def is_loopback_address(address: str) -> bool:
    try:
        addr = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False  # unparsable counts as remote: the proof must be conservative
    mapped = getattr(addr, "ipv4_mapped", None)
    return addr.is_loopback or (mapped is not None and mapped.is_loopback)


def parse_strace(text: str) -> list[Connection]:
    """Every IPv4/IPv6 socket address passed to connect/sendto/sendmsg in an strace log."""
    found: list[Connection] = []
    for line in text.splitlines():
        call = _SYSCALL.search(line)
        if not call:
            continue
        families = _FAMILY.findall(line)
        v4 = iter(_V4.findall(line))
        v6 = iter(_V6.findall(line))
        ports = iter(_PORT.findall(line))
        for family in families:
            addr = next(v4 if family == "AF_INET" else v6, "?")
            port = next(ports, None)
            found.append(Connection(call.group(1), family, addr,
                                    int(port) if port else None, line.strip()))
    return found


def remote_connections(text: str) -> list[Connection]:
    return [c for c in parse_strace(text) if not c.loopback]


def name_lookups(text: str) -> list[str]:
    """Trace lines that show a name lookup or an attempt at one: anything sent to port 53 (even
    on loopback: a local resolver forwards it), or an IPv4/IPv6 datagram or raw socket asked
    for, whether the kernel granted it or refused it. Hearth itself never needs either."""
    lines = [c.line for c in parse_strace(text) if c.port == 53]
    lines += [ln.strip() for ln in text.splitlines() if _DATAGRAM.search(ln)]
    return lines


def strace_available() -> str | None:
    """None if `strace -f` can trace a child here, else the reason it can't (for pytest.skip)."""
    exe = shutil.which("strace")
    if exe is None:
        return "strace is not installed (make test-setup installs it: apt-get install -y strace)"
    probe = subprocess.run([exe, "-f", "-qq", "-e", "trace=connect", "-o", os.devnull, "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"strace cannot trace processes here (ptrace denied?): {probe.stderr.strip()[:200]}"
    return None


def netns_available() -> str | None:
    """None if `unshare -rn` gives us a network namespace without interfaces, else why not."""
    exe = shutil.which("unshare")
    if exe is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run([exe, "-rn", sys.executable, "-c",
                            "import socket; print(socket.if_nameindex())"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"unprivileged network namespaces are not permitted here: {probe.stderr.strip()[:200]}"
    return None


def hearth_command() -> list[str]:
    """The real `hearth` console script if installed in the venv, else `python -m app`."""
    script = Path(sys.executable).with_name("hearth")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "app"]


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A user-like environment: none of the offline switches pre-set, so the app must set them.

    Why strip them: if the test runner exported HF_HUB_OFFLINE etc., a broken guard would still
    pass. PYTEST_* variables are dropped too; chroma checks `"pytest" in sys.modules`, which a
    fresh subprocess doesn't have.
    """
    from rag.offline.privacy import OFFLINE_ENV

    env = {k: v for k, v in os.environ.items()
           if k not in OFFLINE_ENV and k not in CI_MARKERS and not k.startswith("PYTEST")
           and k != "HEARTH_PRIVACY_LOG"}
    env["HEARTH_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@dataclass
class TracedRun:
    returncode: int
    stdout: str
    stderr: str
    trace: str

    @property
    def remote(self) -> list[Connection]:
        return remote_connections(self.trace)

    @property
    def lookups(self) -> list[str]:
        return name_lookups(self.trace)

    def explain(self) -> str:
        return (f"rc={self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n"
                f"{self.stderr[-3000:]}\n--- remote\n"
                + "\n".join(c.line for c in self.remote[:20]) + "\n--- name lookups\n"
                + "\n".join(self.lookups[:20]))


def run_traced(args: list[str], env: dict[str, str], trace_file: Path, timeout: float = 300,
               cwd: Path | None = None) -> TracedRun:
    """Run `args` under `strace -f` (all threads and children) and return output plus the trace."""
    cmd = ["strace", "-f", "-qq", "-s", "0", "-e", f"trace={TRACED_SYSCALLS}", "-e",
           "signal=none", "-o", str(trace_file), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=str(cwd or REPO))
    trace = trace_file.read_text(errors="replace") if trace_file.exists() else ""
    return TracedRun(proc.returncode, proc.stdout, proc.stderr, trace)


def run_in_netns(args: list[str], env: dict[str, str], timeout: float = 300,
                 cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `args` in a fresh network namespace: only a down loopback, no route anywhere."""
    return subprocess.run(["unshare", "-rn", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=str(cwd or REPO))
