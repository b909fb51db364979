"""Detached server processes of the local provider: ports, pid files, health checks, stopping.

Servers outlive ``mlplan apply`` (they run in their own session); each has a ``server.json`` with
its pid, port and command so that ``read`` can tell a live server from a dead one (or a reused pid).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import filelock

from mlplan.core.errors import ProviderError
from mlplan.providers.base import Context
from mlplan.providers.local.logs import failure_cause, last_lines
from mlplan.providers.local.workspace import read_json, write_json_atomic

HOST = "127.0.0.1"


@dataclass
class Server:
    pid: int
    port: int
    marker: str  # a string on the process's command line, against pid reuse
    log: str

    def save(self, path: Path) -> None:
        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> Server | None:
        data = read_json(path)
        if not data or "pid" not in data:
            return None
        return cls(int(data["pid"]), int(data["port"]), str(data["marker"]), str(data.get("log", "")))

    def alive(self) -> bool:
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return _pid_exists(self.pid)
        return self.marker in cmdline and not zombie(self.pid)

    def healthy(self, path: str = "/", timeout: float = 2.0) -> bool:
        return self.alive() and http_ok(self.port, path, timeout)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits to be reaped (False when it is gone or unreadable)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    return False


def http_ok(port: int, path: str = "/", timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def allocate_port(root: Path) -> int:
    """A free loopback port that no other server of this workspace holds (ports.json, under a lock)."""
    registry = root / "ports.json"
    with filelock.FileLock(str(root / "ports.lock")):
        used = set((read_json(registry) or {}).get("ports", []))
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((HOST, 0))
                port = int(s.getsockname()[1])
            if port not in used:
                used.add(port)
                write_json_atomic(registry, {"ports": sorted(used)})
                return port
    raise ProviderError("no free loopback port found")


def release_port(root: Path, port: int) -> None:
    registry = root / "ports.json"
    with filelock.FileLock(str(root / "ports.lock")):
        used = set((read_json(registry) or {}).get("ports", []))
        used.discard(port)
        write_json_atomic(registry, {"ports": sorted(used)})


def start(argv: list[str], env: dict[str, str], cwd: Path, log: Path, port: int, marker: str) -> Server:
    """Start a detached server process; its output goes to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Server(proc.pid, port, marker, str(log))


def wait_healthy(
    server: Server, path: str = "/", timeout: float = 60.0, ctx: Context | None = None, code_dir: Path | None = None
) -> None:
    """Wait until the server answers ``path``; a cancelled apply (``ctx.cancelled``) stops it and stops waiting.
    A server that never becomes healthy is stopped, and the error names what it died of (the exception
    raised in ``code_dir``, the user's scoring code, when its log has one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_ok(server.port, path, timeout=1.0):
            return
        if not server.alive():
            break
        if ctx is not None and ctx.cancelled.is_set():
            stop(server)
            ctx.check_cancelled(f"waiting for the server on port {server.port}")
        time.sleep(0.1)
    stop(server)
    raise ProviderError(f"server on port {server.port} did not become healthy: {_cause(server.log, code_dir)}")


def _cause(log: str, code_dir: Path | None) -> str:
    """What a server died of, and where its log is: the exception in the user's code, else the log's end."""
    lines: list[str] = []
    with contextlib.suppress(OSError):
        lines = Path(log).read_text(errors="replace").splitlines()
    found = failure_cause(lines, code_dir)
    if found is None:
        found = " / ".join(last_lines(lines, 3)) or "its log is empty"
    return f"{found}; log: {log}"


def stop(server: Server, grace: float = 10.0) -> None:
    """SIGTERM the server's process group (gunicorn finishes in-flight requests), SIGKILL after ``grace``."""
    if not server.alive():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(server.pid, os.WNOHANG)  # reap it if it is our child
        if not server.alive():
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)
