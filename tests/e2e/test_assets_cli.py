"""End to end through the installed CLI on the local provider: apply, re-plan, drift."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_mlplan


def test_apply_then_replan_is_no_op(project: Path) -> None:
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "4 done, 0 failed" in r.out
    r = run_mlplan("-C", str(project), "plan", "--detailed-exitcode")
    assert r.code == 0, r.text
    assert "No changes" in r.out


def test_detailed_exitcode_reports_changes(project: Path) -> None:
    r = run_mlplan("-C", str(project), "plan", "--detailed-exitcode")
    assert r.code == 2, r.text
    assert "4 to create" in r.out


def test_content_change_makes_new_version_with_reason(project: Path) -> None:
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    (project / "files/model/w.txt").write_text("better weights\n")
    r = run_mlplan("-C", str(project), "plan", "--json")
    assert r.code == 0, r.text
    plan = json.loads(r.out)
    change = {c["address"]: c for c in plan["changes"]}["model.clf"]
    assert change["action"] == "new_version"
    assert "w.txt" in change["reason"]
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    state = json.loads(run_mlplan("-C", str(project), "state", "pull").out)
    assert state["resources"]["model.clf"]["version"] == "2"


def test_drift_names_changed_field(project: Path) -> None:
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    ws = project / ".mlplan/local-workspace"
    meta = ws / "computes/cpu.json"
    data = json.loads(meta.read_text())
    data["max_instances"] = 7
    meta.write_text(json.dumps(data))
    stored = next((ws / "data/iris/1/files").rglob("iris.csv"))
    stored.write_text("tampered\n")
    r = run_mlplan("-C", str(project), "plan", "--refresh-only")
    assert r.code == 0, r.text
    assert "changed outside mlplan: max_instances changed: 2 -> 7" in r.out
    assert "data.iris" in r.out and "content.path" in r.out
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_drift_command_exits_2_only_for_changes_made_outside_mlplan(project: Path) -> None:
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    r = run_mlplan("-C", str(project), "drift")
    assert (r.code, r.out.strip().splitlines()[-1]) == (0, "No drift: state matches the workspace."), r.text
    # a configuration change not applied yet is for `plan`, not drift
    (project / "files/model/w.txt").write_text("better weights\n")
    assert run_mlplan("-C", str(project), "drift").code == 0
    meta = project / ".mlplan/local-workspace/computes/cpu.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "max_instances": 7}))
    before = run_mlplan("-C", str(project), "state", "pull").out
    r = run_mlplan("-C", str(project), "drift", "--format", "markdown")
    assert r.code == 2, r.text
    assert "**Drift: 1 resource(s) changed outside mlplan.**" in r.out
    assert "| `compute.cpu` |" in r.out and "+ max_instances: 7" in r.out
    assert run_mlplan("-C", str(project), "state", "pull").out == before  # drift writes nothing


def test_deleted_behind_our_back_is_recreated(project: Path) -> None:
    import shutil

    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    ws = project / ".mlplan/local-workspace"
    shutil.rmtree(ws / "environments/sk/1")
    (ws / "computes/cpu.json").unlink()
    r = run_mlplan("-C", str(project), "plan", "--refresh-only")
    assert r.code == 0, r.text
    assert "environment.sk" in r.out and "compute.cpu" in r.out and "deleted outside mlplan" in r.out
    r = run_mlplan("-C", str(project), "plan", "--json")
    changes = {c["address"]: c for c in json.loads(r.out)["changes"]}
    assert changes["environment.sk"]["action"] == "create"
    assert changes["compute.cpu"]["action"] == "create"
    assert "deleted outside mlplan" in changes["compute.cpu"]["reason"]
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    assert (ws / "environments/sk/1/asset.json").is_file()
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_the_assets_example_applies_and_replans_clean(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import REPO

    root = tmp_path / "assets"
    shutil.copytree(REPO / "examples/assets", root, ignore=shutil.ignore_patterns(".mlplan"))
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert run_mlplan("-C", str(root), "plan", "--detailed-exitcode").code == 0
    assert run_mlplan("-C", str(root), "output", "model_version").out.strip() == "1"
