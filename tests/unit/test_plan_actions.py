"""Plan actions per resource: create, no_op, update vs replace, versioned assets."""

from __future__ import annotations

import pytest

from mlplan.core.errors import MlplanError, PlanError
from mlplan.engine.plan import Action
from tests.unit.fakes import Harness, actions, by_address, compute, data, deployment, endpoint, environment, job, model


def _full_project(h: Harness) -> None:
    h.write(
        {
            "res/cpu.yml": compute(),
            "res/env.yml": environment(),
            "res/iris.yml": data(),
            "res/clf.yml": model(),
            "res/web.yml": endpoint(),
            "res/blue.yml": deployment(environment="azureml:env@latest", model="azureml:clf@latest"),
            "res/train.yml": job(
                environment="azureml:env@latest",
                compute="azureml:cpu",
                inputs={"d": {"type": "uri_file", "path": "azureml:iris@latest"}},
            ),
        }
    )


ALL = {
    "compute.cpu",
    "environment.env",
    "data.iris",
    "model.clf",
    "online_endpoint.web",
    "online_deployment.web/blue",
    "job.train",
}


def test_new_resources_are_created_with_a_reason(h: Harness) -> None:
    _full_project(h)
    plan = h.plan()
    # a job is a run whatever the provider (core.kinds): it trains, the rest is created
    assert actions(plan) == {a: Action.TRAIN if a == "job.train" else Action.CREATE for a in ALL}
    assert all(c.reason for c in plan.changes)
    assert plan.has_changes


def test_replan_right_after_apply_is_all_no_op(h: Harness) -> None:
    _full_project(h)
    h.apply_ok()
    plan = h.plan()
    assert actions(plan) == dict.fromkeys(ALL, Action.NO_OP)
    assert not plan.has_changes
    assert all(c.reason for c in plan.changes), "no-ops carry a reason too"


def test_mutable_field_change_is_update_with_field_and_reason(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=1)})
    h.apply_ok()
    h.write({"res/cpu.yml": compute(max_instances=2)})
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.UPDATE
    assert [c.path for c in change.changes] == ["max_instances"]
    assert (change.changes[0].before, change.changes[0].after) == (1, 2)
    assert "max_instances changed: 1 -> 2" in change.reason
    assert change.before is not None and change.after is not None
    assert change.before["max_instances"] == 1 and change.after["max_instances"] == 2


def test_immutable_field_change_is_replace_naming_the_field(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(size="small", max_instances=1)})
    h.apply_ok()
    h.write({"res/cpu.yml": compute(size="large", max_instances=2)})
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.REPLACE
    assert sorted(c.path for c in change.changes) == ["max_instances", "size"]
    assert "size" in change.reason
    assert "small -> large" in change.reason
    assert change.replace_order == "delete_first"


def test_replace_applies_as_delete_then_create(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(size="small")})
    h.apply_ok()
    old_id = h.state().resources["compute.cpu"].id
    h.write({"res/cpu.yml": compute(size="large")})
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.name) for c in h.provider.ops()] == [("delete", "cpu"), ("create", "cpu")]
    new = h.state().resources["compute.cpu"]
    assert new.id != old_id and new.attributes["size"] == "large"


# -- versioned assets --------------------------------------------------------------------------


def test_content_change_without_version_is_new_version(h: Harness) -> None:
    h.write({"res/env.yml": environment()})
    h.apply_ok()
    assert h.state().resources["environment.env"].version == "1"
    h.write({"files/conda.yml": "name: env\ndependencies: [python=3.12]\n"})
    change = by_address(h.plan())["environment.env"]
    assert change.action is Action.NEW_VERSION
    assert "conda_file" in change.reason and "conda.yml" in change.reason
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.kind, c.version) for c in h.provider.ops()] == [("create", "environment", "2")]
    assert h.state().resources["environment.env"].version == "2"
    # the old version is still there: asset versions are immutable
    assert [s.version for s in h.provider.live("environment", "env")] == ["1", "2"]


def test_explicit_unchanged_version_with_changed_content_must_be_bumped(h: Harness) -> None:
    h.write({"res/env.yml": environment(version="1")})
    h.apply_ok()
    h.write({"files/conda.yml": "name: env\ndependencies: [python=3.12]\n"})
    with pytest.raises(PlanError) as exc:
        h.plan()
    text = str(exc.value)
    assert "environment.env" in text
    assert "bump" in text and "version" in text
    assert "res/env.yml" in text, "the diagnostic says where"


def test_explicit_bumped_version_is_new_version_with_reason(h: Harness) -> None:
    h.write({"res/env.yml": environment(version="1")})
    h.apply_ok()
    h.write({"res/env.yml": environment(version="2"), "files/conda.yml": "name: env\ndependencies: [python=3.12]\n"})
    change = by_address(h.plan())["environment.env"]
    assert change.action is Action.NEW_VERSION
    assert "version 1 -> 2" in change.reason
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.version) for c in h.provider.ops()] == [("create", "2")]


@pytest.mark.parametrize("field,value", [("description", "better words"), ("tags", {"team": "ml"})])
def test_description_or_tags_change_on_asset_is_update(h: Harness, field: str, value: object) -> None:
    h.write({"res/clf.yml": model(description="first")})
    h.apply_ok()
    h.write({"res/clf.yml": model(**{"description": "first", field: value})})
    change = by_address(h.plan())["model.clf"]
    assert change.action is Action.UPDATE
    assert {c.path.split(".")[0] for c in change.changes} == {field}
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.version) for c in h.provider.ops()] == [("update", "1")]
    assert h.state().resources["model.clf"].version == "1"
    assert h.plan().changes[0].action is Action.NO_OP


def test_unsupported_kind_is_reported(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.provider._types.pop("compute")
    with pytest.raises(MlplanError, match="compute is not supported by the fake provider"):
        h.plan()
