"""A real `chroma run` (the server shipped in the chromadb package) for the team-library tests.

Started on a free port, waited for by connecting until it accepts (or the process exits), and
stopped at the end; `restart()` brings it back on the same folder and port after a kill.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ChromaServer:
    def __init__(self, path: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.path, self.host = Path(path), host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen | None = None
        self.log = self.path.with_name(self.path.name + ".log")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 90) -> ChromaServer:
        exe = Path(sys.executable).with_name("chroma")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY": "False"}
        log = open(self.log, "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self.proc = subprocess.Popen([str(exe), "run", "--path", str(self.path), "--host",
                                      self.host, "--port", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self._wait_listening(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        """Connect until the server accepts; each failed try waits on the process's exit, so a
        server that dies at start is reported at once instead of after the timeout."""
        gone = threading.Event()
        threading.Thread(target=lambda: (self.proc.wait(), gone.set()), daemon=True).start()
        deadline = timeout
        while deadline > 0:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                if gone.wait(0.1):
                    break
                deadline -= 0.1
        raise RuntimeError(f"chroma run did not start on {self.url}: "
                           f"{self.log.read_text(errors='replace')[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> ChromaServer:
        self.kill()
        return self.start()


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (to serve on), if there is one."""
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            return parts[parts.index("inet") + 1].split("/", 1)[0]
    return None
