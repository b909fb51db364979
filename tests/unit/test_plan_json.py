"""Plan, ResourceChange and Action survive a JSON round trip unchanged."""

from __future__ import annotations

import json

import pytest

from mlplan.engine.address import Address
from mlplan.engine.plan import UNKNOWN, Action, FieldChange, Plan, ResourceChange
from tests.unit.fakes import Harness, compute, deployment, endpoint, environment, job


def _roundtrip(plan: Plan) -> None:
    assert Plan.from_json(plan.to_json()) == plan
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    assert Plan.from_json(json.loads(plan.dumps())) == plan


def test_real_plan_round_trips(h: Harness) -> None:
    h.write(
        {
            "res/cpu.yml": compute(),
            "res/gone.yml": compute("gone"),
            "res/big.yml": compute("big"),
            "res/env.yml": environment(),
            "res/web.yml": endpoint(),
            "res/blue.yml": deployment(environment="azureml:env@latest"),
        }
    )
    h.apply_ok()
    h.provider.preload("compute", "shared")
    h.remove("res/gone.yml")
    h.write(
        {
            "res/cpu.yml": compute(max_instances=3),
            "res/big.yml": compute("big", size="large"),
            "files/conda.yml": "name: env\ndependencies: [python=3.12]\n",
            "res/red.yml": deployment("red", environment="azureml:env:1"),
            "res/nightly.yml": job("nightly", compute="azureml:shared"),
        }
    )
    plan = h.plan()
    seen = {c.action for c in plan.changes}
    assert {Action.UPDATE, Action.REPLACE, Action.NEW_VERSION, Action.DELETE, Action.CREATE, Action.READ} <= seen
    assert any(c.after and UNKNOWN in c.after.values() for c in plan.changes)
    _roundtrip(plan)


@pytest.mark.parametrize("action", list(Action))
def test_every_action_round_trips(action: Action) -> None:
    change = ResourceChange(
        Address("online_deployment", "web/blue"),
        action,
        "because",
        before={"a": 1, "nested": {"x": [1, 2]}},
        after={"a": 2, "nested": {"x": [1, 3]}, "secret": "(sensitive)"},
        changes=(FieldChange("a", 1, 2), FieldChange("nested.x.1", 2, 3)),
        input_hash="abc",
        depends_on=(Address("online_endpoint", "web"), Address("environment", "env")),
        replace_order="create_first",
        adopt_id="online_deployment/web/blue#1",
    )
    assert ResourceChange.from_json(change.to_json()) == change
    assert ResourceChange.from_json(json.loads(json.dumps(change.to_json()))) == change
    assert Action(json.loads(json.dumps(action.value))) is action
    plan = Plan(
        project="demo",
        environment="dev",
        lineage="lin",
        serial=7,
        changes=(change,),
        created_at="2026-01-01T00:00:00+00:00",
        variables_hash="vh",
        mode="destroy",
        diagnostics=("warning: x",),
        outputs={"url": {"value": "http://x", "sensitive": False}},
    )
    _roundtrip(plan)


def test_plan_from_an_other_format_is_refused() -> None:
    data = Plan("p", "e", "l", 0, (), "now").to_json()
    data["format_version"] = 99
    with pytest.raises(ValueError, match="format"):
        Plan.from_json(data)
