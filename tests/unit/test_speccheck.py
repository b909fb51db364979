"""engine/speccheck on the generated rules: what `az ml` would refuse in a resource file is one problem each, at the
offending key, with what is allowed and a did-you-mean; what it accepts (the azureml-examples and full-keys
fixtures, bindings, interpolation left for later) passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlplan.core import kinds
from mlplan.engine import speccheck

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "https://azuremlschemas.azureedge.net/latest/{}.schema.json"


def problems(kind: str, spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted path, message) of every problem with ``spec``."""
    out: speccheck.Out = []
    rules = speccheck.rules_for(kind, spec, out)
    if rules is not None:
        rules.check(spec, out)
    return [(".".join(p.path), p.message) for p in out]


def job(**fields: Any) -> dict[str, Any]:
    return {
        "$schema": SCHEMA.format("commandJob"),
        "command": "python train.py",
        "environment": "azureml:env:1",
        **fields,
    }


DEPLOYMENT = {"name": "blue", "endpoint_name": "churn-endpoint", "model": "azureml:m:1", "instance_type": "small"}


def compute(**fields: Any) -> dict[str, Any]:
    return {"$schema": SCHEMA.format("amlCompute"), "name": "cpu-cluster", "type": "amlcompute", **fields}


# -- accepted ---------------------------------------------------------------------------------------------
def _fixture_files() -> list[Path]:
    roots = [REPO / "tests/fixtures", REPO / "examples"]
    return sorted(p for r in roots for p in r.rglob("*.y*ml") if p.name != "mlplan.yaml")


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_the_fixtures_and_examples_written_for_az_ml_pass(path: Path) -> None:
    spec = yaml.safe_load(path.read_text())
    schema = spec.get("$schema") if isinstance(spec, dict) else None
    found = kinds.kind_from_schema(schema) if isinstance(schema, str) else None
    if found is None:  # a conda file, an MLmodel, a file mlplan is told the kind of in its mlplan.yaml
        kind = {"deployments": "online_deployment", "endpoints": "online_endpoint"}.get(path.parent.name)
        if kind is None:
            return
    else:
        kind = found[0]
    assert problems(kind, spec) == []


def test_bindings_and_unresolved_interpolation_are_never_judged() -> None:
    spec = job(
        inputs={"n": "${{parent.inputs.n}}", "lr": 0.1, "data": {"type": "uri_file", "path": "azureml:iris@latest"}},
        compute="${var.cluster}",
        limits={"timeout": "${var.timeout}"},
        resources={"instance_count": "${{inputs.n}}"},
    )
    assert problems("job", spec) == []


def test_schema_and_read_only_keys_are_allowed_as_azure_ai_ml_drops_them() -> None:
    assert problems("compute", compute(id="/subscriptions/x", provisioning_state="Succeeded")) == []


# -- unknown keys -----------------------------------------------------------------------------------------
def test_a_misspelt_key_is_one_problem_with_a_did_you_mean() -> None:
    spec = job()
    spec["enviroment"] = spec.pop("environment")
    assert problems("job", spec) == [("enviroment", "enviroment: unknown key; did you mean environment?")]


def test_a_misspelt_nested_key_names_its_path() -> None:
    assert problems("job", job(resources={"instance_cont": 2})) == [
        ("resources.instance_cont", "resources.instance_cont: unknown key; did you mean instance_count?")
    ]
    assert problems("compute", compute(max_instance=3)) == [
        ("max_instance", "max_instance: unknown key; did you mean max_instances?")
    ]


def test_an_inline_environment_is_checked_as_a_mapping_and_a_string_as_a_reference() -> None:
    inline = job(environment={"image": "python:3.11", "conda_fiel": "conda.yml"})
    assert problems("job", inline) == [
        ("environment.conda_fiel", "environment.conda_fiel: unknown key; did you mean conda_file?")
    ]
    assert problems("job", job(environment={"image": "python:3.11"})) == []


# -- types and enums --------------------------------------------------------------------------------------
def test_wrong_types_say_what_is_allowed() -> None:
    assert problems("compute", compute(max_instances="many", ssh_public_access_enabled="maybe")) == [
        ("max_instances", "max_instances: 'many' is not a whole number"),
        ("ssh_public_access_enabled", "ssh_public_access_enabled: 'maybe' is not true or false"),
    ]
    # what azure-ai-ml turns into a number is fine
    assert problems("compute", compute(max_instances="3", ssh_public_access_enabled="yes")) == []


def test_enums_compare_as_azure_ai_ml_does_and_guess_the_intended_value() -> None:
    assert problems("compute", compute(tier="Dedicated")) == []
    [(where, message)] = problems("compute", compute(tier="lowpriority"))
    assert where == "tier"
    assert message == "tier: 'lowpriority' is not one of low_priority, dedicated; did you mean low_priority?"


def test_a_union_reports_the_member_a_mapping_s_type_picks() -> None:
    inputs = {"iris": {"type": "uri_fil", "path": "data/iris.csv"}}
    [(where, message)] = problems("job", job(inputs=inputs))
    assert where == "inputs.iris.type"
    assert "did you mean uri_file?" in message


# -- references -------------------------------------------------------------------------------------------
def test_a_reference_without_azureml_says_how_to_write_it() -> None:
    [(where, message)] = problems("job", job(environment="churn-env@latest"))
    assert where == "environment"
    assert "azureml:churn-env@latest" in message
    deployment = {
        "$schema": SCHEMA.format("managedOnlineDeployment"),
        "name": "blue",
        "endpoint_name": "churn-endpoint",
        "model": "churn-model:1",
        "instance_type": "Standard_DS3_v2",
    }
    [(where, message)] = problems("online_deployment", deployment)
    assert where == "model" and "azureml:churn-model:1" in message


# -- which schema ---------------------------------------------------------------------------------------
def test_the_schema_is_chosen_as_azure_ai_ml_chooses_it() -> None:
    assert problems("job", job(type="comand")) == [
        ("type", "type: 'comand' is not one of automl, command, distillation, finetuning, import, pipeline, spark,"
         " sweep; did you mean command?")
    ]  # fmt: skip
    # an endpoint with a compute is a Kubernetes one (azure-ai-ml's OnlineEndpoint._load)
    endpoint = {"name": "k8s-endpoint", "compute": "azureml:inference", "auth_mode": "key"}
    assert problems("online_endpoint", endpoint) == []
    managed = {"name": "k8s-endpoint", "auth_mode": "key", "computee": "x"}
    assert problems("online_endpoint", managed)[0][0] == "computee"
    assert problems("compute", {"name": "cpu-cluster"}) == [("type", "missing required key 'type'")]


def test_a_missing_required_key_is_reported() -> None:
    spec = job()
    del spec["command"]
    assert problems("job", spec) == [("command", "missing required key 'command'")]


# -- names ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "spec", "bad"),
    [
        ("online_endpoint", {"name": "churn_endpoint"}, "churn_endpoint"),
        ("online_endpoint", {"name": "ep"}, "ep"),
        ("online_deployment", {**DEPLOYMENT, "name": "blue-"}, "blue-"),
        ("compute", {"name": "cpu-cluster-1", "type": "amlcompute"}, "cpu-cluster-1"),
        ("compute", {"name": "1cpu", "type": "amlcompute"}, "1cpu"),
        ("compute", {"name": "kubernetes-cluster-a", "type": "kubernetes", "namespace": "ml"}, "kubernetes-cluster-a"),
        ("data", {"name": "iris.v2", "path": "x.csv"}, "iris.v2"),
    ],
)
def test_names_azure_refuses_are_refused_with_the_rule(kind: str, spec: dict[str, Any], bad: str) -> None:
    [(where, message)] = problems(kind, spec)
    assert where == "name"
    assert message.startswith(f"name: {bad!r} is a name Azure refuses: ")
    assert "characters" in message


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("online_endpoint", {"name": "churn-endpoint"}),
        ("compute", {"name": "cpu-cluster2", "type": "amlcompute"}),
        ("compute", {"name": "fullkeys-cpu-cluster", "type": "amlcompute"}),
        ("compute", {"name": "my-instance", "type": "computeinstance"}),
        ("data", {"name": "iris_v2-2024", "path": "x.csv"}),
    ],
)
def test_names_azure_takes_pass(kind: str, spec: dict[str, Any]) -> None:
    assert problems(kind, spec) == []


def test_a_deployment_s_endpoint_name_follows_the_endpoint_rule() -> None:
    spec = {**DEPLOYMENT, "endpoint_name": "churn_endpoint"}
    [(where, message)] = problems("online_deployment", spec)
    assert where == "endpoint_name" and "no '_'" in message


# -- the check as discovery runs it -----------------------------------------------------------------------
def test_problems_become_diagnostics_at_the_key_s_line_and_are_remembered(tmp_path: Path) -> None:
    from mlplan.core.errors import Diagnostic
    from mlplan.engine.address import Address
    from mlplan.engine.config import ResourceSpec
    from mlplan.engine.yamlio import Lines

    text = "$schema: x\ncommand: python train.py\nenvironment: azureml:env:1\nresources:\n  instance_cont: 2\n"
    (tmp_path / "job.yml").write_text(text)
    res = ResourceSpec(
        Address("job", "train"),
        yaml.safe_load(text),
        "job.yml",
        1,
        tmp_path,
        lines=Lines(tmp_path / "job.yml", "job.yml"),
    )
    out: list[Diagnostic] = []
    speccheck.check(res, out)
    [diag] = out
    assert (diag.file, diag.line, diag.address) == ("job.yml", 5, "job.train")
    assert diag.hint and "instance_count" in diag.hint
    assert res.already_flagged(("resources", "instance_cont"))
    assert res.already_flagged(("resources",))
    assert not res.already_flagged(("command",))


def test_a_key_that_is_not_a_string_is_an_unknown_key_too() -> None:
    assert problems("compute", compute(**{"1": "x"}) | {2: "y"}) == [
        ("1", "1: unknown key"),
        ("2", "2: unknown key"),
    ]


def test_the_kind_a_type_names_comes_from_the_generated_index() -> None:
    assert speccheck.kinds_for_type("command") == ["job"]
    assert speccheck.kinds_for_type("AmlCompute") == ["compute"]  # any case, as azure-ai-ml lowers it
    assert speccheck.kinds_for_type("uri_file") == ["data"]
    assert speccheck.kinds_for_type("kubernetes") == ["compute", "online_deployment"]
    assert speccheck.kinds_for_type("pytorch") == []
