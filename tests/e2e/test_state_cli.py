"""State inspection and repair, import, saved plans, destroy, show and graph through the CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from mlplan.engine.plan import PLAN_FORMAT
from tests.conftest import run_mlplan


def applied(project: Path) -> Path:
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    return project / ".mlplan/state/local.json"


def test_state_list_show_and_file_mode(project: Path) -> None:
    state_file = applied(project)
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    r = run_mlplan("-C", str(project), "state", "list")
    assert r.out.split() == ["compute.cpu", "data.iris", "environment.sk", "model.clf"]
    r = run_mlplan("-C", str(project), "state", "show", "data.iris", "--json")
    data = json.loads(r.out)
    assert data["id"] == "data/iris/versions/1" and data["version"] == "1"
    r = run_mlplan("-C", str(project), "state", "show", "data.nope")
    assert r.code == 1 and "not in state" in r.err
    assert json.loads(run_mlplan("-C", str(project), "state", "pull").out)["serial"] == 1, "one apply: serial 1"
    (project / "files/iris.csv").write_text("a,b\n5,6\n")
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    assert json.loads(run_mlplan("-C", str(project), "state", "pull").out)["serial"] == 2, "and once per apply"
    assert run_mlplan("-C", str(project), "plan").code == 0
    assert json.loads(run_mlplan("-C", str(project), "state", "pull").out)["serial"] == 2, "a plan writes nothing"


def test_state_rm_forgets_without_deleting_and_import_adopts(project: Path) -> None:
    applied(project)
    before = (project / ".mlplan/state/local.json").read_bytes()
    r = run_mlplan("-C", str(project), "state", "rm", "compute.cpu")
    assert r.code == 0, r.text
    assert (project / ".mlplan/state/local.json.backup").read_bytes() == before
    assert (project / ".mlplan/local-workspace/computes/cpu.json").exists()
    # the compute still exists, tagged as this project's: the plan adopts it, it is not recreated
    r = run_mlplan("-C", str(project), "plan", "--json")
    change = {c["address"]: c for c in json.loads(r.out)["changes"]}["compute.cpu"]
    assert change["action"] == "adopt", change
    missing = run_mlplan("-C", str(project), "import", "compute.cpu", "computes/gpu")
    assert missing.code == 1 and "no compute with id 'computes/gpu'" in missing.err, missing.text
    # an id of the wrong shape: what shape it should have, not a traceback
    for address, ident, shape in [
        ("data.iris", "foo/bar", "data/<name>/versions/<version>"),
        ("compute.cpu", "computes/gpu/extra", "computes/<name>"),
    ]:
        bad = run_mlplan("-C", str(project), "import", address, ident)
        assert bad.code == 1 and f"expected {shape}" in bad.err and "Traceback" not in bad.text, bad.text
    r = run_mlplan("-C", str(project), "import", "compute.cpu", "computes/cpu")
    assert r.code == 0, r.text
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0
    again = run_mlplan("-C", str(project), "import", "compute.cpu", "computes/cpu")
    assert again.code == 1 and "already in state" in again.err
    unreadable = run_mlplan("-C", str(project), "state", "push", str(project / "no-such-state.json"))
    assert unreadable.code == 1 and "cannot read" in unreadable.err and "No such file" in unreadable.err


def test_state_mv_pull_push(project: Path, tmp_path: Path) -> None:
    applied(project)
    pulled = run_mlplan("-C", str(project), "state", "pull").out
    doc = json.loads(pulled)
    r = run_mlplan("-C", str(project), "state", "mv", "model.clf", "model.clf2")
    assert r.code == 0, r.text
    assert "model.clf2" in run_mlplan("-C", str(project), "state", "list").out
    # pushing the older document is refused (lower serial), then forced
    old = tmp_path / "old.json"
    old.write_text(pulled)
    r = run_mlplan("-C", str(project), "state", "push", str(old))
    assert r.code == 1 and "older" in r.err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**doc, "lineage": "another-lineage", "serial": 999}))
    r = run_mlplan("-C", str(project), "state", "push", str(other))
    assert r.code == 1 and "lineage" in r.err
    r = run_mlplan("-C", str(project), "state", "push", "--force", str(old))
    assert r.code == 0, r.text
    assert "model.clf" in run_mlplan("-C", str(project), "state", "list").out.split()
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_saved_plan_applies_and_refuses_when_stale(project: Path) -> None:
    plan_file = project / "plan.json"
    r = run_mlplan("-C", str(project), "plan", "--out", str(plan_file))
    assert r.code == 0, r.text
    assert json.loads(plan_file.read_text())["format_version"] == PLAN_FORMAT
    md = run_mlplan("-C", str(project), "show", "--format", "markdown", str(plan_file))
    assert md.out.startswith("### mlplan: `demo` / `local`") and "| `+` | `data.iris` | create |" in md.out
    assert run_mlplan("-C", str(project), "apply", str(plan_file)).code == 0
    # the same plan again: the state moved on since
    r = run_mlplan("-C", str(project), "apply", str(plan_file))
    assert r.code == 1 and "stale" in r.err, r.text
    # a new plan, then an input changes before apply: refused, naming the resource
    (project / "files/model/w.txt").write_text("v2\n")
    assert run_mlplan("-C", str(project), "plan", "--out", str(plan_file)).code == 0
    (project / "files/model/w.txt").write_text("v3\n")
    r = run_mlplan("-C", str(project), "apply", str(plan_file))
    assert r.code == 1 and "model.clf" in r.err and "inputs changed" in r.err, r.text


def test_apply_without_terminal_needs_auto_approve(project: Path) -> None:
    r = run_mlplan("-C", str(project), "apply", input_text="")
    assert r.code == 1 and "--auto-approve" in r.err
    assert not (project / ".mlplan/state/local.json").exists()


def test_destroy_removes_everything_and_archives_assets(project: Path) -> None:
    applied(project)
    r = run_mlplan("-C", str(project), "destroy", "--auto-approve")
    assert r.code == 0, r.text
    assert "Destroy complete: 4 done, 0 failed, 0 skipped." in r.out
    assert run_mlplan("-C", str(project), "state", "list").out.strip() == ""
    assert not (project / ".mlplan/local-workspace/computes/cpu.json").exists()
    meta = json.loads((project / ".mlplan/local-workspace/data/iris/1/asset.json").read_text())
    assert meta["archived"] is True
    # applied again: the pinned environment version is restored (created again), not adopted archived
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    env = json.loads((project / ".mlplan/local-workspace/environments/sk/1/asset.json").read_text())
    assert env["archived"] is False
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_removed_asset_is_archived_and_not_recreated(project: Path) -> None:
    applied(project)
    (project / "res/model.yml").unlink()
    r = run_mlplan("-C", str(project), "plan", "--json")
    change = {c["address"]: c for c in json.loads(r.out)["changes"]}["model.clf"]
    assert change["action"] == "archive" and "cannot be deleted" in change["reason"]
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_graph_formats(project: Path) -> None:
    r = run_mlplan("-C", str(project), "graph")
    assert r.code == 0 and r.out.startswith("flowchart LR") and "model.clf" in r.out
    r = run_mlplan("-C", str(project), "graph", "--format", "dot")
    assert r.out.startswith("digraph mlplan")


def test_ttl_reaps_without_sleeping(project: Path) -> None:
    with (project / "mlplan.yaml").open("a") as fh:
        fh.write("settings:\n  compute.cpu:\n    lifecycle: {ttl: 24h}\n")
    applied(project)
    created = json.loads(run_mlplan("-C", str(project), "state", "show", "compute.cpu", "--json").out)["created_at"]
    from datetime import datetime, timedelta

    later = (datetime.fromisoformat(created) + timedelta(hours=25)).isoformat()
    r = run_mlplan("-C", str(project), "plan", "--json", env={"MLPLAN_NOW": later})
    change = {c["address"]: c for c in json.loads(r.out)["changes"]}["compute.cpu"]
    assert change["action"] == "delete" and "ttl expired" in change["reason"]
    assert run_mlplan("-C", str(project), "apply", "--auto-approve", env={"MLPLAN_NOW": later}).code == 0
    assert not (project / ".mlplan/local-workspace/computes/cpu.json").exists()
    # reaped: not recreated by the next plan
    r = run_mlplan("-C", str(project), "plan", "--detailed-exitcode", env={"MLPLAN_NOW": later})
    assert r.code == 0, r.text
    r = run_mlplan("-C", str(project), "plan", "--json", "--replace", "compute.cpu", env={"MLPLAN_NOW": later})
    change = {c["address"]: c for c in json.loads(r.out)["changes"]}["compute.cpu"]
    assert change["action"] == "create"


def test_state_commands_read_and_repair_state_while_a_resource_file_is_broken(project: Path) -> None:
    """As Terraform's state commands do not evaluate the configuration: a resource file that needs a variable
    nobody set, or has a typo, does not keep anyone from reading or repairing state; mlplan.yaml must be valid,
    since it says which state."""
    applied(project)
    compute = project / "res/compute.yml"
    compute.write_text(compute.read_text() + "description: ${var.undeclared}\nmax_instance: 3\n")
    assert run_mlplan("-C", str(project), "plan").code == 1  # plan needs every file
    r = run_mlplan("-C", str(project), "state", "list")
    assert r.code == 0 and "compute.cpu" in r.out.split(), r.text
    r = run_mlplan("-C", str(project), "state", "show", "compute.cpu")
    assert r.code == 0 and "computes/cpu" in r.out, r.text
    assert json.loads(run_mlplan("-C", str(project), "state", "pull").out)["serial"] == 1
    r = run_mlplan("-C", str(project), "state", "rm", "compute.cpu")
    assert r.code == 0, r.text
    assert "compute.cpu" not in run_mlplan("-C", str(project), "state", "list").out.split()

    mlplan_yaml = project / "mlplan.yaml"
    mlplan_yaml.write_text(mlplan_yaml.read_text() + "environments: {local: {provder: local}}\n")
    r = run_mlplan("-C", str(project), "state", "list")
    assert r.code == 1 and "mlplan.yaml" in r.err and "provder" in r.err, r.text
