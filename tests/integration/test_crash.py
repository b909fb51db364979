"""SIGKILL an apply at each crash point, several times; the next apply converges with no duplicates."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import run_mlplan

POINTS = ["before_begin", "after_begin", "mid_operation", "before_end"]


def versions(project: Path) -> dict[str, list[str]]:
    """Every asset version that exists in the local workspace, per kind/name."""
    ws = project / ".mlplan/local-workspace"
    out: dict[str, list[str]] = {}
    for folder in ("data", "models", "environments"):
        for name_dir in sorted((ws / folder).glob("*")) if (ws / folder).is_dir() else []:
            out[f"{folder}/{name_dir.name}"] = sorted(
                p.name for p in name_dir.iterdir() if (p / "asset.json").is_file()
            )
    return out


def crash(project: Path, point: str, nth: int) -> None:
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", env={"MLPLAN_CRASHPOINT": f"{point}:{nth}"})
    assert r.code == -signal.SIGKILL, f"expected a SIGKILL at {point}:{nth}, got {r.code}\n{r.text}"


def converge(project: Path) -> None:
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    staging = project / ".mlplan/local-workspace/.staging"
    assert not staging.exists() or not list(staging.iterdir()), "what a dead operation staged is removed"
    r = run_mlplan("-C", str(project), "plan", "--detailed-exitcode")
    assert r.code == 0, r.text
    state = json.loads(run_mlplan("-C", str(project), "state", "pull").out)
    assert state["pending"] == {}
    assert sorted(state["resources"]) == ["compute.cpu", "data.iris", "environment.sk", "model.clf"]


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("nth", [1, 2, 4])
def test_crash_during_first_apply_converges(project: Path, point: str, nth: int) -> None:
    crash(project, point, nth)
    if point != "before_begin":  # an operation had begun: state list tells, and says what happens next
        listed = run_mlplan("-C", str(project), "state", "list")
        assert listed.code == 0 and "pending: create " in listed.err, listed.text
        assert "the next plan or apply reconciles it" in listed.err
    converge(project)
    assert versions(project) == {"data/iris": ["1"], "environments/sk": ["1"], "models/clf": ["1"]}


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_crash_during_new_version_converges(project: Path, point: str) -> None:
    converge(project)
    for round_ in range(2, 4):
        (project / "files/model/w.txt").write_text(f"weights {round_}\n")
        (project / "files/iris.csv").write_text(f"a,b\n{round_},2\n")
        crash(project, point, 1)
        converge(project)
        got = versions(project)
        assert got["models/clf"] == [str(v) for v in range(1, round_ + 1)], got
        assert got["data/iris"] == [str(v) for v in range(1, round_ + 1)], got


@pytest.mark.slow
def test_crash_before_snapshot_keeps_every_finished_operation(project: Path) -> None:
    for round_ in range(1, 4):
        (project / "files/model/w.txt").write_text(f"weights {round_}\n")
        crash(project, "before_snapshot", 1)
        journal = project / ".mlplan/state/local.json.journal"
        assert journal.stat().st_size > 0, "the journal must hold what the snapshot does not"
        r = run_mlplan("-C", str(project), "plan", "--detailed-exitcode", "--json")
        assert r.code == 0, r.text  # everything applied before the kill is known: nothing to do
        converge(project)
        assert versions(project)["models/clf"] == [str(v) for v in range(1, round_ + 1)]
