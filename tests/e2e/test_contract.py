"""The plan is the contract, through the CLI on the local provider: a saved plan trains on the version it
showed (or is refused as stale), every run converges (targeted or interrupted), a plan after a crash
writes nothing and shows what apply will settle, and Ctrl-C twice cancels a long job."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MLPLAN, REPO, run_mlplan, write
from tests.processes import alive, start_stopped

pytestmark = pytest.mark.slow

DATA = """
$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: cancer-train
type: uri_file
path: train.csv
"""


def _two_projects(tmp_path: Path) -> tuple[Path, Path]:
    """Project a owns the data asset cancer-train; project b trains on its latest version; one workspace."""
    shared = {"workspace": {"path": str(tmp_path / "shared-workspace")}}
    env = f"environments:\n  local: {json.dumps({'provider': 'local', **shared})}\n"
    a, b = tmp_path / "a", tmp_path / "b"
    write(a, {"mlplan.yaml": f"project: a\n{env}", "data.yml": DATA, "train.csv": "x,y\n1,0\n"})
    write(
        b,
        {
            "mlplan.yaml": f"project: b\n{env}",
            "job.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
            name: train
            command: cat ${{inputs.train}} > ${{outputs.seen}}/seen.csv
            environment: {image: "python:3.11"}
            inputs:
              train: {type: uri_file, path: azureml:cancer-train@latest}
            outputs:
              seen: {type: uri_folder}
            """,
        },
    )
    assert run_mlplan("-C", str(a), "apply", "--auto-approve").code == 0
    return a, b


def _trained_on(b: Path) -> str:
    state = json.loads(run_mlplan("-C", str(b), "state", "pull").out)
    run = state["resources"]["job.train"]["outputs"]["run"]
    seen = b.parent / "shared-workspace/jobs" / run / "outputs/seen/seen.csv"
    return seen.read_text()


def test_a_saved_plan_trains_on_the_version_it_showed_never_on_a_newer_one(tmp_path: Path) -> None:
    a, b = _two_projects(tmp_path)
    plan = run_mlplan("-C", str(b), "plan", "--out", str(b / "b.plan"))
    assert plan.code == 0, plan.text
    assert "azureml:cancer-train:1" in run_mlplan("-C", str(b), "show", "--json", str(b / "b.plan")).out
    (a / "train.csv").write_text("x,y\n2,1\n")  # project a publishes version 2
    assert run_mlplan("-C", str(a), "apply", "--auto-approve").code == 0
    r = run_mlplan("-C", str(b), "apply", str(b / "b.plan"))
    assert r.code == 0, r.text
    assert "now resolves to version 2; this plan uses 1, as reviewed" in r.err
    assert _trained_on(b) == "x,y\n1,0\n", "trained on version 1, as the plan showed"
    state = json.loads(run_mlplan("-C", str(b), "state", "pull").out)
    assert state["resources"]["job.train"]["attributes"]["inputs"]["train"]["path"] == "azureml:cancer-train:1"
    # the next plan retrains on version 2, and says why
    changes = {c["address"]: c for c in json.loads(run_mlplan("-C", str(b), "plan", "--json").out)["changes"]}
    assert changes["job.train"]["action"] == "train"
    assert "azureml:cancer-train:1 -> azureml:cancer-train:2" in changes["job.train"]["reason"]


def test_a_saved_plan_whose_version_was_archived_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    a, b = _two_projects(tmp_path)
    assert run_mlplan("-C", str(b), "plan", "--out", str(b / "b.plan")).code == 0
    (a / "train.csv").write_text("x,y\n2,1\n")
    assert run_mlplan("-C", str(a), "apply", "--auto-approve").code == 0
    v1 = tmp_path / "shared-workspace/data/cancer-train/1/asset.json"  # archived in the studio, say
    v1.write_text(json.dumps({**json.loads(v1.read_text()), "archived": True}))
    r = run_mlplan("-C", str(b), "apply", str(b / "b.plan"))
    assert r.code == 1, r.text
    assert "saved plan is stale" in r.err and "data.cancer-train@latest version 1" in r.err and "archived" in r.err
    assert not (tmp_path / "shared-workspace/jobs").exists(), "nothing ran"
    assert run_mlplan("-C", str(b), "state", "list").out.strip() == ""


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[Path]:
    project = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples/quickstart", project, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    try:
        yield project
    finally:
        run_mlplan("-C", str(project), "destroy", "--auto-approve")


def _converges_to_the_new_run(project: Path, *var: str) -> None:
    """The next plan registers the new run's model and updates the deployment; then nothing is left."""
    out = run_mlplan("-C", str(project), "plan", "--json", *var)
    changes = {c["address"]: c for c in json.loads(out.out)["changes"]}
    assert changes["job.train"]["action"] == "no_op", changes["job.train"]
    assert changes["model.cancer-model"]["action"] == "new_version"
    assert "job.train has a run" in changes["model.cancer-model"]["reason"]
    assert changes["online_deployment.cancer/blue"]["action"] == "update"
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", *var)
    assert r.code == 0, r.text
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode", *var).code == 0
    state = json.loads(run_mlplan("-C", str(project), "state", "pull").out)
    assert state["resources"]["online_deployment.cancer/blue"]["attributes"]["model"] == "azureml:cancer-model:2"


def test_a_targeted_apply_converges(quickstart: Path) -> None:
    var = ("--var", "algorithm=majority")
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve", "--target", "job.train", *var)
    assert r.code == 0, r.text
    assert "1 done" in r.out
    _converges_to_the_new_run(quickstart, *var)


def test_an_apply_interrupted_after_the_job_converges(quickstart: Path) -> None:
    var = ("--var", "algorithm=majority")
    proc = start_stopped(quickstart, "mid_operation:1", *var)  # the job has run; its record is not written
    os.kill(proc.pid, signal.SIGINT)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "1 done" in out and "2 skipped" in out, out
    _converges_to_the_new_run(quickstart, *var)


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (lock files aside) and a digest of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith((".lock", ".lock.info"))
    }


def test_a_plan_after_a_crash_writes_nothing_and_shows_what_apply_settles(project: Path) -> None:
    crash = {"MLPLAN_CRASHPOINT": "mid_operation:2"}  # data.iris, its files staged, not yet in place
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", "--parallelism", "1", env=crash)
    assert r.code == -signal.SIGKILL, r.text
    mlplan_dir = project / ".mlplan"
    before = {**_tree(mlplan_dir / "state"), **_tree(mlplan_dir / "local-workspace")}
    assert any(".staging" in f for f in before), "the killed operation left staged files"
    plan = run_mlplan("-C", str(project), "plan")
    assert plan.code == 0, plan.text
    assert "interrupted create" in plan.out and "to settle" in plan.out
    drift = run_mlplan("-C", str(project), "drift")
    assert drift.code in (0, 2), drift.text
    after = {**_tree(mlplan_dir / "state"), **_tree(mlplan_dir / "local-workspace")}
    assert after == before, "plan and drift leave state and workspace byte-identical"
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "interrupted operation reconciled" in r.err
    assert not [f for f in _tree(mlplan_dir / "local-workspace") if ".staging" in f], "apply removed them"
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_ctrl_c_twice_cancels_a_long_job_and_the_next_apply_converges(project: Path) -> None:
    config = project / "mlplan.yaml"
    config.write_text(config.read_text() + "  secs: {default: 60, type: number}\n")
    write(
        project,
        {
            "res/job.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
            name: long
            command: echo started; sleep ${{inputs.secs}}; echo finished
            environment: {image: "python:3.11"}
            inputs:
              secs: ${var.secs}
            """,
        },
    )
    proc = subprocess.Popen(
        [MLPLAN, "-C", str(project), "apply", "--auto-approve"],  # the job sleeps 60 s
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = project / ".mlplan/local-workspace/jobs"
    deadline = time.monotonic() + 60
    while not list(runs.glob("long-*/user_logs/std_log.txt")) or "started" not in _log(runs):
        assert time.monotonic() < deadline and proc.poll() is None, "the job never started"
        time.sleep(0.1)
    pid = json.loads(next(runs.glob("long-*/job.json")).read_text())["pid"]
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert time.monotonic() - started < 20, "cancelled, not waited for"
    assert "Cancelling job.long" in err and "1 cancelled" in out, out + err
    assert not alive(pid), "the job's process was stopped"
    state = json.loads(run_mlplan("-C", str(project), "state", "pull").out)
    assert [op["address"] for op in state["pending"].values()] == ["job.long"], "recorded for the next run"
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", "--var", "secs=0")
    assert r.code == 0, r.text
    assert "interrupted operation reconciled" in r.err
    state = json.loads(run_mlplan("-C", str(project), "state", "pull").out)
    assert [p.name for p in runs.iterdir()] == [state["resources"]["job.long"]["outputs"]["run"]], "one run left"


def _log(runs: Path) -> str:
    return "".join(p.read_text() for p in runs.glob("long-*/user_logs/std_log.txt"))
