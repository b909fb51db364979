"""SIGKILL the quickstart's apply while it trains and deploys: the next apply converges, no orphan server."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_mlplan

pytestmark = pytest.mark.slow


def processes_of(project: Path) -> set[int]:
    """Live server processes (session leaders, not their workers) whose command line names this workspace."""
    ws = str(project / ".mlplan/local-workspace")
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().split(") ", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])  # state, pgrp
        if ws in cmdline and state != "Z" and session == int(proc.name):
            found.add(int(proc.name))
    return found


def recorded(project: Path) -> set[int]:
    ws = project / ".mlplan/local-workspace/endpoints"
    return {json.loads(p.read_text())["pid"] for p in ws.glob("**/*.json") if p.name in ("server.json", "router.json")}


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[Path]:
    project = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples/quickstart", project, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    try:
        yield project
    finally:
        run_mlplan("-C", str(project), "destroy", "--auto-approve")
        for pid in processes_of(project):
            os.kill(pid, signal.SIGKILL)


# With the default parallelism the first five operations (compute, 2 data, environment, endpoint) run
# together; then come the job (6th), the model (7th), the deployment (8th) and the traffic (9th).
@pytest.mark.parametrize(
    "point",
    ["mid_operation:5", "mid_operation:6", "mid_operation:7", "mid_operation:8", "before_end:8", "after_begin:9"],
)
def test_crash_while_deploying_converges_without_orphans(quickstart: Path, point: str) -> None:
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve", env={"MLPLAN_CRASHPOINT": point})
    assert r.code == -signal.SIGKILL, f"{point} was not reached:\n{r.text}"
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0
    state = json.loads(run_mlplan("-C", str(quickstart), "state", "pull").out)
    assert state["pending"] == {}
    runs = list((quickstart / ".mlplan/local-workspace/jobs").iterdir())
    assert len(runs) == 1, runs  # a run whose mlplan died is removed; its retry is the one run
    models = quickstart / ".mlplan/local-workspace/models/cancer-model"
    assert sorted(p.name for p in models.iterdir() if (p / "asset.json").exists()) == ["1"]
    live = processes_of(quickstart)
    assert live == recorded(quickstart), "every server running is one the workspace knows (no orphans)"
    assert len(live) == 2  # the router and blue's inference server
    r = run_mlplan("-C", str(quickstart), "destroy", "--auto-approve")
    assert r.code == 0, r.text
    assert processes_of(quickstart) == set()
