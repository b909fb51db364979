"""``${var.x}`` / ``${env:NAME}`` interpolation and variable precedence."""

from __future__ import annotations

from typing import Any

import pytest

from mlplan.core.errors import ValidationFailed
from mlplan.engine.address import Address
from mlplan.engine.interpolate import Interpolator
from tests.unit.fakes import Harness, compute


def _interp(value: Any, variables: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Any:
    errors: list[str] = []
    out = Interpolator(variables or {}, environ or {}).value(value, lambda msg, _path: errors.append(msg))
    assert errors == [], errors
    return out


def test_whole_value_keeps_its_type() -> None:
    variables = {"n": 3, "on": True, "xs": [1, 2], "m": {"a": 1}}
    assert _interp("${var.n}", variables) == 3
    assert _interp("${ var.n }", variables) == 3
    assert _interp("${var.on}", variables) is True
    assert _interp("${var.xs}", variables) == [1, 2]
    assert _interp("${var.m}", variables) == {"a": 1}


def test_embedded_value_becomes_a_string() -> None:
    variables = {"n": 3, "on": True, "name": "cpu"}
    assert _interp("n-${var.n}", variables) == "n-3"
    assert _interp("${var.name}-${var.n}", variables) == "cpu-3"
    assert _interp("flag=${var.on}", variables) == "flag=true"


def test_double_dollar_escapes() -> None:
    assert _interp("$${var.x}", {"x": 1}) == "${var.x}"
    assert _interp("a $${env:HOME} b", {}) == "a ${env:HOME} b"


def test_azure_ml_bindings_are_untouched() -> None:
    text = "python train.py --data ${{inputs.training_data}} --out ${{outputs.model}}"
    assert _interp(text, {"inputs": "nope"}) == text
    assert _interp({"command": text}) == {"command": text}


def test_env_reference() -> None:
    assert _interp("${env:REGION}", environ={"REGION": "westeurope"}) == "westeurope"
    assert _interp("at-${env:REGION}", environ={"REGION": "westeurope"}) == "at-westeurope"


def test_nested_structures_are_interpolated() -> None:
    value = {"a": ["${var.n}", {"b": "x-${var.n}"}], "c": 5}
    assert _interp(value, {"n": 2}) == {"a": [2, {"b": "x-2"}], "c": 5}


def test_unknown_names_are_reported_with_their_path() -> None:
    errors: list[tuple[str, tuple[str, ...]]] = []
    Interpolator({}, {}).value({"a": {"b": "${var.nope}"}, "c": ["${env:NOPE}"]}, lambda m, p: errors.append((m, p)))
    assert ("unknown variable 'nope'", ("a", "b")) in errors
    assert any("NOPE" in m and p == ("c", "0") for m, p in errors)


# -- through the loader ------------------------------------------------------------------------------

PRECEDENCE = """
project: demo
resources: ["res/*.yml"]
variables:
  slots: {default: 1, type: number}
  region: {default: from-default}
environments:
  dev:
    provider: local
    variables:
      slots: 2
      region: ${env:REGION}
"""


def _spec(h: Harness, **kw: Any) -> dict[str, Any]:
    config, _graph = h.load(**kw)
    return config.resources[Address("compute", "cpu")].spec


def test_loader_keeps_number_type_and_embeds_strings(h: Harness) -> None:
    h.write(
        {"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}", location="${var.region}-x")}
    )
    spec = _spec(h, environ={"REGION": "r"})
    assert spec["max_instances"] == 1 and isinstance(spec["max_instances"], int)
    assert spec["location"] == "from-default-x"


def test_variable_precedence_cli_over_environment_over_default(h: Harness) -> None:
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}", location="${var.region}")})
    assert _spec(h, environ={"REGION": "northeurope"})["max_instances"] == 1  # default (local environment)
    dev = _spec(h, env="dev", environ={"REGION": "northeurope"})
    assert dev["max_instances"] == 2  # environment block
    assert dev["location"] == "northeurope"  # ${env:} inside the environment block
    cli = _spec(h, env="dev", cli_vars={"slots": "5", "region": "cli"}, environ={"REGION": "northeurope"})
    assert cli["max_instances"] == 5 and isinstance(cli["max_instances"], int)  # --var wins, typed
    assert cli["location"] == "cli"


def test_env_references_of_an_unselected_environment_need_not_be_set(h: Harness) -> None:
    """Planning `local` must not require the variables only `dev` (e.g. its subscription) reads."""
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}")})
    assert _spec(h, environ={})["max_instances"] == 1


def test_mlplan_env_selects_the_environment(h: Harness) -> None:
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}")})
    assert _spec(h, environ={"MLPLAN_ENV": "dev", "REGION": "r"})["max_instances"] == 2


def test_undeclared_cli_variable_is_an_error(h: Harness) -> None:
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute()})
    with pytest.raises(ValidationFailed) as exc:
        h.load(cli_vars={"slotz": "3"})
    assert any("slotz" in d.message for d in exc.value.diagnostics)


def test_unknown_variable_in_a_resource_names_file_and_line(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances="${var.nope}")})
    with pytest.raises(ValidationFailed) as exc:
        h.load()
    [diag] = exc.value.diagnostics
    assert "nope" in diag.message
    assert diag.file == "res/cpu.yml" and diag.line is not None and diag.line > 1
