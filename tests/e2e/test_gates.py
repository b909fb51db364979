"""Approval gates this version cannot enforce yet: shown in every plan, refused by apply (promotion policies are
enforced: tests/e2e/test_promotion.py)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_mlplan, write

SCHEMA = "https://azuremlschemas.azureedge.net/latest"

APPROVAL = """
project: demo
resources: ["res/*.yml"]
variables:
  slots: {default: 2, type: number}
environments:
  prd:
    provider: local
    approval: {required: true, approvers: [alice], actions: [delete, replace]}
"""


def state_bytes(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (project / ".mlplan/state").iterdir()}


def test_approval_gate_is_not_bypassed(project: Path) -> None:
    write(project, {"mlplan.yaml": APPROVAL})
    # creating is not a gated action here: applies as usual
    r = run_mlplan("-C", str(project), "-e", "prd", "apply", "--auto-approve")
    assert r.code == 0, r.text
    # removing an asset (archive) and a compute (delete) are
    (project / "res/compute.yml").unlink()
    (project / "res/data.yml").unlink()
    before = state_bytes(project)
    plan = run_mlplan("-C", str(project), "-e", "prd", "plan", "--format", "markdown", "--out", str(project / "p.json"))
    assert plan.code == 0, plan.text
    assert "> **Warning:** environment prd requires approval for delete compute.cpu, archive data.iris" in plan.out
    for args in (("apply", "--auto-approve"), ("apply", str(project / "p.json")), ("destroy", "--auto-approve")):
        r = run_mlplan("-C", str(project), "-e", "prd", *args)
        assert r.code == 1, r.text
        assert "apply refuses rather than act unapproved" in r.err and "approval.required: false" in r.err
        assert "Traceback" not in r.text
        assert state_bytes(project) == before, "nothing was written"
    assert (project / ".mlplan/local-workspace/computes/cpu.json").exists()
    # saying so deliberately lets it through
    write(project, {"mlplan.yaml": APPROVAL.replace("required: true", "required: false")})
    r = run_mlplan("-C", str(project), "-e", "prd", "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert not (project / ".mlplan/local-workspace/computes/cpu.json").exists()
