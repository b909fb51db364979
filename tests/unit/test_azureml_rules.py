"""The shipped Azure ML rules (engine/schema/azureml) are what scripts/gen-azureml-rules makes from the installed
azure-ai-ml, and they judge values as azure-ai-ml's own marshmallow fields do."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from mlplan.engine import speccheck

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore")  # azure-ai-ml's own deprecation notices on import


def _shipped() -> dict[str, str]:
    folder = resources.files("mlplan.engine").joinpath("schema/azureml")
    return {p.name: p.read_text() for p in folder.iterdir() if p.name.endswith(".json")}


def test_the_shipped_rules_are_what_the_script_makes_from_the_installed_azure_ai_ml() -> None:
    """In a fresh interpreter, as the script runs: azure-ai-ml's schema classes carry process-wide state that other
    tests' SDK calls change (after a job was submitted in-process, the pipeline job schema no longer lists
    ``$schema`` among its ignored keys), so a generation in this process would depend on the tests before it."""
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "azureml_rules.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "LOOPBACK_AZURE"))},
    )
    assert checked.returncode == 0, f"{checked.stdout}{checked.stderr}: run bash scripts/gen-azureml-rules and commit"
    assert "rule files are up to date" in checked.stdout


def test_every_rule_file_the_dispatch_names_is_shipped_and_compiles() -> None:
    shipped = _shipped()
    index = json.loads(shipped["index.json"])["dispatch"]

    def stems(step: Any) -> list[str]:
        if isinstance(step, str):
            return [step]
        if not isinstance(step, dict):
            return []
        found = [s for key in ("if_set", "else") for s in stems(step.get(key))]
        to = step.get("to")
        return found + ([s for v in to.values() for s in stems(v)] if isinstance(to, dict) else stems(to))

    named = {s for step in index.values() for s in stems(step)}
    assert {f"{s}.json" for s in named} == set(shipped) - {"index.json"}
    for stem in named:
        assert speccheck.rules(stem).root.schema.fields, stem


# -- the checker judges scalars as marshmallow does ----------------------------------------------------------
def _sdk_field(module: str, schema: str, field: str) -> Any:
    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY

    cls = getattr(importlib.import_module(module), schema)
    return cls(context={BASE_PATH_CONTEXT_KEY: "."}).fields[field]


def _sdk_accepts(field: Any, value: Any) -> bool:
    try:
        field.deserialize(value)
    except Exception:  # marshmallow's ValidationError, and azure-ai-ml's own exceptions for some fields
        return False
    return True


def _node(stem: str, *path: str) -> speccheck.Node:
    schema = speccheck.rules(stem).root.schema
    node: speccheck.Node = schema.fields[path[0]]
    for key in path[1:]:
        assert isinstance(node, speccheck.Obj)
        node = node.schema.fields[key]
    return node


def _accepts(node: speccheck.Node, value: Any) -> bool:
    out: speccheck.Out = []
    node.check(value, ("x",), out)
    return not out


S = "azure.ai.ml._schema."
AML = (S + "compute.aml_compute", "AmlComputeSchema")
ENDPOINT = (S + "_endpoint.online.online_endpoint", "ManagedOnlineEndpointSchema")
DEPLOYMENT = (S + "_deployment.online.online_deployment", "ManagedOnlineDeploymentSchema")
DATA = (S + "assets.data", "DataSchema")
# (rule file, field, azure-ai-ml module and schema, values): some accepted, some not
CASES = [
    ("amlcompute", "max_instances", AML, [3, "3", " 3 ", 3.5, "3.5", "many", True, [1]]),
    ("amlcompute", "ssh_public_access_enabled", AML, [True, False, "yes", "No", "on", 1, 0, 2, "maybe", 1.0]),
    ("amlcompute", "tier", AML, ["dedicated", "Dedicated", "LOW_PRIORITY", "lowpriority", 1]),
    ("managedonlineendpoint", "auth_mode", ENDPOINT, ["key", "Key", "AMLToken", "aml_token", "AADToken", "token"]),
    ("data", "type", DATA, ["uri_file", "URI_FILE", "mltable", "file"]),
    ("data", "version", DATA, ["1", 1, 1.5, [1]]),
    ("managedonlinedeployment", "instance_count", DEPLOYMENT, [1, "2", "two", 1.0, False]),
]


@pytest.mark.parametrize(("stem", "field", "sdk_schema", "values"), CASES, ids=[c[1] for c in CASES])
def test_scalar_rules_accept_what_the_sdk_field_accepts(
    stem: str, field: str, sdk_schema: tuple[str, str], values: list[Any]
) -> None:
    sdk = _sdk_field(*sdk_schema, field)
    node = _node(stem, field)
    verdicts = {repr(v): (_accepts(node, v), _sdk_accepts(sdk, v)) for v in values}
    assert {v: ours for v, (ours, _) in verdicts.items()} == {v: sdk for v, (_, sdk) in verdicts.items()}
    assert any(ours for ours, _ in verdicts.values()) and not all(ours for ours, _ in verdicts.values())


def test_identity_types_are_compared_after_azure_ai_ml_turns_camel_case_into_snake_case() -> None:
    node = _node("amlcompute", "identity", "type")
    sdk = _sdk_field("azure.ai.ml._schema.compute.compute", "IdentitySchema", "type")
    for value in ("SystemAssigned", "system_assigned", "UserAssigned", "SystemAssigned,UserAssigned", "Bogus"):
        assert _accepts(node, value) == _sdk_accepts(sdk, value), value


def test_enum_values_are_recased_as_azure_ai_ml_recases_them() -> None:
    from azure.ai.ml._utils import utils

    probes = [
        "UserAssigned",
        "user_assigned",
        "SystemAssigned, UserAssigned",
        "low_priority",
        "ab2c_x",
        "HTTPServer",
        "",
    ]
    for name in ("camel_to_snake", "snake_to_camel", "snake_to_pascal"):
        sdk = getattr(utils, name)
        assert [speccheck.CASINGS[name](p) for p in probes] == [sdk(p) for p in probes], name
