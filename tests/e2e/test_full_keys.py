"""Every documented key of data, environment, model and AmlCompute (tests/fixtures/full_keys) through
the installed CLI on the local provider: apply, a no-op re-plan, and no secret in clear anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import FULL_KEYS, FULL_KEYS_LOCAL, copy_full_keys, run_mlplan


def _admin_password() -> str:
    spec = yaml.safe_load((FULL_KEYS / "compute_amlcompute.yml").read_text())
    password = spec["ssh_settings"]["admin_password"]
    assert isinstance(password, str) and len(password) > 8
    return password


def test_full_keys_apply_replan_and_no_clear_secret(tmp_path: Path) -> None:
    root = copy_full_keys(tmp_path / "fk")
    password = _admin_password()
    n = len(FULL_KEYS_LOCAL)

    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "Traceback" not in r.text
    assert f"{n} done, 0 failed" in r.out, r.text
    assert password not in r.text, "apply printed the admin password"

    r = run_mlplan("-C", str(root), "plan", "--detailed-exitcode")
    assert r.code == 0, r.text
    assert "No changes" in r.out, r.text
    assert password not in r.text, "plan printed the admin password"

    r = run_mlplan("-C", str(root), "plan", "--json")
    assert r.code == 0, r.text
    assert password not in r.text, "plan --json printed the admin password"

    r = run_mlplan("-C", str(root), "state", "pull")
    assert r.code == 0, r.text
    state = json.loads(r.out)
    assert len(state["resources"]) == n, sorted(state["resources"])
    assert "compute.fullkeys-cpu-cluster" in state["resources"]
    assert password not in r.out, "state pull shows the admin password in clear"

    files = [p for p in (root / ".mlplan").rglob("*") if p.is_file()]
    assert files
    leaked = [str(p.relative_to(root)) for p in files if password.encode() in p.read_bytes()]
    assert not leaked, f"admin password in clear in: {leaked}"
