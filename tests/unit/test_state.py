"""State seen from the engine: stale saved plans, and state written after every operation.

The backends themselves (recovery, locking, lock tokens, backups, crashes) are tested by the
conformance suite in tests/state/.
"""

from __future__ import annotations

import pytest

from mlplan.core.errors import StalePlanError
from mlplan.engine import workflow
from mlplan.engine.apply import ApplyOptions
from mlplan.engine.events import Event, OperationDone
from mlplan.engine.freshness import check_fresh
from mlplan.engine.planner import PlanOptions
from mlplan.state.local import LocalBackend
from tests.unit.fakes import Harness, compute, data

# -- stale saved plans ------------------------------------------------------------------------------


def test_check_fresh_accepts_an_unchanged_plan(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    sess = h.session()
    state = h.state()
    saved = workflow.plan(sess, state, PlanOptions())
    check_fresh(saved, h.session(), h.state())


def test_check_fresh_refuses_after_the_state_changed(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=1)})
    h.apply_ok()
    h.write({"res/cpu.yml": compute(max_instances=2)})
    saved = h.plan()
    h.apply_ok(saved)  # someone applies it first
    with pytest.raises(StalePlanError) as exc:
        check_fresh(saved, h.session(), h.state())
    text = str(exc.value)
    assert "serial" in text
    assert "compute.cpu" in text


def test_check_fresh_refuses_after_an_input_file_changed(h: Harness) -> None:
    h.write({"res/iris.yml": data(), "res/cpu.yml": compute()})
    saved = h.plan()
    (h.root / "files/iris.csv").write_text("a,b\n3,4\n")
    with pytest.raises(StalePlanError) as exc:
        check_fresh(saved, h.session(), h.state())
    text = str(exc.value)
    assert "inputs changed" in text
    assert "data.iris" in text
    assert "compute.cpu" not in text


def test_apply_writes_state_after_each_operation(h: Harness) -> None:
    """A crash mid-apply keeps what was done: the journal has it before apply returns."""
    h.write({"res/a.yml": compute("cpu-a"), "res/b.yml": compute("cpu-b")})
    seen: list[list[str]] = []
    sess = h.session()
    state = h.state()
    plan = workflow.plan(sess, state, PlanOptions())

    def on_event(event: Event) -> None:
        if isinstance(event, OperationDone):
            seen.append(sorted(LocalBackend(h.backend.path).read().resources))

    with h.locked(sess):
        workflow.apply_plan(sess, state, plan, ApplyOptions(parallelism=1), on_event)
    assert seen == [["compute.cpu-a"], ["compute.cpu-a", "compute.cpu-b"]]
