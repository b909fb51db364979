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


def test_variable_precedence_cli_over_mlplan_var_over_environment_over_default(h: Harness) -> None:
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}", location="${var.region}")})
    assert _spec(h, environ={"REGION": "northeurope"})["max_instances"] == 1  # default (local environment)
    dev = _spec(h, env="dev", environ={"REGION": "northeurope"})
    assert dev["max_instances"] == 2  # environment block
    assert dev["location"] == "northeurope"  # ${env:} inside the environment block
    environ = {"REGION": "northeurope", "MLPLAN_VAR_slots": "4", "MLPLAN_VAR_region": "from-env"}
    by_env = _spec(h, env="dev", environ=environ)
    assert by_env["max_instances"] == 4 and isinstance(by_env["max_instances"], int)  # MLPLAN_VAR_, typed
    assert by_env["location"] == "from-env"
    cli = _spec(h, env="dev", cli_vars={"slots": "5", "region": "cli"}, environ=environ)
    assert cli["max_instances"] == 5 and isinstance(cli["max_instances"], int)  # --var wins, typed
    assert cli["location"] == "cli"
    assert _spec(h, environ={"MLPLAN_VAR_undeclared": "x"})["max_instances"] == 1, "ignored, as TF_VAR_ is"


TYPED = """
project: demo
resources: ["res/*.yml"]
variables:
  n: {default: 1, type: number}
  flag: {default: true, type: boolean}
  xs: {default: [a], type: list}
  m: {default: {a: 1}, type: map}
  tag: {default: "3.10", type: string}
  key: {type: string, sensitive: true}
environments:
  dev:
    provider: local
    variables:
      n: "${env:N}"
      tag: 3.10
"""


TYPED_LINES = {"n": 4, "flag": 5, "xs": 6, "m": 7}  # each declaration's line (its `type:`)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("n", "3", 3),
        ("n", "-0.5", -0.5),
        ("n", "1e3", 1000.0),
        ("n", "12345678901234567890", 12345678901234567890),
        ("flag", "false", False),
        ("flag", "TRUE", True),
        ("xs", "[a, b]", ["a", "b"]),
        ("xs", '["a", 1]', ["a", 1]),
        ("m", "{k: v}", {"k": "v"}),
        ("tag", "3.10", "3.10"),
    ],
)
def test_text_values_are_read_as_the_declared_type(h: Harness, name: str, text: str, value: Any) -> None:
    h.write({"mlplan.yaml": TYPED, "res/cpu.yml": compute()})
    for source in ({"cli_vars": {name: text}}, {"environ": {f"MLPLAN_VAR_{name}": text}}):
        config, _graph = h.load(**source)
        assert config.variables[name] == value and type(config.variables[name]) is type(value)


@pytest.mark.parametrize(
    ("name", "text", "expects"),
    [("n", "abc", "a number"), ("flag", "maybe", "a boolean"), ("xs", "a, b", "a list"), ("m", "[1]", "a map")],
)
def test_a_text_value_of_the_wrong_type_names_the_variable_the_type_and_the_source(
    h: Harness, name: str, text: str, expects: str
) -> None:
    h.write({"mlplan.yaml": TYPED, "res/cpu.yml": compute()})
    line = TYPED_LINES[name]
    for source, said in (
        ({"cli_vars": {name: text}}, f"--var sets {text!r}"),
        ({"environ": {f"MLPLAN_VAR_{name}": text}}, f"environment variable MLPLAN_VAR_{name} sets {text!r}"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            h.load(**source)
        [diag] = exc.value.diagnostics
        assert diag.message == f"variable {name!r} expects {expects}, but {said}"
        assert (diag.file, diag.line) == ("mlplan.yaml", line), "where the type is declared"
        assert diag.hint


def test_environment_block_values_keep_their_yaml_type_and_env_text_is_read_as_the_type(h: Harness) -> None:
    h.write({"mlplan.yaml": TYPED, "res/cpu.yml": compute()})
    with pytest.raises(ValidationFailed) as exc:
        h.load(env="dev", environ={"N": "7"})
    [diag] = exc.value.diagnostics  # n from ${env:N} is read as a number; tag: 3.10 is the number 3.1
    assert diag.message == "variable 'tag' expects a string, but the variables: of environment 'dev' set 3.1"
    assert (diag.file, diag.line) == ("mlplan.yaml", 15)
    assert diag.hint is not None and '"3.10"' in diag.hint
    h.write({"mlplan.yaml": TYPED.replace("tag: 3.10", 'tag: "3.10"')})
    config, _graph = h.load(env="dev", environ={"N": "7"})
    assert config.variables["n"] == 7 and config.variables["tag"] == "3.10"


def test_an_unset_environment_variable_in_the_environment_block_is_reported_once(h: Harness) -> None:
    h.write({"mlplan.yaml": TYPED, "res/cpu.yml": compute()})
    with pytest.raises(ValidationFailed) as exc:
        h.load(env="dev", environ={})
    messages = [d.message for d in exc.value.diagnostics]
    assert messages == [
        "environment variable 'N' is not set",
        "variable 'tag' expects a string, but the variables: of environment 'dev' set 3.1",
    ]


def test_a_sensitive_value_of_the_wrong_type_is_not_shown(h: Harness) -> None:
    h.write({"mlplan.yaml": TYPED.replace("key: {type: string", "key: {type: number"), "res/cpu.yml": compute()})
    with pytest.raises(ValidationFailed) as exc:
        h.load(cli_vars={"key": "hunter2"})
    rendered = exc.value.render()
    assert "hunter2" not in rendered
    assert "variable 'key' expects a number, but --var sets a value that is not a number (not shown" in rendered


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x ${var.n", "unterminated variable reference '${var.n'"),
        ("${var.a.b}", "malformed variable reference '${var.a.b}'"),
        ("${env:HOME", "unterminated variable reference '${env:HOME'"),
    ],
)
def test_an_unfinished_reference_is_an_error(text: str, says: str) -> None:
    errors: list[str] = []
    Interpolator({"n": 1}, {"HOME": "/h"}).value({"a": text}, lambda m, _p: errors.append(m))
    assert errors == [says]


def test_shell_braces_are_left_alone() -> None:
    assert _interp("echo ${HOME} ${env:-x} ${HOME:-y}") == "echo ${HOME} ${env:-x} ${HOME:-y}"


def test_an_unknown_variable_suggests_the_closest_declared_one() -> None:
    errors: list[str] = []
    Interpolator({"n_estimators": 3}, {}, frozenset({"n_estimators"})).value(
        "${var.n_estimator}", lambda m, _p: errors.append(m)
    )
    assert errors == ["unknown variable 'n_estimator'; did you mean 'n_estimators'?"]


def test_env_references_of_an_unselected_environment_need_not_be_set(h: Harness) -> None:
    """Planning `local` must not require the variables only `dev` (e.g. its subscription) reads."""
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}")})
    assert _spec(h, environ={})["max_instances"] == 1


def test_mlplan_env_selects_the_environment(h: Harness) -> None:
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute(max_instances="${var.slots}")})
    assert _spec(h, environ={"MLPLAN_ENV": "dev", "REGION": "r"})["max_instances"] == 2


def test_undeclared_cli_variable_is_an_error_pointing_at_the_variables_block(h: Harness) -> None:
    h.write({"mlplan.yaml": PRECEDENCE, "res/cpu.yml": compute()})
    with pytest.raises(ValidationFailed) as exc:
        h.load(cli_vars={"slotz": "3"})
    [diag] = exc.value.diagnostics
    assert diag.message == "--var slotz=... sets a variable that is not declared; did you mean 'slots'?"
    assert (diag.file, diag.line) == ("mlplan.yaml", 3)


def test_unknown_variable_in_a_resource_names_file_and_line(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances="${var.nope}")})
    with pytest.raises(ValidationFailed) as exc:
        h.load()
    [diag] = exc.value.diagnostics
    assert "nope" in diag.message
    assert diag.file == "res/cpu.yml" and diag.line is not None and diag.line > 1
