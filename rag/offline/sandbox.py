"""No network below Python: a seccomp filter that makes the kernel itself refuse sockets.

Why: the audit hook in `rag.offline.privacy` sees only Python's own socket calls. Native code talks to
the kernel directly: onnxruntime's telemetry uploader, or any C library's resolver call
(getaddrinfo sends a UDP datagram to port 53). A seccomp filter is checked by the kernel on every
system call of every thread, so nothing in the process, Python or native, gets past it.

Two strengths:
- `deny_network()`: no IPv4/IPv6 socket at all. For the document-reading child, which opens
  hostile files and has no reason to reach anything.
- `deny_datagrams()`: IPv4/IPv6 sockets other than TCP streams are refused, so no name lookup
  (DNS over UDP), no QUIC and no raw packets leave the process, while `hearth serve` still
  listens on loopback and a team library still connects to the server the user named by address.

Both also refuse io_uring (which can open and connect sockets without the socket system call)
and the 32-bit and x32 system call tables (another way in on x86-64). A filter cannot be lifted
and is inherited by every thread and child started later. Where the kernel or the architecture
has no seccomp (macOS, Windows, an old kernel, a sandbox that forbids it), `install` returns the
reason in plain words and the caller logs it: the audit hook and the telemetry switches remain.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import socket
import sys

# Architectures Hearth ships for: (audit arch, socket, io_uring_setup, seccomp) system call numbers.
_ARCHES = {
    "x86_64": (0xC000003E, 41, 425, 317),
    "aarch64": (0xC00000B7, 198, 425, 277),
}
_X32_BIT = 0x40000000  # x86-64's x32 ABI: the same calls under other numbers

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_AND = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_REFUSE = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO: the call fails with "not permitted"
_NR, _ARCH, _ARG0, _ARG1 = 0, 4, 16, 24  # offsets in struct seccomp_data (low words: little-endian)
_SOCK_TYPE_MASK = 0xF  # SOCK_NONBLOCK / SOCK_CLOEXEC live above it

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1

_installed: str | None = None  # the strongest filter this process has


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn))]


def program(arch: str, streams_allowed: bool) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, constant) instructions.

    Written with named jump targets ("refuse", "allow", "inet"; None: the next instruction),
    then assembled into the relative jumps classic BPF wants.
    """
    audit, nr_socket, nr_uring, _ = _ARCHES[arch]
    steps: list[tuple] = [
        (None, _LD_ABS, _ARCH, None, None),
        (None, _JEQ, audit, None, "refuse"),  # another system call table (32-bit compat)
        (None, _LD_ABS, _NR, None, None),
        (None, _JGE, _X32_BIT, "refuse", None),  # x32
        (None, _JEQ, nr_uring, "refuse", None),  # io_uring
        (None, _JEQ, nr_socket, None, "allow"),  # not a socket call
        (None, _LD_ABS, _ARG0, None, None),
        (None, _JEQ, int(socket.AF_INET), "inet", None),
        (None, _JEQ, int(socket.AF_INET6), "inet", "allow"),  # Unix and netlink sockets pass
    ]
    if streams_allowed:  # an inet socket passes only if it is a TCP stream
        steps += [("inet", _LD_ABS, _ARG1, None, None),
                  (None, _AND, _SOCK_TYPE_MASK, None, None),
                  (None, _JEQ, int(socket.SOCK_STREAM), "allow", "refuse")]
    else:
        steps += [("inet", _JEQ, 0, "refuse", "refuse")]
    steps += [("refuse", _RET, _REFUSE, None, None), ("allow", _RET, _ALLOW, None, None)]
    where = {label: i for i, (label, *_rest) in enumerate(steps) if label}

    def offset(i: int, target: str | None) -> int:
        return 0 if target is None else where[target] - i - 1

    return [(code, offset(i, jt), offset(i, jf), k)
            for i, (_label, code, k, jt, jf) in enumerate(steps)]


def unavailable_reason() -> str | None:
    """None where a filter can be installed, else why not (in plain words)."""
    if not sys.platform.startswith("linux"):
        return f"the operating system ({sys.platform}) has no seccomp filters"
    arch = platform.machine()
    if arch not in _ARCHES:
        return f"no seccomp filter is written for this processor ({arch})"
    if sys.byteorder != "little":
        return "no seccomp filter is written for big-endian processors"
    return None


def install(streams_allowed: bool) -> str | None:
    """Install the filter in this process (all its threads); None on success, else why not."""
    global _installed
    reason = unavailable_reason()
    if reason:
        return reason
    insns = program(platform.machine(), streams_allowed)
    array = (_Insn * len(insns))(*[_Insn(*i) for i in insns])
    prog = _Prog(len(insns), array)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"the kernel refused no_new_privs ({os.strerror(ctypes.get_errno())})"
    nr_seccomp = _ARCHES[platform.machine()][3]
    # seccomp(2) with TSYNC covers threads that already run; prctl only the calling thread.
    done = libc.syscall(nr_seccomp, _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC,
                        ctypes.byref(prog)) == 0
    if not done and libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog),
                               0, 0) != 0:
        return f"the kernel refused the seccomp filter ({os.strerror(ctypes.get_errno())})"
    if _installed != "network":
        _installed = "datagrams" if streams_allowed else "network"
    return None


def deny_network() -> str | None:
    """No IPv4/IPv6 socket of any kind from now on; None on success, else why not."""
    return install(streams_allowed=False)


def deny_datagrams() -> str | None:
    """Only TCP streams from now on (no DNS, UDP or raw packets); None on success, else why not."""
    return install(streams_allowed=True)


def installed() -> str | None:
    """'network', 'datagrams' or None: the strongest filter this process runs under."""
    return _installed
