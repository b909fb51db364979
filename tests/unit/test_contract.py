"""The plan is the contract: apply carries out exactly the planned changes with the planned values, fills
values known after apply from the dependencies' results, checks every result against the plan, and a
saved plan that no longer holds is refused. Planning writes nothing."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from mlplan.core.errors import StalePlanError
from mlplan.engine.address import Address
from mlplan.engine.apply import ApplyOptions
from mlplan.engine.events import Event, Note
from mlplan.engine.freshness import check_fresh
from mlplan.engine.plan import UNKNOWN, Action, Binding
from mlplan.engine.planner import PlanOptions
from mlplan.engine.workflow import apply_plan
from tests.unit.fakes import Harness, actions, by_address, compute, data, deployment, endpoint, job, model


def _spec_of(h: Harness, op: str, name: str) -> dict[str, object]:
    [call] = [c for c in h.provider.ops(op) if c.name == name]
    assert call.spec is not None
    return call.spec


def test_apply_uses_the_planned_values_not_the_configuration_of_the_moment(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=2)})
    plan = h.plan()
    h.write({"res/cpu.yml": compute(max_instances=5)})  # changed after review, not planned
    h.apply_ok(plan)
    assert _spec_of(h, "create", "cpu")["max_instances"] == 2
    assert h.state().resources["compute.cpu"].attributes["max_instances"] == 2


def test_a_data_source_is_pinned_by_the_plan_and_apply_uses_the_pinned_version(h: Harness) -> None:
    h.provider.preload("data", "shared", {"type": "uri_file"}, version="1")
    h.write({"res/train.yml": job(inputs={"d": {"type": "uri_file", "path": "azureml:shared@latest"}})})
    plan = h.plan()
    read = by_address(plan)["data.shared@latest"]
    assert read.action is Action.READ and read.pin is not None and read.pin.version == "1"
    train = by_address(plan)["job.train"]
    assert train.desired is not None and train.desired.spec["inputs"]["d"]["path"] == "azureml:shared:1"
    h.provider.preload("data", "shared", {"type": "uri_file", "description": "newer"}, version="2")
    h.apply_ok(plan)
    assert _spec_of(h, "create", "train")["inputs"] == {"d": {"type": "uri_file", "path": "azureml:shared:1"}}


def test_a_saved_plan_stays_fresh_while_its_pinned_version_exists_and_notes_the_newer_one(h: Harness) -> None:
    h.provider.preload("data", "shared", {"type": "uri_file"}, version="1")
    h.write({"res/train.yml": job(inputs={"d": {"type": "uri_file", "path": "azureml:shared@latest"}})})
    saved = h.plan()
    h.provider.preload("data", "shared", {"type": "uri_file"}, version="2")
    notes: list[Event] = []
    check_fresh(saved, h.session(), h.state(), notes.append)
    assert [n.message for n in notes if isinstance(n, Note)] == [
        "data.shared@latest now resolves to version 2; this plan uses 1, as reviewed"
    ]


@pytest.mark.parametrize("how,said", [("archive", "was archived"), ("delete", "no longer exists")])
def test_a_saved_plan_whose_pinned_version_went_away_is_stale(h: Harness, how: str, said: str) -> None:
    v1 = h.provider.preload("data", "shared", {"type": "uri_file"}, version="1")
    h.write({"res/train.yml": job(inputs={"d": {"type": "uri_file", "path": "azureml:shared@latest"}})})
    saved = h.plan()
    if how == "archive":
        h.provider.store[v1.id].archived = True
    else:
        del h.provider.store[v1.id]
    with pytest.raises(StalePlanError) as exc:
        check_fresh(saved, h.session(), h.state())
    assert f"data source data.shared@latest version 1 ({v1.id}) {said}" in str(exc.value)


def test_a_saved_plan_whose_pinned_source_changed_is_stale(h: Harness) -> None:
    v1 = h.provider.preload("compute", "gpu", {"size": "big"})
    h.write({"res/train.yml": job(compute="azureml:gpu")})
    saved = h.plan()
    h.provider.store[v1.id].attributes["size"] = "small"
    with pytest.raises(StalePlanError, match=r"data source compute.gpu .* changed"):
        check_fresh(saved, h.session(), h.state())


def test_values_known_after_apply_are_filled_from_the_dependency_and_checked(h: Harness) -> None:
    h.write({"res/clf.yml": model(), "res/web.yml": endpoint(), "res/blue.yml": deployment(model="azureml:clf@latest")})
    h.apply_ok()
    assert _spec_of(h, "create", "web/blue")["model"] == "azureml:clf:1", "resolved at plan time: clf exists"
    (h.root / "files/model/weights.txt").write_text("w2\n")
    plan = h.plan()
    blue = by_address(plan)["online_deployment.web/blue"]
    assert blue.action is Action.UPDATE
    assert blue.after is not None and blue.after["model"] == UNKNOWN
    assert blue.bindings == (Binding(("spec", "model"), Address("model", "clf"), "azureml:clf:{version}"),)
    assert blue.input_hash == "", "known once clf's new version is"
    h.provider.reset()
    h.apply_ok(plan)
    assert _spec_of(h, "update", "web/blue")["model"] == "azureml:clf:2"
    rs = h.state().resources["online_deployment.web/blue"]
    assert rs.attributes["model"] == "azureml:clf:2" and rs.input_hash
    assert set(actions(h.plan()).values()) == {Action.NO_OP}, "the next plan is clean"


def test_apply_refuses_to_do_what_the_plan_did_not_show(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=2)})
    plan = h.plan()
    [change] = plan.changes
    assert change.after is not None
    shown = dataclasses.replace(change, after={**change.after, "max_instances": 3})  # the reviewed value
    result = h.apply(dataclasses.replace(plan, changes=(shown,)))
    assert "apply would do what the plan did not show (max_instances)" in result.failed["compute.cpu"]
    assert "compute.cpu" not in h.state().resources


def test_a_field_left_to_the_service_accepts_its_value_and_an_explicit_one_is_still_compared(h: Harness) -> None:
    cpu = h.provider.type("compute")
    cpu.computed_fields = frozenset({"location"})
    h.provider.tamper["cpu"] = {"location": "westeurope"}  # the service puts it in the workspace's region
    h.write({"res/cpu.yml": compute(max_instances=2)})
    h.apply_ok()
    assert h.state().resources["compute.cpu"].attributes["location"] == "westeurope"
    assert set(actions(h.plan()).values()) == {Action.NO_OP}  # not "location: westeurope -> null"

    h.write({"res/cpu.yml": compute(max_instances=2, location="eastus")})  # written: compared, immutable
    assert actions(h.plan())["compute.cpu"] is Action.REPLACE
    cpu.computed_fields = frozenset()
    h.write({"res/cpu.yml": compute(max_instances=2)})
    assert actions(h.plan())["compute.cpu"] is not Action.NO_OP  # without the flag the service's value is drift


def test_a_plan_writes_nothing_and_shows_what_apply_will_settle(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(), "res/iris.yml": data()})
    h.provider.lose_response.add(("create", "cpu"))
    assert not h.apply().ok
    files = {p: p.read_bytes() for p in h.backend.path.parent.iterdir() if not p.name.endswith(".lock")}
    h.provider.reset()
    plan = h.plan()
    assert [(str(r.address), r.outcome) for r in plan.reconcile] == [("compute.cpu", "adopt")]
    assert plan.has_changes, "settling an interrupted operation is something apply does"
    assert {p: p.read_bytes() for p in files} == files, "state files untouched"
    assert h.provider.ops("create", "update", "delete", "archive", "discard") == []
    h.apply_ok(plan)
    assert [c.op for c in h.provider.ops("discard")] == ["discard"], "apply removes what the operation left"


def test_an_interrupted_long_running_create_is_resumed_by_its_token(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.provider.long_running.add("cpu")
    h.provider.lose_response.add(("create", "cpu"))
    assert not h.apply().ok
    [op] = h.state().pending.values()
    [made] = h.provider.live("compute", "cpu")
    assert op.token == {"id": made.id}, "the provider journalled the operation's token"
    h.provider.lose_response.clear()
    h.provider.reset()
    with pytest.raises(StalePlanError, match="still running in the workspace"):
        h.plan()  # a plan never waits, and never guesses
    h.provider.finished.add(made.id)
    plan = h.plan()
    assert [(r.outcome, r.found_id) for r in plan.reconcile] == [("adopt", made.id)]
    assert actions(plan) == {"compute.cpu": Action.NO_OP}
    h.apply_ok(plan)
    assert h.state().resources["compute.cpu"].id == made.id and not h.state().pending
    assert not h.provider.ops("find_owned"), "resumed by its token, not searched for by tags"
    assert h.provider.ops("create") == []


def test_a_run_whose_apply_died_is_followed_and_recorded_with_its_inputs_not_trained_again(h: Harness) -> None:
    h.write({"res/train.yml": job(inputs={"lr": 0.1})})
    h.provider.long_running.add("train")
    h.provider.lose_response.add(("create", "train"))
    assert not h.apply().ok  # the run was submitted and its token journalled; then apply died
    h.provider.lose_response.clear()
    h.provider.reset()
    h.apply_ok(plan_options=PlanOptions(wait_for_pending=True))
    assert [c.op for c in h.provider.ops("wait", "create")] == ["wait"], "followed, not submitted again"
    state = h.state()
    assert not state.pending and state.resources["job.train"].input_hash, "recorded with the inputs it ran with"
    assert actions(h.plan()) == {"job.train": Action.NO_OP}
    h.write({"res/train.yml": job(inputs={"lr": 0.2})})
    assert actions(h.plan()) == {"job.train": Action.TRAIN}


def test_apply_waits_for_an_interrupted_long_running_operation(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.provider.long_running.add("cpu")
    h.provider.lose_response.add(("create", "cpu"))
    assert not h.apply().ok
    h.provider.lose_response.clear()
    h.provider.reset()
    h.apply_ok(plan_options=PlanOptions(wait_for_pending=True))
    assert [c.op for c in h.provider.ops("wait", "poll", "find_owned", "create")] == ["wait"]
    assert not h.state().pending and len(h.provider.live("compute", "cpu")) == 1


def test_cancelling_stops_a_long_operation_and_leaves_it_recorded(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.provider.name_delays["cpu"] = 30.0  # a 20-minute create, as far as anyone waiting can tell
    sess = h.session()
    state = h.state()
    plan = h.plan()
    stop = threading.Event()
    threading.Timer(0.3, lambda: (stop.set(), sess.ctx.cancelled.set())).start()
    with h.locked(sess):
        result = apply_plan(sess, state, plan, ApplyOptions(), stop=stop)
    assert result.interrupted and not result.done
    assert "cancelled while create of compute cpu" in result.cancelled["compute.cpu"] and not result.failed
    assert [op.action for op in h.state().pending.values()] == ["create"], "recorded for the next run"
    h.provider.name_delays.clear()
    plan = h.plan()
    assert [r.outcome for r in plan.reconcile] == ["retry"]
    h.apply_ok(plan)
    assert len(h.provider.live("compute", "cpu")) == 1
