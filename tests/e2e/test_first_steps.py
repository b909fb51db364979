"""A new user's first steps with the installed mlplan: bare `mlplan`, `mlplan init`, a coloured plan on a
terminal (and never in a pipe), `state show` with its outputs."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import yaml

from tests.conftest import MLPLAN, Result, run_mlplan


def on_terminal(*args: str, env: dict[str, str] | None = None) -> Result:
    """``mlplan ARGS`` with a terminal as stdout (as a person runs it)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [MLPLAN, *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env={**{k: v for k, v in os.environ.items() if k not in ("MLPLAN_ENV", "NO_COLOR")}, **(env or {})},
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process exits
                break
            if not chunk:
                break
            chunks.append(chunk)
        _out, err = proc.communicate(timeout=120)
    finally:
        os.close(leader)
    return Result(proc.returncode, b"".join(chunks).decode(errors="replace"), err.decode(errors="replace"))


def test_bare_mlplan_prints_the_help_and_exits_0() -> None:
    r = run_mlplan()
    assert r.code == 0, r.text
    assert "Usage: mlplan" in r.out and "Commands:" in r.out and "init" in r.out


def test_init_writes_a_project_file_and_never_overwrites_one(tmp_path: Path) -> None:
    root = tmp_path / "Churn Model"
    r = run_mlplan("-C", str(root), "init")
    assert r.code == 0, r.text
    doc = yaml.safe_load((root / "mlplan.yaml").read_text())
    assert doc == {"project": "churn-model"}, "a minimal project file, every other setting a comment"
    assert run_mlplan("-C", str(root), "validate", "--no-sdk").code == 0
    before = (root / "mlplan.yaml").read_bytes()
    again = run_mlplan("-C", str(root), "init")
    assert again.code == 1 and "exists already: mlplan init never overwrites it" in again.err
    assert (root / "mlplan.yaml").read_bytes() == before


def test_init_quickstart_copies_a_project_that_plans(tmp_path: Path) -> None:
    root = tmp_path / "qs"
    r = run_mlplan("-C", str(root), "init", "--quickstart")
    assert r.code == 0, r.text
    assert (root / "train/job.yml").is_file() and (root / "deploy/score/score.py").is_file()
    plan = run_mlplan("-C", str(root), "plan", "--detailed-exitcode")
    assert plan.code == 2, plan.text
    assert "job.train" in plan.out and "online_deployment.cancer/blue" in plan.out
    refused = run_mlplan("-C", str(root), "init", "--quickstart")
    assert refused.code == 1 and "would overwrite" in refused.err


def test_init_prints_the_annotated_example_and_the_schema() -> None:
    example = run_mlplan("init", "--example")
    assert example.code == 0 and "environments:" in example.out and "promotion:" in example.out
    yaml.safe_load(example.out)
    schema = run_mlplan("init", "--schema")
    assert schema.code == 0 and json.loads(schema.out)["title"]


def test_the_plan_is_coloured_on_a_terminal_only(project: Path) -> None:
    coloured = on_terminal("-C", str(project), "plan")
    assert coloured.code == 0, coloured.text
    assert "\x1b[" in coloured.out and "data.iris" in coloured.out
    for plain in (
        on_terminal("-C", str(project), "plan", "--no-color"),
        on_terminal("-C", str(project), "plan", env={"NO_COLOR": "1"}),
        run_mlplan("-C", str(project), "plan"),  # a pipe, as in CI
    ):
        assert plain.code == 0 and "\x1b[" not in plain.out and "data.iris" in plain.out, plain.text


def test_state_show_has_attributes_and_outputs(project: Path) -> None:
    assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
    r = run_mlplan("-C", str(project), "state", "show", "data.iris")
    assert r.code == 0, r.text
    assert "attributes:\n" in r.out and "  type = uri_file" in r.out
    assert "outputs:\n" in r.out and "  path = " in r.out
