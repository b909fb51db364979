"""Bad input through the installed CLI: every error exits 1 with file:line, address and a hint, and
leaves the state (and its journal) byte for byte as it was.

Each test applies the valid ``project`` first, snapshots the state, breaks one input, then runs both
``plan`` and ``apply --auto-approve``. Line numbers in the expectations are those of the offending
key in the files written by the test (``write`` dedents and drops the leading newline, so the first
line of a literal is line 1).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import (
    FULL_KEYS,
    Result,
    copy_full_keys,
    run_mlplan,
    state_snapshot,
    write,
)

SCHEMA = "https://azuremlschemas.azureedge.net/latest"

# The `project` fixture's files, line by line, for reference:
# mlplan.yaml    1 project: demo | 2 resources: ["res/*.yml"] | 3 variables: | 4   slots: {...}
# res/data.yml   1 $schema | 2 name: iris | 3 type: uri_file | 4 path: ../files/iris.csv
# res/env.yml    1 $schema | 2 name: sk | 3 version: "1" | 4 image: python:3.11 | 5 conda_file: ...
# res/model.yml  1 $schema | 2 name: clf | 3 path: ../files/model
# res/compute.yml 1 $schema | 2 name: cpu | 3 type: amlcompute | 4 max_instances: ${var.slots}
PROJECT_HEAD = """
project: demo
resources: ["res/*.yml"]
variables:
  slots: {default: 2, type: number}
"""


def data_yml(extra: str = "", path: str = "../files/iris.csv") -> str:
    """The project's data asset file (line 1 $schema, 2 name, 3 type, 4 path), with ``extra`` lines after."""
    text = f"$schema: {SCHEMA}/data.schema.json\nname: iris\ntype: uri_file\npath: {path}\n"
    return text + (extra + "\n" if extra else "")


def _project_with(tail: str) -> str:
    return PROJECT_HEAD.lstrip("\n") + tail.lstrip("\n")


@pytest.fixture
def applied(project: Path) -> tuple[Path, dict[str, bytes]]:
    """The valid project, applied; with the bytes of its state and journal."""
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    return project, state_snapshot(project)


def _located(where: str) -> re.Pattern[str]:
    """``file:line`` not followed by another digit (``x.yml:4`` must not match ``x.yml:40``)."""
    return re.compile(re.escape(where) + r"(?!\d)")


def check_error(
    r: Result,
    *,
    where: str | re.Pattern[str] | None,
    address: str | None = None,
    says: Iterable[str] = (),
) -> None:
    """Exit 1, no traceback, a hint, and one message line naming ``where`` (file:line) and ``address``."""
    text = r.text
    assert r.code == 1, f"exit code {r.code}, expected 1:\n{text}"
    assert "Traceback" not in text, text
    assert "hint:" in text, f"no `hint:` in the output:\n{text}"
    assert "Error: Error:" not in text, f"doubled error prefix:\n{text}"
    if where is not None:
        pattern = where if isinstance(where, re.Pattern) else _located(where)
        lines = [ln for ln in text.splitlines() if pattern.search(ln)]
        assert lines, f"no message names {pattern.pattern!r}:\n{text}"
        if address is not None:
            named = any(address in ln for ln in lines)
            assert named, f"the message at {pattern.pattern!r} does not name {address}:\n{text}"
    elif address is not None:
        assert address in text, f"{address} not named:\n{text}"
    for fragment in says:
        assert fragment in text, f"{fragment!r} not in the output:\n{text}"


def assert_refused(
    root: Path,
    snapshot: dict[str, bytes],
    *,
    where: str | re.Pattern[str] | None,
    address: str | None = None,
    says: Iterable[str] = (),
    pre: tuple[str, ...] = (),
    post: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> list[Result]:
    """``plan`` and ``apply --auto-approve`` both fail the same way and leave the state untouched."""
    commands = (("plan",), ("apply", "--auto-approve"))
    results = [run_mlplan("-C", str(root), *pre, *command, *post, env=env) for command in commands]
    outputs = "\n".join(r.text for r in results)
    assert state_snapshot(root) == snapshot, f"the state or its journal changed:\n{outputs}"
    for r in results:
        check_error(r, where=where, address=address, says=tuple(says))
    return results


# 1. malformed YAML ---------------------------------------------------------------------------------
def test_malformed_yaml_in_project_file(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "mlplan.yaml": """
            project: demo
            resources: ["res/*.yml"]
            variables:
              slots:
                default: 2
               type: number
            """
        },
    )
    assert_refused(root, snap, where="mlplan.yaml:6", says=["malformed YAML"])


def test_malformed_yaml_in_resource_file(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/data.yml": f"""
            $schema: {SCHEMA}/data.schema.json
            name: iris
            type: uri_file
              path: ../files/iris.csv
            """
        },
    )
    assert_refused(root, snap, where="res/data.yml:4", says=["malformed YAML"])


def test_duplicate_key_in_resource_file(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/data.yml": f"""
            $schema: {SCHEMA}/data.schema.json
            name: iris
            type: uri_file
            path: ../files/iris.csv
            tags: {{team: a}}
            name: flowers
            """
        },
    )
    assert_refused(root, snap, where="res/data.yml:6", says=["duplicate key 'name' (first on line 2)", "keep one"])


# 2. unknown kind -----------------------------------------------------------------------------------
def test_unknown_schema_url(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/workflow.yml": """
            name: ci
            $schema: https://json.schemastore.org/github-workflow.json
            on: push
            """
        },
    )
    assert_refused(
        root,
        snap,
        where="res/workflow.yml:2",
        says=["unknown kind", "https://json.schemastore.org/github-workflow.json"],
    )


def test_no_schema_and_no_type_under_glob_without_kind(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/plain.yml": """
            name: sk2
            image: python:3.11
            """
        },
    )
    assert_refused(root, snap, where="res/plain.yml:1", says=["unknown kind", "$schema"])


def test_no_schema_and_a_type_two_kinds_take(applied: tuple[Path, dict[str, bytes]]) -> None:
    """`type: kubernetes` is a compute or an online deployment: the error names both, at the `type:` line."""
    root, snap = applied
    write(
        root,
        {
            "res/k8s.yml": """
            name: k8s
            type: kubernetes
            """
        },
    )
    assert_refused(
        root,
        snap,
        where="res/k8s.yml:2",
        says=["unknown kind", "`type: kubernetes`", "a compute or an online deployment", "kind: compute}"],
    )


# 3. missing referenced files ---------------------------------------------------------------------
def test_missing_data_path(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {"res/data.yml": data_yml(path="../files/missing.csv")},
    )
    assert_refused(root, snap, where="res/data.yml:4", address="data.iris", says=["missing.csv"])


def test_missing_conda_file(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/env.yml": f"""
            $schema: {SCHEMA}/environment.schema.json
            name: sk
            version: "1"
            image: python:3.11
            conda_file: ../files/no-such-conda.yml
            """
        },
    )
    assert_refused(root, snap, where="res/env.yml:5", address="environment.sk", says=["no-such-conda.yml"])


# 4. duplicate address ------------------------------------------------------------------------------
def test_duplicate_address_names_both_files(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {"res/data_copy.yml": data_yml()},
    )
    (r, _) = assert_refused(root, snap, where="res/data_copy.yml:2", address="data.iris", says=["duplicate"])
    line = next(ln for ln in r.text.splitlines() if "res/data_copy.yml:2" in ln)
    assert "res/data.yml" in line, r.text


# 5. unknown and unset variables ------------------------------------------------------------------
def test_unknown_variable_in_resource_file(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {"res/data.yml": data_yml("description: iris for ${var.nope}")},
    )
    assert_refused(root, snap, where="res/data.yml:5", address="data.iris", says=["unknown variable", "nope"])


def test_unknown_variable_in_project_file(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(
        _project_with(
            """
environments:
  local:
    provider: local
    workspace:
      path: ws-${var.nope}
"""
        )
    )
    assert_refused(root, snap, where="mlplan.yaml:9", says=["unknown variable", "nope"])


def test_promotion_policy_for_a_model_the_project_lacks(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(root, {"res/endpoint.yml": ENDPOINT})
    (root / "mlplan.yaml").write_text(
        _project_with(
            """
promotion:
  clf: {evaluation_data: "azureml:iris@latest", label_column: b, endpoint: churn-endpoint}
  cfl: {evaluation_data: "azureml:iris@latest", label_column: b, endpoint: churn-endpoint}
"""
        )
    )
    assert_refused(root, snap, where="mlplan.yaml:7", says=["promotion policy for model 'cfl'", "models here: clf"])


def test_promotion_policy_misspelt_key_and_wrong_endpoint(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(root, {"res/endpoint.yml": ENDPOINT})
    policy = """
promotion:
  clf:
    evaluation_data: "azureml:iris@latest"
    label_column: b
    endpoint: churn-endpoint
    {}
"""
    (root / "mlplan.yaml").write_text(_project_with(policy.format("aplha: 0.01")))
    for r in assert_refused(
        root, snap, where="mlplan.yaml:10", says=["promotion.clf.aplha: unknown key; did you mean 'alpha'?"]
    ):
        assert "1 error; nothing was changed." in r.text, r.text
    (root / "mlplan.yaml").write_text(
        _project_with(policy.format("alpha: 0.01").replace("endpoint: churn-endpoint", "endpoint: churn-endpiont"))
    )
    assert_refused(
        root,
        snap,
        where="mlplan.yaml:9",
        address="model.clf",
        says=[
            "promotion.clf.endpoint: 'churn-endpiont' is not an online endpoint of this project;"
            " did you mean 'churn-endpoint'?",
            "online endpoints here: churn-endpoint",
        ],
    )


UNSET = "MLPLAN_E2E_SURELY_UNSET_VARIABLE"


def test_unset_environment_variable(applied: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    root, snap = applied
    write(
        root,
        {"res/data.yml": data_yml(f"description: owned by ${{env:{UNSET}}}")},
    )
    assert_refused(root, snap, where="res/data.yml:5", address="data.iris", says=[UNSET, "not set"])


def test_undeclared_cli_variable(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    # The place to declare it: the `variables:` key of mlplan.yaml (line 3).
    assert_refused(root, snap, where="mlplan.yaml:3", says=["undeclared"], post=("--var", "undeclared=1"))


# 6. references to nothing --------------------------------------------------------------------------
def test_depends_on_names_no_resource(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(
        _project_with(
            """
settings:
  data.iris:
    depends_on: [model.ghost]
"""
        )
    )
    assert_refused(root, snap, where="mlplan.yaml:7", address="data.iris", says=["model.ghost"])


def test_settings_for_undefined_address(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(
        _project_with(
            """
settings:
  model.ghost:
    lifecycle: {prevent_destroy: true}
"""
        )
    )
    assert_refused(root, snap, where="mlplan.yaml:6", address="model.ghost")


# 7. cycle --------------------------------------------------------------------------------------------
def test_depends_on_cycle_lists_its_addresses(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(
        _project_with(
            """
settings:
  data.iris:
    depends_on: [model.clf]
  model.clf:
    depends_on: [environment.sk]
  environment.sk:
    depends_on: [data.iris]
"""
        )
    )
    # The offending keys are the depends_on entries (lines 7, 9, 11); any of them will do.
    where = re.compile(r"mlplan\.yaml:(7|9|11)(?!\d)")
    results = assert_refused(root, snap, where=where, says=["cycle", "data.iris", "model.clf", "environment.sk"])
    for r in results:
        cycle_lines = [ln for ln in r.text.splitlines() if "cycle" in ln]
        assert cycle_lines and all("compute.cpu" not in ln for ln in cycle_lines), r.text


# 8. schema violations in mlplan.yaml ---------------------------------------------------------------
def test_unknown_top_level_key(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(_project_with("colour: blue\n"))
    assert_refused(root, snap, where="mlplan.yaml:5", says=["colour"])


@pytest.mark.parametrize(
    ("tail", "line", "address"),
    [
        (
            """
environments:
  local:
    provider: local
    lifecycle:
      ttl:
        online_deployment: 24 hours
""",
            10,
            None,
        ),
        (
            """
settings:
  data.iris:
    lifecycle:
      ttl: 24 hours
""",
            8,
            "data.iris",
        ),
    ],
    ids=["environment-ttl", "resource-ttl"],
)
def test_bad_ttl(applied: tuple[Path, dict[str, bytes]], tail: str, line: int, address: str | None) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(_project_with(tail))
    assert_refused(root, snap, where=f"mlplan.yaml:{line}", address=address, says=["24 hours"])


# 9. unknown environment ------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["option", "MLPLAN_ENV"])
def test_unknown_environment(project: Path, how: str) -> None:
    (project / "mlplan.yaml").write_text(
        _project_with(
            """
environments:
  local:
    provider: local
"""
        )
    )
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    snap = state_snapshot(project)
    pre, env = (("-e", "nope"), None) if how == "option" else ((), {"MLPLAN_ENV": "nope"})
    results = assert_refused(project, snap, where="mlplan.yaml:5", says=["nope"], pre=pre, env=env)
    for r in results:
        hint = next(ln for ln in r.text.splitlines() if "hint:" in ln)
        assert "local" in hint, r.text


# 10. all validation errors at once -----------------------------------------------------------------
def test_three_errors_reported_in_one_run(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/data.yml": data_yml(path="../files/missing.csv"),
            "res/model.yml": f"""
            $schema: {SCHEMA}/model.schema.json
            name: clf
              path: ../files/model
            """,
            "res/workflow.yml": """
            name: ci
            $schema: https://json.schemastore.org/github-workflow.json
            """,
        },
    )
    results = assert_refused(root, snap, where="res/data.yml:4", address="data.iris", says=["missing.csv"])
    for r in results:
        check_error(r, where="res/model.yml:3", says=["malformed YAML"])
        check_error(r, where="res/workflow.yml:2", says=["unknown kind"])
        assert "3 errors" in r.text, r.text


def test_load_and_provider_errors_reported_together(applied: tuple[Path, dict[str, bytes]]) -> None:
    """A missing file, an unknown kind and a provider refusal are all input problems: one run."""
    root, snap = applied
    write(
        root,
        {
            "res/data.yml": data_yml(path="../files/missing.csv"),
            "res/workflow.yml": """
            name: ci
            $schema: https://json.schemastore.org/github-workflow.json
            """,
            "res/compute.yml": f"""
            $schema: {SCHEMA}/computeInstance.schema.json
            name: cpu
            type: computeinstance
            size: STANDARD_DS3_V2
            """,
        },
    )
    results = assert_refused(root, snap, where="res/data.yml:4", address="data.iris", says=["missing.csv"])
    for r in results:
        check_error(r, where="res/workflow.yml:2", says=["unknown kind"])
        check_error(r, where="res/compute.yml:3", address="compute.cpu", says=["not supported by the local provider"])
        assert "3 errors" in r.text, r.text


# 11. usage errors exit 1, never 2 ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--target", "not-an-address"), "not-an-address"),
        (("--var", "novalue"), "novalue"),
        (("--no-such-option",), "--no-such-option"),
    ],
    ids=["bad-target", "var-without-value", "unknown-option"],
)
def test_usage_error_exits_1(applied: tuple[Path, dict[str, bytes]], args: tuple[str, ...], says: str) -> None:
    root, snap = applied
    assert_refused(root, snap, where=None, says=[says], post=args)


# 12. not supported by the local provider -----------------------------------------------------------
def test_compute_instance_not_supported_locally(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    shutil.copyfile(FULL_KEYS / "compute_instance.yml", root / "res/compute_instance.yml")
    assert_refused(
        root,
        snap,
        where="res/compute_instance.yml:3",  # type: computeinstance
        address="compute.fullkeys-ci",
        says=["not supported by the local provider"],
    )


def test_remote_data_path_not_supported_locally(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {"res/data.yml": data_yml(path="https://example.com/x.csv")},
    )
    assert_refused(
        root,
        snap,
        where="res/data.yml:4",
        address="data.iris",
        says=["not supported by the local provider", "https://example.com/x.csv"],
    )


# 13. mlplan validate and the azure-ai-ml loaders ------------------------------------------------------
def test_validate_full_keys(tmp_path: Path) -> None:
    root = copy_full_keys(tmp_path / "fk")
    r = run_mlplan("-C", str(root), "validate")
    assert r.code == 0, r.text
    assert "10 resource(s)" in r.out, r.text
    assert "Traceback" not in r.text


# what az ml refuses: the schema check says it (plan, apply and validate alike), the loader does not repeat it
REFUSED_BY_BOTH = pytest.mark.parametrize(
    ("file", "old", "new", "line", "address", "says"),
    [
        (
            "compute_amlcompute.yml",
            "min_instances: 0\n",
            'min_instances: "many"\n',
            8,
            "compute.fullkeys-cpu-cluster",
            "min_instances: 'many' is not a whole number",
        ),
        (
            "data_uri_file.yml",
            "type: uri_file\n",
            "type: not_a_type\n",
            9,
            "data.fullkeys-iris-file",
            "type: 'not_a_type' is not one of uri_file, uri_folder, mltable",
        ),
    ],
    ids=["compute-min-instances", "data-type"],
)


def _applied_then_broken(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, dict[str, bytes]]:
    """A one-file copy of full_keys, applied, then ``file`` edited to something azure-ai-ml rejects."""
    root = copy_full_keys(tmp_path / "fk", [file])
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    snap = state_snapshot(root)
    path = root / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return root, snap


@REFUSED_BY_BOTH
def test_validate_reports_what_the_loader_also_rejects_once(
    tmp_path: Path, file: str, old: str, new: str, line: int, address: str, says: str
) -> None:
    root, snap = _applied_then_broken(tmp_path, file, old, new)
    r = run_mlplan("-C", str(root), "validate")
    check_error(r, where=f"{file}:{line}", address=address, says=[says])
    assert "azure-ai-ml says" not in r.text, f"the loader repeated the schema check:\n{r.text}"
    assert "1 error;" in r.text, r.text
    assert state_snapshot(root) == snap


@REFUSED_BY_BOTH
def test_plan_and_apply_refuse_what_the_loader_rejects(
    tmp_path: Path, file: str, old: str, new: str, line: int, address: str, says: str
) -> None:
    """plan/apply skip the (slow) loaders, but the schema check refuses the spec rather than apply it."""
    root, snap = _applied_then_broken(tmp_path, file, old, new)
    assert_refused(root, snap, where=f"{file}:{line}", address=address, says=[says])


def test_validate_translates_what_only_the_loader_refuses(tmp_path: Path) -> None:
    """A rule azure-ai-ml checks in code (a `validates` hook) is left to its loader: one line per field, at the
    field's line, the SDK's whole sentence, no escaped JSON."""
    root = tmp_path / "p"
    write(
        root,
        {
            "mlplan.yaml": 'project: demo\nresources: ["res/*.yml"]\n',
            "res/blue.yml": f"""
            $schema: {SCHEMA}/managedOnlineDeployment.schema.json
            name: blue
            endpoint_name: web-ep
            model: azureml:clf:1
            code_configuration: {{code: ../score, scoring_script: score.py}}
            environment: azureml:env:1
            instance_type: Standard_DS3_v2
            data_collector:
              sampling_rate: 2.5
            """,
            "score/score.py": "def init():\n    pass\n",
        },
    )
    assert run_mlplan("-C", str(root), "validate", "--no-sdk").code == 0
    r = run_mlplan("-C", str(root), "validate")
    says = "data_collector.sampling_rate: azure-ai-ml says: Sampling rate must be an number in range (0.0-1.0)"
    check_error(r, where="res/blue.yml:9", address="online_deployment.web-ep/blue", says=[says])
    assert "\\n" not in r.text and '\\"' not in r.text, f"escaped JSON in the output:\n{r.text}"
    assert "1 error;" in r.text, r.text


# 14. what az ml refuses in resource files: unknown keys, types, references, names --------------------------
JOB = f"""
$schema: {SCHEMA}/commandJob.schema.json
name: train
command: python train.py
code: ../files
environment: azureml:sk:1
compute: azureml:cpu
"""
ENDPOINT = f"""
$schema: {SCHEMA}/managedOnlineEndpoint.schema.json
name: churn-endpoint
auth_mode: key
"""
COMPUTE = f"""
$schema: {SCHEMA}/amlCompute.schema.json
name: cpu
type: amlcompute
max_instances: 2
"""

SCHEMA_PROBLEMS = pytest.mark.parametrize(
    ("file", "text", "old", "new", "line", "address", "says"),
    [
        ("res/job.yml", JOB, "environment:", "enviroment:", 5, "job.train",
         "enviroment: unknown key; did you mean environment?"),
        ("res/compute.yml", COMPUTE, "max_instances:", "max_instance:", 4, "compute.cpu",
         "max_instance: unknown key; did you mean max_instances?"),
        ("res/compute.yml", COMPUTE, "max_instances: 2", "max_instances: many", 4, "compute.cpu",
         "max_instances: 'many' is not a whole number"),
        ("res/job.yml", JOB, "azureml:sk:1", "sk@latest", 5, "job.train",
         "environment: 'sk@latest' is not a reference: a registered environment is written azureml:sk@latest"),
        ("res/endpoint.yml", ENDPOINT, "churn-endpoint", "churn_endpoint", 2, "online_endpoint.churn_endpoint",
         "name: 'churn_endpoint' is a name Azure refuses: 3-32 characters"),
    ],
    ids=["misspelt-key", "misspelt-compute-key", "wrong-type", "reference-without-azureml", "invalid-name"],
)  # fmt: skip


@SCHEMA_PROBLEMS
def test_plan_apply_and_validate_refuse_what_az_ml_refuses(
    applied: tuple[Path, dict[str, bytes]], file: str, text: str, old: str, new: str, line: int, address: str, says: str
) -> None:
    root, snap = applied
    write(root, {file: text})  # valid as written: the project plans
    r = run_mlplan("-C", str(root), "plan")
    assert r.code == 0, r.text
    write(root, {file: text.replace(old, new, 1)})
    results = assert_refused(root, snap, where=f"{file}:{line}", address=address, says=[says])
    results.append(run_mlplan("-C", str(root), "validate"))
    check_error(results[-1], where=f"{file}:{line}", address=address, says=[says])
    assert state_snapshot(root) == snap
    for r in results:
        errors = [ln for ln in r.text.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, f"one problem, one error:\n{r.text}"
        assert "nothing was changed" in r.text, r.text


def test_every_schema_problem_of_every_file_in_one_run(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(
        root,
        {
            "res/job.yml": JOB.replace("environment:", "enviroment:"),
            "res/compute.yml": COMPUTE.replace("max_instances: 2", "max_instances: many"),
            "res/endpoint.yml": ENDPOINT.replace("churn-endpoint", "churn_endpoint"),
        },
    )
    for r in assert_refused(root, snap, where="res/job.yml:5", says=["did you mean environment?"]):
        check_error(r, where="res/compute.yml:4", says=["is not a whole number"])
        check_error(r, where="res/endpoint.yml:2", says=["is a name Azure refuses"])
        assert "3 errors; nothing was changed." in r.text, r.text
