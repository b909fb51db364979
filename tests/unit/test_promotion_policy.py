"""Promotion policies in mlplan.yaml: what the schema checks (unknown keys with the closest one, enums with the
closest value, required keys) and what the loader checks (the model and the endpoint are the project's,
exact_threshold only with method: auto, the scoring adapter's file), each at the line of the offending key."""

from __future__ import annotations

import pytest

from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.engine.promotion import Policy
from tests.unit.fakes import PROJECT, Harness, deployment, endpoint, model

RESOURCES = {
    "res/model.yml": model("clf"),
    "res/web.yml": endpoint("web"),
    "res/api.yml": endpoint("api-web"),
    "res/blue.yml": deployment(model="azureml:clf@latest"),  # what the policy governs: web's deployment of clf
}
# PROJECT is two lines: the policy's own lines start at 3 (promotion:), 4 (clf:), 5 (its first key).
POLICY = """
promotion:
  clf:
    evaluation_data: "azureml:iris@latest"
    label_column: y
    endpoint: web
"""


def problems(h: Harness, policy: str, files: dict[str, str] | None = None) -> list[Diagnostic]:
    h.write({**RESOURCES, **(files or {}), "mlplan.yaml": PROJECT + policy.lstrip("\n")})
    with pytest.raises(ValidationFailed) as exc:
        h.load()
    return exc.value.diagnostics


def one(h: Harness, policy: str, files: dict[str, str] | None = None) -> Diagnostic:
    [found] = problems(h, policy, files)
    assert found.file == "mlplan.yaml" and "hint" not in found.message
    assert found.hint, found
    return found


def test_a_full_policy_loads_and_gives_its_policy(h: Harness) -> None:
    full = POLICY + (
        "    alpha: 0.01\n    method: auto\n    alternative: two-sided\n    min_accuracy_gain: 0.02\n"
        "    min_accuracy: 0.8\n    exact_threshold: 30\n    batch_size: 64\n"
        "    scoring: {adapter: 'scoring/shape.py:adapter'}\n"
    )
    h.write({**RESOURCES, "scoring/shape.py": "def adapter(): ...\n", "mlplan.yaml": PROJECT + full.lstrip("\n")})
    config, _ = h.load()
    assert Policy.from_config(config.promotion["clf"]) == Policy(0.01, "auto", "two-sided", 0.02, 0.8, 30)
    assert config.promotion["clf"]["batch_size"] == 64


@pytest.mark.parametrize("scoring", ["default", "mlflow"])
def test_the_named_request_shapes(h: Harness, scoring: str) -> None:
    h.write({**RESOURCES, "mlplan.yaml": PROJECT + POLICY.lstrip("\n") + f"    scoring: {scoring}\n"})
    config, _ = h.load()
    assert config.promotion["clf"]["scoring"] == scoring


@pytest.mark.parametrize(
    ("extra", "line", "says"),
    [
        ("    aplha: 0.01\n", 8, "promotion.clf.aplha: unknown key; did you mean 'alpha'?"),
        ("    method: mdip\n", 8, "promotion.clf.method: 'mdip' is not one of midp, exact, chi2, chi2-uncorrected,"
         " auto; did you mean 'midp'?"),
        ("    alternative: greatr\n", 8, "promotion.clf.alternative: 'greatr' is not one of greater, two-sided; did"
         " you mean 'greater'?"),
        ("    scoring: mlfow\n", 8, "promotion.clf.scoring: 'mlfow' is not one of default, mlflow; did you mean"
         " 'mlflow'?"),
        ("    scoring: {adaptor: 'a.py:f'}\n", 8, "promotion.clf.scoring.adaptor: unknown key; did you mean"
         " 'adapter'?"),
        ("    scoring: {adapter: 'a.py'}\n", 8, "promotion.clf.scoring.adapter: 'a.py' is not of the form this"
         " setting takes"),
        ("    alpha: 1\n", 8, "promotion.clf.alpha: 1 is greater than or equal to the maximum of 1"),
        ("    min_accuracy: 95\n", 8, "promotion.clf.min_accuracy: 95 is greater than the maximum of 1"),
        ("    batch_size: 0\n", 8, "promotion.clf.batch_size: 0 is less than the minimum of 1"),
        ("    method: auto\n    exact_threshold: 0\n", 9, "promotion.clf.exact_threshold: 0 is less than the minimum"
         " of 1"),
    ],
    ids=["misspelt-key", "method", "alternative", "scoring", "adapter-key", "adapter-form", "alpha", "min-accuracy",
         "batch-size", "exact-threshold"],
)  # fmt: skip
def test_schema_problems_at_their_line_with_did_you_mean(h: Harness, extra: str, line: int, says: str) -> None:
    found = one(h, POLICY + extra)
    assert (found.line, found.message) == (line, says)


def test_a_misspelt_required_key_is_one_problem(h: Harness) -> None:
    found = one(h, POLICY.replace("endpoint: web", "endpont: web"))
    assert (found.line, found.message) == (7, "promotion.clf.endpont: unknown key; did you mean 'endpoint'?")
    assert "endpoint" in found.hint and "label_column" in found.hint  # what the policy takes


def test_required_keys(h: Harness) -> None:
    found = problems(h, "promotion:\n  clf:\n    label_column: y\n")
    assert [(d.line, d.message) for d in found] == [
        (4, "promotion.clf: 'evaluation_data' is a required property"),
        (4, "promotion.clf: 'endpoint' is a required property"),
    ]


def test_the_evaluation_data_form_is_explained(h: Harness) -> None:
    found = one(h, POLICY.replace('"azureml:iris@latest"', "iris"))
    assert (found.line, found.message) == (
        5,
        "promotion.clf.evaluation_data: 'iris' is not of the form this setting takes",
    )
    assert '"azureml:NAME@latest" or "azureml:NAME:VERSION"' in found.hint


def test_the_endpoint_must_be_an_online_endpoint_of_the_project(h: Harness) -> None:
    found = one(h, POLICY.replace("endpoint: web", "endpoint: webb"))
    assert (found.line, found.address) == (7, "model.clf")
    assert (
        found.message == "promotion.clf.endpoint: 'webb' is not an online endpoint of this project; did you mean 'web'?"
    )
    assert "online endpoints here: api-web, web" in found.hint


def test_exact_threshold_without_method_auto_says_how_to_migrate(h: Harness) -> None:
    found = one(h, POLICY + "    exact_threshold: 25\n")
    assert found.line == 8
    assert found.message.startswith(
        "promotion.clf.exact_threshold: exact_threshold only applies to method: auto (exact test below it, chi-square"
        " from it on), but the method is midp (the default): set method: auto to keep that rule"
    )
    h.write({"mlplan.yaml": PROJECT + POLICY.lstrip("\n") + "    method: auto\n    exact_threshold: 25\n"})
    config, _ = h.load()
    assert Policy.from_config(config.promotion["clf"]).exact_threshold == 25


def test_the_scoring_adapter_file_must_exist(h: Harness) -> None:
    found = one(h, POLICY + "    scoring:\n      adapter: scoring/shapes.py:adapter\n")
    assert (found.line, found.message) == (
        9,
        "promotion.clf.scoring.adapter: no file scoring/shapes.py (for the function adapter)",
    )
    assert "relative to mlplan.yaml" in found.hint


def test_every_policy_problem_in_one_run(h: Harness) -> None:
    policy = POLICY.replace("endpoint: web", "endpoint: nowhere") + (
        "    exact_threshold: 10\n  cfl:\n    evaluation_data: azureml:iris:3\n    label_column: y\n    endpoint: web\n"
    )
    found = problems(h, policy)
    assert [(d.line, d.message.split(":")[0]) for d in found] == [
        (7, "promotion.clf.endpoint"),
        (8, "promotion.clf.exact_threshold"),
        (9, "promotion policy for model 'cfl', which this project does not define; did you mean 'clf'?"),
    ]
    assert "online endpoints here: api-web, web" in found[0].hint
