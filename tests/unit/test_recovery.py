"""Interrupted operations, adoption by ownership tags, and changes made outside mlplan."""

from __future__ import annotations

import pytest

from mlplan.core.errors import PlanError, ProviderError
from mlplan.engine.plan import Action
from mlplan.engine.planner import PlanOptions
from mlplan.providers.base import TAG_ADDRESS, TAG_OPERATION, TAG_PROJECT
from tests.unit.fakes import Harness, actions, by_address, compute, environment


@pytest.mark.parametrize(
    "kind,name,files",
    [("environment", "env", {"res/env.yml": environment()}), ("compute", "cpu", {"res/cpu.yml": compute()})],
)
def test_interrupted_create_is_adopted_not_duplicated(h: Harness, kind: str, name: str, files: dict[str, str]) -> None:
    h.write(files)
    h.provider.lose_response.add(("create", name))
    result = h.apply()
    assert not result.ok
    state = h.state()
    assert len(state.pending) == 1, "the begin record without an end is the trace of the crash"
    [created] = h.provider.live(kind, name)
    assert created.tags[TAG_OPERATION] == next(iter(state.pending))
    assert created.tags[TAG_PROJECT] == "demo" and created.tags[TAG_ADDRESS] == f"{kind}.{name}"

    h.provider.lose_response.clear()
    before = h.state()
    plan = h.plan()
    assert actions(plan) == {f"{kind}.{name}": Action.NO_OP}, "planned against the state apply will settle"
    [step] = plan.reconcile
    assert (step.outcome, step.found_id, str(step.address)) == ("adopt", created.id, f"{kind}.{name}")
    assert h.state() == before, "plan writes nothing: the operation is still pending"
    h.provider.reset()
    h.apply_ok(plan)
    state = h.state()
    assert not state.pending
    assert state.resources[f"{kind}.{name}"].id == created.id
    assert h.provider.ops() == []
    assert len(h.provider.live(kind, name)) == 1


def test_interrupted_new_version_is_adopted_not_made_twice(h: Harness) -> None:
    h.write({"res/env.yml": environment()})
    h.apply_ok()
    h.write({"files/conda.yml": "name: env\ndependencies: [python=3.12]\n"})
    h.provider.lose_response.add(("create", "env"))
    assert not h.apply().ok
    h.provider.lose_response.clear()
    plan = h.plan()
    assert [(s.outcome, s.found_id) for s in plan.reconcile] == [("adopt", "environment/env/versions/2")]
    assert actions(plan) == {"environment.env": Action.NO_OP}, "planned against what the operation made"
    h.apply_ok(plan)
    assert [s.version for s in h.provider.live("environment", "env")] == ["1", "2"]
    assert h.state().resources["environment.env"].version == "2"


def test_interrupted_create_that_did_nothing_is_retried(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.provider.fail_on("create", "cpu")
    assert not h.apply().ok
    assert h.state().pending
    h.provider.fail.clear()
    plan = h.plan()
    assert actions(plan) == {"compute.cpu": Action.CREATE}
    assert [s.outcome for s in plan.reconcile] == ["retry"]
    assert h.state().pending, "plan writes nothing"
    h.apply_ok(plan)
    assert not h.state().pending
    assert len(h.provider.live("compute", "cpu")) == 1


def test_owned_resource_missing_from_state_is_adopted(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.apply_ok()
    h.backend.path.unlink()  # state lost; the workspace still has the compute with our tags
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.ADOPT and change.adopt
    h.provider.reset()
    h.apply_ok()
    assert h.provider.ops() == []
    assert "compute.cpu" in h.state().resources
    assert actions(h.plan()) == {"compute.cpu": Action.NO_OP}


def test_same_name_owned_by_someone_else_fails_the_plan(h: Harness) -> None:
    h.provider.preload("compute", "cpu", {"type": "amlcompute", "size": "small", "max_instances": 1})
    h.write({"res/cpu.yml": compute()})
    with pytest.raises(PlanError) as exc:
        h.plan()
    assert "not managed by this project" in str(exc.value)
    assert "mlplan import compute.cpu" in str(exc.value)


def test_change_outside_mlplan_is_reverted_by_an_update(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=2)})
    h.apply_ok()
    [stored] = h.provider.live("compute", "cpu")
    stored.attributes["max_instances"] = 7
    drift = h.plan(PlanOptions(refresh_only=True))
    assert drift.mode == "refresh-only"
    assert by_address(drift)["compute.cpu"].action is Action.UPDATE
    assert "max_instances changed: 2 -> 7" in by_address(drift)["compute.cpu"].reason
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.UPDATE
    assert "max_instances changed: 7 -> 2" in change.reason


def test_deleted_outside_mlplan_is_created_again(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.apply_ok()
    h.provider.store.clear()
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.CREATE
    assert "outside mlplan" in change.reason


def test_no_refresh_plans_from_state_alone(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.apply_ok()
    h.provider.reset()
    assert actions(h.plan(PlanOptions(refresh=False))) == {"compute.cpu": Action.NO_OP}
    assert h.provider.ops("read", "lookup") == []


def test_kinds_with_a_list_api_are_refreshed_in_batches(h: Harness) -> None:
    h.write({f"res/c{i}.yml": compute(f"cpu{i}") for i in range(7)})
    h.apply_ok()
    h.provider.type("compute").read_batch = 3
    [gone] = h.provider.live("compute", "cpu4")
    del h.provider.store[gone.id]
    h.provider.reset()
    plan = actions(h.plan())
    assert plan == {f"compute.cpu{i}": Action.CREATE if i == 4 else Action.NO_OP for i in range(7)}
    batches = [c.name.split(",") for c in h.provider.ops("read_many")]
    assert sorted(len(b) for b in batches) == [1, 3, 3], "7 ids in calls of at most 3"
    assert not h.provider.ops("read"), "no single reads for a batched kind"


def test_a_batch_read_with_a_result_missing_fails_naming_the_provider(h: Harness) -> None:
    h.write({"res/a.yml": compute("cpu-a"), "res/b.yml": compute("cpu-b")})
    h.apply_ok()
    fake = h.provider.type("compute")
    fake.read_batch = 10
    fake.read_many = lambda ctx, idents: []  # type: ignore[method-assign]
    with pytest.raises(ProviderError, match=r"read_many returned 0 result\(s\) for 2 id\(s\)"):
        h.plan()
