"""The workflows behind ``plan``, ``drift``, ``apply`` and ``destroy``, under the state lock.

``run_apply`` is the whole of an apply: a saved plan is checked for freshness and carried out as is;
otherwise a fresh plan is made, shown and confirmed (both passed in by the caller), gates are checked,
and the plan is carried out; declared outputs are then recorded. Nothing here prints or prompts.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.errors import UsageError
from mlplan.core.suggest import did_you_mean_address
from mlplan.engine import gates
from mlplan.engine.apply import Applier, ApplyOptions, ApplyResult
from mlplan.engine.events import Emit, quiet
from mlplan.engine.freshness import check_fresh
from mlplan.engine.nodes.base import resource_type
from mlplan.engine.outputs import resolve_outputs, stored_outputs
from mlplan.engine.plan import Action, Plan
from mlplan.engine.planner import PlanOptions, make_plan
from mlplan.engine.session import Session, held_lock, locked_state, require_ready
from mlplan.state.backend import Journal
from mlplan.state.model import ResourceState, State


def plan(session: Session, state: State, options: PlanOptions, emit: Emit = quiet) -> Plan:
    """A plan against ``state`` (read under the caller's lock); it writes nothing."""
    require_ready(session)
    options = dataclasses.replace(options, parallelism=options.parallelism or session.config.environment.parallelism)
    known = {*map(str, session.config.resources), *state.resources}
    for flag, given in (("--target", options.targets), ("--replace", options.replace)):
        for t in given:
            if str(t) not in known:
                close = did_you_mean_address(str(t), known)
                raise UsageError(f"{flag} {t}: not a resource of this project (see `mlplan graph`){close}")
    result = make_plan(
        session.config,
        session.graph,
        state,
        session.provider,
        session.ctx,
        options,
        emit,
        session.redactor,
        session.warnings,
    )
    session.config.digests.save()  # a cache of file digests under .mlplan/cache, not state
    return result


def apply_plan(
    session: Session,
    state: State,
    the_plan: Plan,
    options: ApplyOptions,
    emit: Emit = quiet,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Carry out ``the_plan`` exactly (gates first, nothing written if one is closed), then record outputs."""
    gates.check(session.config, the_plan)
    journal = session.backend.journal(state, held_lock(session))
    try:
        applier = Applier(the_plan, journal, session.provider, session.ctx, options, emit, stop, session.redactor)
        result = applier.run()
        if the_plan.mode != "refresh-only":
            _record_outputs(session, journal)
    finally:
        journal.close()
    return result


def _record_outputs(session: Session, journal: Journal) -> None:
    outputs = stored_outputs(session.config, journal.state)
    if outputs != journal.state.outputs:
        journal.set("outputs", outputs)


def refresh_state(session: Session, state: State, the_plan: Plan) -> None:
    """Apply a refresh-only plan: write what the workspace really has into state."""
    journal = session.backend.journal(state, held_lock(session))
    try:
        for c in the_plan.changes:
            rs = state.resources.get(str(c.address))
            if rs is None:
                continue
            if c.action is Action.FORGET:
                journal.begin("refresh", str(c.address), "forget")
                journal.end("refresh", str(c.address), None, removed=True)
            elif c.action is Action.UPDATE:
                rt = resource_type(session.provider, rs.kind, str(c.address))
                observed = rt.read(session.ctx, rs.id)
                if observed is None:
                    continue
                updated = {
                    **rs.to_json(),
                    "attributes": observed.attributes,
                    "tags": observed.tags,
                    "outputs": observed.outputs,
                    "updated_at": now_iso(),
                }
                journal.begin("refresh", str(c.address), "refresh")
                journal.end("refresh", str(c.address), ResourceState.from_json(updated))
    finally:
        journal.close()


@dataclass
class ApplyRequest:
    """What to apply: a saved plan, or a fresh one made with ``options``."""

    saved: Plan | None
    options: PlanOptions
    apply: ApplyOptions
    what: str = "apply"  # or destroy: the lock's operation, and the words of messages


@dataclass
class ApplyReport:
    plan: Plan
    result: ApplyResult | None = None  # None: nothing was applied (no changes, or a refresh-only plan)
    refreshed: bool = False  # a refresh-only plan wrote what the workspace has into state
    # the declared outputs once applied (resolve_outputs; empty after a destroy or a refresh-only apply)
    outputs: dict[str, Any] = field(default_factory=dict)


def run_apply(
    session: Session,
    request: ApplyRequest,
    show: Callable[[Plan], None],
    confirm: Callable[[Plan], bool],
    emit: Emit = quiet,
    stop: threading.Event | None = None,
) -> ApplyReport:
    """The whole of an apply (or destroy), under the state lock."""
    require_ready(session)
    with locked_state(session, request.what) as state:
        if request.saved is not None:
            check_fresh(request.saved, session, state, emit)
            the_plan = request.saved
        else:
            # an interrupted long-running operation still in flight: apply waits for it, plan refuses
            the_plan = plan(session, state, dataclasses.replace(request.options, wait_for_pending=True), emit)
            show(the_plan)
            if not the_plan.has_changes:
                if the_plan.mode != "refresh-only":
                    journal = session.backend.journal(state, held_lock(session))
                    try:
                        _record_outputs(session, journal)
                    finally:
                        journal.close()
                return ApplyReport(the_plan, outputs=_outputs(session, state, the_plan))
            gates.check(session.config, the_plan)  # refuse before asking
            if not confirm(the_plan):
                raise UsageError("cancelled: nothing was changed")
        if the_plan.mode == "refresh-only":
            refresh_state(session, state, the_plan)
            return ApplyReport(the_plan, refreshed=True)
        options = request.apply
        if not options.parallelism:
            options = dataclasses.replace(options, parallelism=session.config.environment.parallelism)
        result = apply_plan(session, state, the_plan, options, emit, stop)
        return ApplyReport(the_plan, result, outputs=_outputs(session, state, the_plan))


def _outputs(session: Session, state: State, the_plan: Plan) -> dict[str, Any]:
    """The outputs to show after an apply (``state`` holds what it did); none after a destroy."""
    return resolve_outputs(session.config, state) if the_plan.mode == "normal" else {}
