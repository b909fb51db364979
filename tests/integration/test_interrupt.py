"""Ctrl-C during apply: running operations finish, state is saved, exit 130, the next apply converges."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import run_mlplan
from tests.processes import start_stopped


@pytest.mark.slow
def test_ctrl_c_finishes_running_operations_and_saves_state(project: Path) -> None:
    # Stop the process in the middle of its first operation, deliver Ctrl-C, let it go on.
    proc = start_stopped(project, "mid_operation:1", "--parallelism", "1")
    os.kill(proc.pid, signal.SIGINT)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Interrupted" in err
    assert "1 done" in out and "3 skipped" in out, out
    state = json.loads(run_mlplan("-C", str(project), "state", "pull").out)
    assert len(state["resources"]) == 1, "the operation that was running when Ctrl-C came must be saved"
    assert state["pending"] == {}
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0
