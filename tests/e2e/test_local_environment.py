"""The local provider runs work with mlplan's interpreter: what a conda file lists and it lacks is a plan
warning naming the packages and the command that installs them (the job would fail at apply)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_mlplan, write


def test_a_package_the_interpreter_lacks_is_a_plan_warning_with_the_install_command(project: Path) -> None:
    write(
        project,
        {
            "files/conda.yml": """
            name: sk
            dependencies:
              - python=3.11
              - pip:
                  - surely-not-installed-pkg==1.0
            """
        },
    )
    r = run_mlplan("-C", str(project), "plan", "--detailed-exitcode")
    assert r.code == 2, r.text  # planned (a warning does not stop it)
    assert "Warning: res/env.yml:5: environment.sk: the local provider runs jobs and deployments with" in r.out
    assert "lacks what the conda file asks for: surely-not-installed-pkg==1.0" in r.out
    assert "-m pip install surely-not-installed-pkg==1.0" in r.out
    markdown = run_mlplan("-C", str(project), "plan", "--format", "markdown").out
    assert "> **Warning:** res/env.yml:5: environment.sk:" in markdown, "the PR comment says it too"
    plan = json.loads(run_mlplan("-C", str(project), "plan", "--json").out)
    assert any("surely-not-installed-pkg" in d for d in plan["diagnostics"])
    v = run_mlplan("-C", str(project), "validate", "--no-sdk")
    assert v.code == 0 and "Warning: res/env.yml:5" in v.err and "The configuration is valid" in v.out, v.text
    assert not (project / ".mlplan/state").exists() or run_mlplan("-C", str(project), "state", "list").out == ""


def test_an_environment_the_interpreter_satisfies_has_no_warning(project: Path) -> None:
    r = run_mlplan("-C", str(project), "plan")
    assert r.code == 0, r.text
    assert "Warning" not in r.text
