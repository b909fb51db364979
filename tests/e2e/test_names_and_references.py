"""What a new user mistypes, through the installed CLI: variables checked by their declared type wherever the
value comes from, did-you-mean wherever a name is typed, and references that cannot be satisfied refused at
plan time, with the file and line of the reference. Every refusal exits 1 and leaves the state (and its
journal) byte for byte as it was.

The ``project`` fixture's files, line by line (see tests/conftest.py):
mlplan.yaml     1 project: demo | 2 resources: ["res/*.yml"] | 3 variables: | 4   slots: {default: 2, type: number}
res/compute.yml 1 $schema | 2 name: cpu | 3 type: amlcompute | 4 max_instances: ${var.slots}
res/data.yml    data.iris; res/env.yml environment.sk (version "1"); res/model.yml model.clf (no version)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Result, run_mlplan, state_snapshot, write
from tests.e2e.test_errors import PROJECT_HEAD, assert_refused

SCHEMA = "https://azuremlschemas.azureedge.net/latest"


@pytest.fixture
def applied(project: Path) -> tuple[Path, dict[str, bytes]]:
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    return project, state_snapshot(project)


def _project(tail: str) -> str:
    return PROJECT_HEAD.lstrip("\n") + tail.lstrip("\n")


def _train(inputs: str, outputs: str = "") -> str:
    """A command job (line 1 $schema, 2 name, 3 compute, 4 command, 5 inputs:, then ``inputs`` lines; its
    environment last)."""
    return (
        f"$schema: {SCHEMA}/commandJob.schema.json\nname: train\ncompute: azureml:cpu\n"
        "command: python -c \"import os, sys; print('reads', sorted(os.listdir(sys.argv[1])))\" ${{inputs.m}}\n"
        f"inputs:\n{inputs}" + (f"outputs:\n{outputs}" if outputs else "") + "environment: azureml:sk:1\n"
    )


def _planned(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    r = run_mlplan("-C", str(root), "plan", "--json", *args, env=env)
    assert r.code == 0, r.text
    return {c["address"]: c for c in json.loads(r.out)["changes"]}


# -- variables: checked by their type, wherever the value comes from ---------------------------------------
@pytest.mark.parametrize(
    ("post", "env", "source"),
    [
        (("--var", "slots=many"), None, "--var sets 'many'"),
        ((), {"MLPLAN_VAR_slots": "many"}, "environment variable MLPLAN_VAR_slots sets 'many'"),
    ],
    ids=["--var", "MLPLAN_VAR_"],
)
def test_a_variable_value_of_the_wrong_type_is_refused(
    applied: tuple[Path, dict[str, bytes]], post: tuple[str, ...], env: dict[str, str] | None, source: str
) -> None:
    root, snap = applied
    # it points at the declaration (line 4), which says which type the value must have
    assert_refused(
        root, snap, where="mlplan.yaml:4", says=[f"variable 'slots' expects a number, but {source}"], post=post, env=env
    )


def test_an_environment_block_value_of_the_wrong_type_is_refused_at_its_line(
    applied: tuple[Path, dict[str, bytes]],
) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(
        _project(
            """
environments:
  local:
    provider: local
    variables:
      slots: two
"""
        )
    )
    says = ["variable 'slots' expects a number, but the variables: of environment 'local' set 'two'"]
    assert_refused(root, snap, where="mlplan.yaml:9", says=says)


def test_a_sensitive_value_of_the_wrong_type_is_never_shown(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(_project("  pin: {default: 1, type: number, sensitive: true}\n"))
    results = assert_refused(
        root,
        snap,
        where="mlplan.yaml:5",
        says=["variable 'pin' expects a number", "not shown"],
        post=("--var", "pin=s3cr3t"),
    )
    assert all("s3cr3t" not in r.text for r in results)


def test_precedence_is_var_then_mlplan_var_then_environment_then_default(
    applied: tuple[Path, dict[str, bytes]],
) -> None:
    root, _snap = applied
    (root / "mlplan.yaml").write_text(
        _project("environments:\n  local:\n    provider: local\n    variables: {slots: 3}\n")
    )
    assert _planned(root)["compute.cpu"]["after"]["max_instances"] == 3  # type: ignore[index]
    by_env = _planned(root, env={"MLPLAN_VAR_slots": "4"})
    assert by_env["compute.cpu"]["after"]["max_instances"] == 4  # type: ignore[index]
    by_var = _planned(root, "--var", "slots=5", env={"MLPLAN_VAR_slots": "4"})
    assert by_var["compute.cpu"]["after"]["max_instances"] == 5  # type: ignore[index]


@pytest.mark.parametrize(
    ("files", "where", "address"),
    [
        (
            {
                "res/compute.yml": f"$schema: {SCHEMA}/amlCompute.schema.json\nname: cpu\ntype: amlcompute\n"
                "max_instances: ${var.slots\n"
            },
            "res/compute.yml:4",
            "compute.cpu",
        ),
        (
            {
                "mlplan.yaml": _project(
                    "environments:\n  local:\n    provider: local\n    workspace:\n      path: ws-${var.slots\n"
                )
            },
            "mlplan.yaml:9",
            None,
        ),
    ],
    ids=["resource-file", "mlplan.yaml"],
)
def test_an_unterminated_variable_reference_is_an_error(
    applied: tuple[Path, dict[str, bytes]], files: dict[str, str], where: str, address: str | None
) -> None:
    root, snap = applied
    for rel, text in files.items():
        (root / rel).write_text(text)
    assert_refused(root, snap, where=where, address=address, says=["unterminated variable reference '${var.slots"])


# mlplan.yaml with its variables: block on line 5
COMMENTED = """# the demo project
project: demo
resources: ["res/*.yml"]
# inputs
variables:
  slots: {default: 2, type: number}
"""


def test_an_undeclared_var_points_at_the_variables_block_and_suggests_the_declared_name(
    applied: tuple[Path, dict[str, bytes]],
) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(COMMENTED)
    says = ["--var slot=... sets a variable that is not declared; did you mean 'slots'?"]
    assert_refused(root, snap, where="mlplan.yaml:5", says=says, post=("--var", "slot=3"))


def test_an_unknown_variable_in_a_file_suggests_the_declared_name(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    text = (root / "res/compute.yml").read_text().replace("${var.slots}", "${var.slot}")
    (root / "res/compute.yml").write_text(text)
    says = ["unknown variable 'slot'; did you mean 'slots'?"]
    assert_refused(root, snap, where="res/compute.yml:4", address="compute.cpu", says=says)


# -- did-you-mean for addresses ---------------------------------------------------------------------------
def _refused_usage(r: Result, says: str) -> None:
    assert r.code == 1, f"exit code {r.code}, expected 1:\n{r.text}"
    assert "Traceback" not in r.text and says in r.err, r.text


@pytest.mark.parametrize(
    "args",
    [
        ("state", "show", "data.irs"),
        ("state", "mv", "data.irs", "data.x"),
        ("state", "rm", "data.irs"),
        ("plan", "--target", "data.irs"),
        ("apply", "--auto-approve", "--replace", "data.irs"),
        ("import", "data.irs", "data/iris/versions/1"),
    ],
    ids=["state-show", "state-mv", "state-rm", "target", "replace", "import"],
)
def test_a_mistyped_address_on_the_command_line_suggests_the_right_one(
    applied: tuple[Path, dict[str, bytes]], args: tuple[str, ...]
) -> None:
    root, snap = applied
    _refused_usage(run_mlplan("-C", str(root), *args), "did you mean data.iris?")
    assert state_snapshot(root) == snap


def test_a_mistyped_kind_suggests_the_right_one(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, _snap = applied
    _refused_usage(run_mlplan("-C", str(root), "state", "show", "models.clf"), "did you mean model.clf?")


def test_import_refuses_an_address_the_configuration_lacks(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    assert run_mlplan("-C", str(root), "state", "rm", "compute.cpu").code == 0
    snap = state_snapshot(root)
    r = run_mlplan("-C", str(root), "import", "compute.gpu", "computes/cpu")
    _refused_usage(r, "compute.gpu is not a resource of this project's configuration")
    assert state_snapshot(root) == snap


@pytest.mark.parametrize(
    ("tail", "line", "address", "says"),
    [
        ("settings:\n  data.irs:\n    lifecycle: {prevent_destroy: true}\n", 6, "data.irs", "did you mean data.iris?"),
        ("settings:\n  data.iris:\n    depends_on: [model.clff]\n", 7, "data.iris", "did you mean model.clf?"),
    ],
    ids=["settings", "depends_on"],
)
def test_a_mistyped_address_in_mlplan_yaml_suggests_the_right_one(
    applied: tuple[Path, dict[str, bytes]], tail: str, line: int, address: str, says: str
) -> None:
    root, snap = applied
    (root / "mlplan.yaml").write_text(_project(tail))
    assert_refused(root, snap, where=f"mlplan.yaml:{line}", address=address, says=[says])


# -- references that cannot be satisfied: refused at plan time ---------------------------------------------
def test_an_unknown_reference_suggests_the_projects_name(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(root, {"res/train.yml": _train("  m:\n    type: uri_file\n    path: azureml:irs@latest\n")})
    says = [
        "azureml:irs@latest refers to a data asset that neither this project nor the workspace has;"
        " did you mean 'azureml:iris@latest'?"
    ]
    assert_refused(root, snap, where="res/train.yml:8", address="job.train", says=says)


def test_a_version_the_project_will_never_register_is_refused(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, snap = applied
    write(root, {"res/train.yml": _train("  m:\n    type: custom_model\n    path: azureml:clf:7\n")})
    results = assert_refused(
        root,
        snap,
        where="res/train.yml:8",
        address="job.train",
        says=[
            "azureml:clf:7 names version 7 of model clf, which this project registers",
            "the workspace has version 1",
        ],
    )
    for r in results:
        hint = next(ln for ln in r.text.splitlines() if "hint:" in ln)
        assert "azureml:clf@latest" in hint and "version: 7" in hint, r.text


def test_an_existing_version_of_a_project_model_is_read_and_a_model_input_is_a_model(
    applied: tuple[Path, dict[str, bytes]],
) -> None:
    root, _snap = applied
    (root / "files/model/w.txt").write_text("better weights\n")  # the project registers version 2...
    write(root, {"res/train.yml": _train("  m:\n    type: custom_model\n    path: azureml:clf:1\n")})
    changes = _planned(root)
    assert changes["model.clf:1"]["action"] == "read" and changes["model.clf"]["action"] == "new_version"
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "[job.train] reads ['w.txt']" in r.err, "...and the job reads version 1, among models"
    state = json.loads(run_mlplan("-C", str(root), "state", "pull").out)
    assert state["resources"]["model.clf"]["version"] == "2"
    assert state["resources"]["job.train"]["attributes"]["inputs"]["m"]["path"] == "azureml:clf:1"


PRODUCER_PATH = "azureml://jobs/train/outputs/model"
# a job writing its output `model`, and model.trained registered from it by a path: of its own
PRODUCER = {
    "res/train.yml": (
        f"$schema: {SCHEMA}/commandJob.schema.json\nname: train\ncompute: azureml:cpu\n"
        "command: python -c \"import os, sys; open(os.path.join(sys.argv[1], 'm.txt'), 'w').write('m')\""
        " ${{outputs.model}}\noutputs:\n  model:\n    type: custom_model\nenvironment: azureml:sk:1\n"
    ),
    "res/trained.yml": (
        f"$schema: {SCHEMA}/model.schema.json\nname: trained\ntype: custom_model\npath: {PRODUCER_PATH}\n"
    ),
}


def test_a_model_whose_path_is_a_job_output_is_registered_from_the_run(applied: tuple[Path, dict[str, bytes]]) -> None:
    root, _snap = applied
    write(root, PRODUCER)
    r = run_mlplan("-C", str(root), "plan")
    assert r.code == 0, r.text
    assert "registered from the new run of job.train" in r.out, r.text
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text  # it failed here with "content.path added: (missing)"
    state = json.loads(run_mlplan("-C", str(root), "state", "pull").out)
    assert state["resources"]["model.trained"]["version"] == "1"
    assert (root / ".mlplan/local-workspace/models/trained/1/files/path/model/m.txt").read_text() == "m"
    assert run_mlplan("-C", str(root), "plan", "--detailed-exitcode").code == 0
    (root / "res/train.yml").write_text(PRODUCER["res/train.yml"].replace("'m'", "'m2'"))
    changes = _planned(root)
    assert changes["job.train"]["action"] == "train"
    trained = changes["model.trained"]
    assert (trained["action"], trained["reason"]) == ("new_version", "registered from the new run of job.train")


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (
            "azureml://jobs/trian/outputs/model",
            "names output 'model' of job 'trian', which is neither a job of this project nor a run in the"
            " workspace; did you mean 'azureml://jobs/train/outputs/model'?",
        ),
        ("azureml://jobs/train/outputs/modle", "job.train, which has no such output; did you mean 'model'?"),
    ],
    ids=["job", "output"],
)
def test_a_job_output_path_of_no_job_is_refused_saying_how_to_write_it(
    applied: tuple[Path, dict[str, bytes]], path: str, says: str
) -> None:
    root, snap = applied
    write(root, {**PRODUCER, "res/trained.yml": PRODUCER["res/trained.yml"].replace(PRODUCER_PATH, path)})
    assert_refused(root, snap, where="res/trained.yml:4", address="model.trained", says=[says])
