"""Helpers for tests that watch real processes: mlplan stopped at a crash point, local servers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import MLPLAN


def start_stopped(project: Path, crashpoint: str, *args: str) -> subprocess.Popen[str]:
    """``mlplan apply`` that stops itself (SIGSTOP) at ``crashpoint``; returns once it has stopped."""
    proc = subprocess.Popen(
        [MLPLAN, "-C", str(project), "apply", "--auto-approve", *args],
        env={**os.environ, "MLPLAN_CRASHPOINT": f"{crashpoint}:stop"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        _pid, status = os.waitpid(proc.pid, os.WNOHANG | os.WUNTRACED)
        if status and os.WIFSTOPPED(status):
            return proc
        assert time.monotonic() < deadline, f"apply never reached {crashpoint}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Running (a zombie is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return False
    return state != "Z"


def server_pids(project: Path) -> list[int]:
    """The pids of the routers and inference servers the local workspace records."""
    ws = project / ".mlplan/local-workspace/endpoints"
    return [json.loads(p.read_text())["pid"] for p in ws.glob("**/*.json") if p.name in ("server.json", "router.json")]


def kill_leftovers(project: Path, started: Iterable[int] = ()) -> None:
    """The safety net after ``mlplan destroy``: SIGKILL the process group of every server the workspace
    records (or recorded when the test started) that still runs."""
    for pid in set(started) | set(server_pids(project)):
        if alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
