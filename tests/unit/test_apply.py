"""apply: dependency order, bounded parallelism, stop at first failure, keep-going, result checks."""

from __future__ import annotations

import pytest

from mlplan.core.errors import ProviderError
from mlplan.engine import workflow
from mlplan.engine.apply import Applier, ApplyOptions
from mlplan.engine.events import Event, OperationDone, OperationStarted
from mlplan.engine.plan import Action
from mlplan.engine.planner import PlanOptions
from tests.unit.fakes import Harness, actions, by_address, compute, data, deployment, endpoint, environment, job


def test_calls_respect_dependencies(h: Harness) -> None:
    h.write(
        {
            "res/cpu.yml": compute(),
            "res/env.yml": environment(),
            "res/iris.yml": data(),
            "res/train.yml": job(
                environment="azureml:env@latest",
                compute="azureml:cpu",
                inputs={"d": {"type": "uri_file", "path": "azureml:iris@latest"}},
            ),
            "res/web.yml": endpoint(),
            "res/blue.yml": deployment(environment="azureml:env@latest"),
        }
    )
    # slow dependencies: a scheduler that ignored edges would start the dependents first
    h.provider.name_delays.update({"cpu": 0.05, "env": 0.05, "web": 0.05})
    h.apply_ok(options=ApplyOptions(parallelism=8))
    assert {c.name for c in h.provider.ops("create")} == {"cpu", "env", "iris", "train", "web", "web/blue"}
    ok = h.provider.ended_before_started
    for dep in ("cpu", "env", "iris"):
        assert ok(dep, "train"), f"{dep} must be done before job.train starts"
    assert ok("web", "web/blue") and ok("env", "web/blue")
    assert h.provider.max_active > 1, "independent work did run in parallel"
    assert not ok("cpu", "iris"), "independent resources are not serialised"


def test_parallelism_bound_is_honoured(h: Harness) -> None:
    h.write({f"res/c{i}.yml": compute(f"cpu{i}") for i in range(8)})
    h.provider.delays["create"] = 0.2  # long enough that a loaded CI machine still overlaps them
    h.apply_ok(options=ApplyOptions(parallelism=3))
    assert len(h.provider.ops("create")) == 8
    assert h.provider.max_active == 3, "never more than 3 at once, and it does run 3 at once"


def test_parallelism_one_is_sequential(h: Harness) -> None:
    h.write({f"res/c{i}.yml": compute(f"cpu{i}") for i in range(4)})
    h.provider.delays["create"] = 0.01
    h.apply_ok(options=ApplyOptions(parallelism=1))
    assert h.provider.max_active == 1


def test_first_failure_stops_scheduling_new_work(h: Harness) -> None:
    h.write(
        {
            "res/a.yml": compute("cpu-a"),
            "res/b.yml": compute("cpu-b"),
            "res/c.yml": compute("cpu-c"),
            "res/d.yml": compute("cpu-d"),
        }
    )
    h.provider.fail_on("create", "cpu-a")
    h.provider.name_delays["cpu-b"] = 0.5  # still running when a fails (with room for a loaded machine)
    result = h.apply(options=ApplyOptions(parallelism=2))
    assert not result.ok
    assert list(result.failed) == ["compute.cpu-a"]
    assert "injected failure" in result.failed["compute.cpu-a"]
    assert result.done == ["compute.cpu-b"], "work already running finishes"
    assert sorted(result.skipped) == ["compute.cpu-c", "compute.cpu-d"]
    assert sorted(c.name for c in h.provider.ops("create")) == ["cpu-a", "cpu-b"]
    state = h.state()
    assert sorted(state.resources) == ["compute.cpu-b"], "what was done is in state"


def test_keep_going_skips_only_dependents_of_the_failure(h: Harness) -> None:
    h.write(
        {
            "res/a.yml": compute("cpu-a"),
            "res/b.yml": compute("cpu-b"),
            "res/c.yml": compute("cpu-c"),
            "res/train.yml": job(compute="azureml:cpu-a"),
            "res/later.yml": job("later", compute="azureml:cpu-b"),
        }
    )
    h.provider.fail_on("create", "cpu-a")
    result = h.apply(options=ApplyOptions(parallelism=1, keep_going=True))
    assert list(result.failed) == ["compute.cpu-a"]
    assert result.skipped == ["job.train"]
    assert sorted(result.done) == ["compute.cpu-b", "compute.cpu-c", "job.later"]
    assert sorted(c.name for c in h.provider.ops("create")) == ["cpu-a", "cpu-b", "cpu-c", "later"]
    # a second run picks up what is left
    h.provider.fail.clear()
    plan = h.plan()
    assert {a: x for a, x in actions(plan).items() if x.changes} == {
        "compute.cpu-a": Action.CREATE,
        "job.train": Action.TRAIN,  # a job is a run whatever the provider (core.kinds): it never ran
    }


def test_result_that_differs_from_the_plan_fails_naming_the_provider(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=2)})
    h.provider.tamper["cpu"] = {"max_instances": 99}
    result = h.apply()
    assert not result.ok
    message = result.failed["compute.cpu"]
    assert "does not match the plan" in message
    assert "fake" in message, "names the provider"
    assert "max_instances" in message


def test_mismatch_raises_provider_error_with_provider_field(h: Harness) -> None:
    """The exception itself carries the provider name (seen through the emitted events is not enough)."""

    h.write({"res/cpu.yml": compute(max_instances=2)})
    h.provider.tamper["cpu"] = {"max_instances": 99}
    sess = h.session()
    state = h.state()
    plan = workflow.plan(sess, state, PlanOptions())
    with h.locked(sess) as lock:
        journal = sess.backend.journal(state, lock)
        applier = Applier(plan, journal, sess.provider, sess.ctx, ApplyOptions())
        try:
            with pytest.raises(ProviderError) as exc:
                applier._execute(plan.changes[0])
        finally:
            journal.close()
    assert exc.value.provider == "fake"
    assert exc.value.address == "compute.cpu"
    assert "(fake provider)" in exc.value.render()


def test_apply_events_are_emitted_not_printed(h: Harness, capsys: pytest.CaptureFixture[str]) -> None:

    h.write({"res/cpu.yml": compute()})
    events: list[Event] = []
    sess = h.session()
    state = h.state()
    plan = workflow.plan(sess, state, PlanOptions(), events.append)
    with h.locked(sess):
        workflow.apply_plan(sess, state, plan, ApplyOptions(), events.append)
    kinds = {type(e) for e in events}
    assert OperationStarted in kinds and OperationDone in kinds
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_a_failure_is_recorded_and_the_next_plan_says_so_until_it_succeeds(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    h.provider.refuse.add(("create", "cpu"))  # the provider fails it knowingly (a quota, a bad image)
    assert not h.apply().ok
    failure = h.state().failures["compute.cpu"]
    assert failure["action"] == "create" and failure["error"] == "refused: create compute cpu"
    assert not h.state().pending, "nothing to reconcile: the provider said it made nothing"
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.CREATE
    assert change.reason == "last attempt failed: refused: create compute cpu; not in state: will be created"
    h.provider.refuse.clear()
    h.apply_ok()
    assert h.state().failures == {}
    assert by_address(h.plan())["compute.cpu"].reason == "up to date"
