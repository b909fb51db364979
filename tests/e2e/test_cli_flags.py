"""Flags, outputs and prompts do what they say, through the installed CLI.

Flags that contradict each other are usage errors naming both (state untouched); global options work
after the command too; outputs are checked at plan time and printed after apply; every apply asks for
`yes` (Terraform's wording) and anything else cancels; an endpoint that routes no traffic is a warning.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MLPLAN, Result, run_mlplan, state_snapshot, write
from tests.e2e.test_errors import PROJECT_HEAD, SCHEMA, assert_refused, check_error


@pytest.fixture
def applied(project: Path) -> tuple[Path, dict[str, bytes]]:
    """The conftest ``project``, applied; with the bytes of its state and journal."""
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    return project, state_snapshot(project)


def run_on_terminal(root: Path, *args: str, answer: str) -> Result:
    """``mlplan -C root ARGS`` with a terminal as stdin on which the user types ``answer``."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [MLPLAN, "-C", str(root), *args],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "MLPLAN_ENV"},
        )
        os.write(leader, answer.encode())  # typed ahead: the terminal keeps it until mlplan reads the line
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    return Result(proc.returncode, out, err)


def failed(r: Result, *says: str) -> None:
    """Exit 1 with a message (no traceback) saying each of ``says``, and nothing on stdout after it."""
    assert r.code == 1, f"exit code {r.code}, expected 1:\n{r.text}"
    assert "Traceback" not in r.text and "internal error" not in r.text, r.text
    for fragment in says:
        assert fragment in r.err, f"{fragment!r} not in stderr:\n{r.text}"


def usage_error(r: Result, *flags: str) -> None:
    """Exit 1, no traceback, one message naming every flag, and where to read more."""
    check_error(r, where=None, says=["cannot be combined with", "hint:"])
    line = next((ln for ln in r.err.splitlines() if "cannot be combined with" in ln), "")
    for flag in flags:
        assert flag in line, f"{flag} not named in {line!r}:\n{r.text}"


# 1. conflicting or meaningless flags -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "flags"),
    [
        (("apply", "PLAN", "--target", "data.iris"), ("PLANFILE", "--target")),
        (("apply", "PLAN", "--replace", "data.iris"), ("PLANFILE", "--replace")),
        (("apply", "PLAN", "--refresh-only"), ("PLANFILE", "--refresh-only")),
        (("apply", "PLAN", "--var", "slots=3"), ("PLANFILE", "--var slots")),
        (("plan", "--destroy", "--refresh-only"), ("--destroy", "--refresh-only")),
        (("plan", "--refresh-only", "--replace", "data.iris"), ("--refresh-only", "--replace")),
        (("plan", "--refresh-only", "--target", "data.iris"), ("--refresh-only", "--target")),
        (("plan", "--refresh-only", "--no-refresh"), ("--no-refresh", "--refresh-only")),
        (("plan", "--destroy", "--target", "data.iris"), ("--destroy", "--target")),
        (("plan", "--destroy", "--replace", "data.iris"), ("--destroy", "--replace")),
        (("apply", "--auto-approve", "--refresh-only", "--target", "data.iris"), ("--refresh-only", "--target")),
        (("plan", "--json", "--format", "markdown"), ("--json", "--format markdown")),
        (("drift", "--json", "--format", "text"), ("--json", "--format text")),
        (("show", "PLAN", "--json", "--format", "markdown"), ("--json", "--format markdown")),
    ],
)
def test_conflicting_flags_are_usage_errors(
    applied: tuple[Path, dict[str, bytes]], args: tuple[str, ...], flags: tuple[str, ...]
) -> None:
    root, _ = applied
    write(root, {"files/iris.csv": "a,b\n1,2\n3,4\n"})  # something to apply, so a plan file would change state
    saved = root / "plan.json"
    assert run_mlplan("-C", str(root), "plan", "--out", str(saved)).code == 0
    snapshot = state_snapshot(root)
    r = run_mlplan("-C", str(root), *[str(saved) if a == "PLAN" else a for a in args])
    usage_error(r, *flags)
    assert state_snapshot(root) == snapshot, r.text


def test_a_saved_plan_says_what_to_do_instead_of_stale(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snapshot = applied
    saved = root / "plan.json"
    assert run_mlplan("-C", str(root), "plan", "--out", str(saved)).code == 0
    r = run_mlplan("-C", str(root), "apply", str(saved), "--var", "slots=3")
    usage_error(r, "PLANFILE", "--var slots")
    assert "stale" not in r.text
    assert "carries the variable values it was made with" in r.err
    assert "mlplan plan --var slots=3 --out FILE" in r.err
    r = run_mlplan("-C", str(root), "apply", str(saved), "--target", "data.iris")
    assert "mlplan plan --target ... --out FILE" in r.err, r.text
    assert state_snapshot(root) == snapshot


def test_agreeing_flags_are_accepted(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, _ = applied
    r = run_mlplan("-C", str(root), "plan", "--json", "--format", "json")
    assert r.code == 0, r.text
    assert json.loads(r.out)["project"] == "demo"


def test_global_options_after_the_command(applied: tuple[Path, dict[str, bytes]], tmp_path: Path) -> None:
    root, _ = applied
    r = run_mlplan("plan", "-C", str(root), "-e", "local", "--detailed-exitcode")
    assert r.code == 0, r.text
    assert "environment local" in r.out
    r = run_mlplan("state", "list", "-C", str(root))
    assert r.code == 0 and "data.iris" in r.out, r.text
    # after the command, -e wins over MLPLAN_ENV as it does before the command
    r = run_mlplan("plan", "-e", "local", cwd=root, env={"MLPLAN_ENV": "nosuch"})
    assert r.code == 0, r.text
    r = run_mlplan("plan", "-e", "nosuch", cwd=root)
    check_error(r, where="mlplan.yaml", says=["unknown environment 'nosuch'"])
    r = run_mlplan("-e", "dev", "plan", "-e", "local", cwd=root)
    check_error(r, where=None, says=["-e/--env is given twice", "(dev)", "(local)"])
    r = run_mlplan("-C", str(tmp_path), "plan", "-C", str(root))
    check_error(r, where=None, says=["-C/--chdir is given twice"])
    assert run_mlplan("-C", str(root), "plan", "-C", str(root)).code == 0


# 2. outputs ----------------------------------------------------------------------------------------
OUTPUTS_HEAD = PROJECT_HEAD.lstrip("\n") + "  model_name: {default: clf}\n"


def test_output_references_are_checked_at_plan_time(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snapshot = applied
    write(
        root,
        {
            "mlplan.yaml": OUTPUTS_HEAD
            + "outputs:\n"  # line 6
            + '  a: {value: "${model.clff.version}"}\n'  # line 7
            + '  b: {value: "${compute.cpu.slot}"}\n'  # line 8
            + '  c: {value: "${model.${var.model_nam}.version}"}\n'  # line 9
            + '  d: {value: "${compute.cpu}"}\n'  # line 10
        },
    )
    assert_refused(root, snapshot, where="mlplan.yaml:7", says=["model.clff", "did you mean model.clf?"])
    r = assert_refused(root, snapshot, where="mlplan.yaml:8", says=["'slot'", "did you mean slots?"])[0]
    check_error(r, where="mlplan.yaml:9", says=["unknown variable 'model_nam'"])
    check_error(r, where="mlplan.yaml:10", says=["${compute.cpu} is not a reference"])
    assert "4 errors; nothing was changed." in r.err
    validate = run_mlplan("-C", str(root), "validate", "--no-sdk")
    check_error(validate, where="mlplan.yaml:7", says=["did you mean model.clf?"])


def test_outputs_read_resources_named_by_variables(project: Path) -> None:
    write(
        project,
        {
            "mlplan.yaml": OUTPUTS_HEAD
            + "outputs:\n"
            + '  model_version: {value: "${model.${var.model_name}.version}", description: the version}\n'
            + '  cluster: {value: "${compute.cpu.id} has ${compute.cpu.slots} slots"}\n'
            + '  literal: {value: "$${model.x.y}"}\n',
            "res/model.yml": f"$schema: {SCHEMA}/model.schema.json\nname: ${{var.model_name}}\npath: ../files/model\n",
        },
    )
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert r.out.endswith(
        "\nOutputs:\n\ncluster = computes/cpu has 2 slots\nliteral = ${model.x.y}\nmodel_version = 1\n"
    ), r.out
    r = run_mlplan("-C", str(project), "output", "model_version")
    assert (r.code, r.out) == (0, "1\n"), r.text
    r = run_mlplan("-C", str(project), "output", "--json")
    assert json.loads(r.out)["outputs"]["model_version"] == "1", r.text


def test_apply_ends_with_the_outputs_even_without_changes(project: Path) -> None:
    write(
        project,
        {
            "mlplan.yaml": PROJECT_HEAD.lstrip("\n")
            + "  token: {type: string, sensitive: true}\n"
            + "outputs:\n"
            + '  version: {value: "${model.clf.version}"}\n'
            + '  secret: {value: "${var.token}-${compute.cpu.id}"}\n'
            + '  hidden: {value: "${data.iris.version}", sensitive: true}\n'
        },
    )
    token = ("--var", "token=abc-secret-123")
    for _ in range(2):  # the second apply has no changes: outputs all the same
        r = run_mlplan("-C", str(project), "apply", "--auto-approve", *token)
        assert r.code == 0, r.text
        assert r.out.endswith("\nOutputs:\n\nhidden = (sensitive)\nsecret = (sensitive)\nversion = 1\n"), r.out
        assert "abc-secret-123" not in r.text
    assert "No changes" in r.out
    r = run_mlplan("-C", str(project), "output", "secret", "--show-sensitive", *token)
    assert (r.code, r.out) == (0, "abc-secret-123-computes/cpu\n"), r.text


def test_output_before_apply_and_after_destroy_says_nothing_is_applied(project: Path) -> None:
    write(project, {"mlplan.yaml": PROJECT_HEAD.lstrip("\n") + 'outputs:\n  v: {value: "${model.clf.version}"}\n'})
    for when in ("before", "after"):
        if when == "after":
            assert run_mlplan("-C", str(project), "apply", "--auto-approve").code == 0
            assert run_mlplan("-C", str(project), "output", "v").out == "1\n"
            r = run_mlplan("-C", str(project), "destroy", "--auto-approve")
            assert r.code == 0 and "Outputs:" not in r.out, r.text
        for args in (("output",), ("output", "v"), ("output", "--json")):
            r = run_mlplan("-C", str(project), *args)
            failed(r, "nothing is applied in environment local yet", "run `mlplan apply` first")
            assert r.out == "", r.out


def test_output_name_that_does_not_exist(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, _ = applied
    write(root, {"mlplan.yaml": PROJECT_HEAD.lstrip("\n") + 'outputs:\n  version: {value: "${model.clf.version}"}\n'})
    r = run_mlplan("-C", str(root), "output", "versoin")
    failed(r, "no output named 'versoin'", "did you mean version?")


def test_an_output_of_a_resource_not_applied_yet_has_no_value(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, _ = applied
    write(
        root,
        {
            "mlplan.yaml": PROJECT_HEAD.lstrip("\n") + 'outputs:\n  other: {value: "${data.more.version}"}\n',
            "res/more.yml": f"$schema: {SCHEMA}/data.schema.json\nname: more\ntype: uri_file\npath: ../files/x.csv\n",
            "files/x.csv": "x\n",
        },
    )
    r = run_mlplan("-C", str(root), "output")
    assert r.code == 0 and "other = (known after apply)" in r.out, r.text
    r = run_mlplan("-C", str(root), "output", "--json")
    assert json.loads(r.out)["outputs"]["other"] is None, r.text
    r = run_mlplan("-C", str(root), "output", "other")
    failed(r, "output 'other' has no value yet", "run `mlplan apply`")


# 3. confirmation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["y\n", "no\n", "YES\n", "\n"])
def test_destroy_asks_for_yes_and_anything_else_cancels(applied: tuple[Path, dict[str, bytes]], answer: str) -> None:
    root, snapshot = applied
    r = run_on_terminal(root, "destroy", answer=answer)
    failed(r, "cancelled: nothing was changed")
    assert "Do you really want to destroy all resources in environment local?" in r.out
    assert "There is no undo. Only 'yes' will be accepted to confirm." in r.out
    assert state_snapshot(root) == snapshot


def test_destroy_goes_ahead_on_yes(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, _ = applied
    r = run_on_terminal(root, "destroy", answer="yes\n")
    assert r.code == 0, r.text
    assert "Destroy complete: 4 done" in r.out
    assert run_mlplan("-C", str(root), "state", "list").out == ""


def test_an_apply_that_removes_something_names_it_and_needs_yes(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snapshot = applied
    (root / "res/compute.yml").unlink()
    r = run_on_terminal(root, "apply", answer="y\n")
    failed(r, "cancelled: nothing was changed")
    assert "Do you want to perform these actions in environment local?" in r.out
    assert "This removes or replaces compute.cpu (delete): there is no undo." in r.out
    assert "Only 'yes' will be accepted to approve." in r.out
    assert state_snapshot(root) == snapshot
    r = run_on_terminal(root, "apply", answer="yes\n")
    assert r.code == 0, r.text
    assert "compute.cpu" not in run_mlplan("-C", str(root), "state", "list").out


def test_every_apply_asks_for_yes(project: Path) -> None:
    r = run_on_terminal(project, "apply", answer="sure\n")
    failed(r, "cancelled: nothing was changed")
    assert "Do you want to perform these actions" in r.out and "removes or replaces" not in r.out
    assert not (project / ".mlplan/local-workspace").exists(), "nothing may be created"
    assert run_mlplan("-C", str(project), "state", "list").out == ""
    r = run_on_terminal(project, "apply", answer="yes\n")
    assert r.code == 0 and "Apply complete: 4 done" in r.out, r.text


def test_without_a_terminal_apply_names_auto_approve_and_a_saved_plan(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snapshot = applied
    (root / "res/compute.yml").unlink()
    for command, saved in (("apply", "mlplan plan --out FILE"), ("destroy", "mlplan plan --destroy --out FILE")):
        r = run_mlplan("-C", str(root), command)
        failed(r, "no terminal to ask", "--auto-approve", saved, "mlplan apply FILE")
    assert state_snapshot(root) == snapshot


# 4. an endpoint that routes no traffic ---------------------------------------------------------------
ENDPOINT = f"$schema: {SCHEMA}/managedOnlineEndpoint.schema.json\nname: web\nauth_mode: key\n"
DEPLOYMENT = (
    f"$schema: {SCHEMA}/managedOnlineDeployment.schema.json\nname: blue\nendpoint_name: web\n"
    "model: azureml:clf@latest\ncode_configuration: {code: ../files/score, scoring_script: score.py}\n"
    "environment: azureml:sk:1\ninstance_type: Standard_DS3_v2\n"
)


@pytest.mark.parametrize(
    ("traffic", "how"),
    [("", "no traffic: key"), ("traffic: {blue: 0}\n", "every share is 0"), ("traffic: {}\n", "traffic: {}")],
)
def test_an_endpoint_without_traffic_is_a_plan_warning(project: Path, traffic: str, how: str) -> None:
    write(
        project,
        {
            "res/ep.yml": ENDPOINT + traffic,
            "res/blue.yml": DEPLOYMENT,
            "files/score/score.py": "def init():\n    pass\n\ndef run(raw):\n    return raw\n",
        },
    )
    line = 4 if traffic else 1
    warning = f"res/ep.yml:{line}: endpoint web has deployments (blue) but sends them no traffic ("
    advice = "): requests get 503; add traffic: {blue: 100}"
    text = run_mlplan("-C", str(project), "plan")
    assert text.code == 0, text.text
    [shown] = [ln for ln in text.out.splitlines() if warning in ln]
    assert shown.startswith("  Warning: ") and shown.endswith(advice) and (how in shown), shown
    as_json = run_mlplan("-C", str(project), "plan", "--json")
    assert [d for d in json.loads(as_json.out)["diagnostics"] if warning in d and d.endswith(advice)], as_json.out
    markdown = run_mlplan("-C", str(project), "plan", "--format", "markdown")
    assert [ln for ln in markdown.out.splitlines() if ln.startswith("> **Warning:** ") and warning in ln]


def test_an_endpoint_with_traffic_has_no_warning(project: Path) -> None:
    write(project, {"res/ep.yml": ENDPOINT + "traffic: {blue: 100}\n", "res/blue.yml": DEPLOYMENT})
    (project / "files/score").mkdir()
    (project / "files/score/score.py").write_text("def init():\n    pass\n")
    r = run_mlplan("-C", str(project), "plan", "--json")
    assert r.code == 0, r.text
    assert json.loads(r.out)["diagnostics"] == []
