"""Operations an interrupted run left pending (a begin in the journal with no end): what plan shows about
them, and what apply does.

Plan decides, from what refresh read (the operation's token, the resources carrying its ownership
tags, or the resource a removal was removing), whether apply will adopt what the operation made,
retry it, or record a removal as done; and plans every node against the state as it will be then.
Nothing is written by plan: apply settles them, under the lock, before any change.
"""

from __future__ import annotations

import copy

from mlplan.core.clock import now_iso
from mlplan.core.errors import ProviderError, StalePlanError
from mlplan.engine.address import Address
from mlplan.engine.desired import state_of
from mlplan.engine.events import Emit, Reconciled
from mlplan.engine.nodes.base import Observations, resource_type
from mlplan.engine.plan import REMOVALS, Reconciliation
from mlplan.providers.base import TAG_INPUTS, Context, Observed, Progress, Provider
from mlplan.state.backend import Journal
from mlplan.state.model import PendingOp, ResourceState, State

REMOVING = frozenset(a.value for a in REMOVALS)


def plan(state: State, obs: Observations, provider: Provider) -> tuple[tuple[Reconciliation, ...], State]:
    """What apply will do about each pending operation, and the state every node is planned against
    (``obs`` then shows what an adopted operation made, not the entry it replaces)."""
    if not state.pending:
        return (), state
    view = copy.copy(state)
    view.resources = dict(state.resources)
    view.pending = {}
    steps = []
    for op in sorted(state.pending.values(), key=lambda o: o.started_at):
        found = obs.pending.get(op.op_id)
        step = _decide(op, found)
        steps.append(step)
        if step.outcome == "adopt":
            assert isinstance(found, Observed | Progress)
            made = found.result if isinstance(found, Progress) else found
            assert made is not None
            view.resources[op.address] = adopted(op, made, state.resources.get(op.address), provider.name)
            obs.resources[op.address] = made  # what refresh read of the entry it replaces is out of date
        elif step.outcome == "completed":
            view.resources.pop(op.address, None)
    return tuple(steps), view


def _decide(op: PendingOp, found: Observed | Progress | None) -> Reconciliation:
    def step(outcome: str, reason: str, found_id: str | None = None) -> Reconciliation:
        address = Address.parse(op.address)
        return Reconciliation(op.op_id, address, op.action, outcome, reason, op.name, found_id, op.token)

    interrupted = f"an interrupted {op.action} (operation {op.op_id}, started {op.started_at})"
    if op.action in REMOVING:
        if found is None or (isinstance(found, Observed) and found.archived):
            return step("completed", f"{interrupted} had completed: recorded as done")
        return step("not_done", f"{interrupted} had not happened: planned again")
    if isinstance(found, Progress):
        if not found.done:
            raise StalePlanError(  # an exit code and message a CI job shows as is
                f"{op.address}: {interrupted} is still running in the workspace; wait for it to finish and plan"
                " again (`mlplan apply` waits for it)"
            )
        found = found.result
    if found is not None:
        return step("adopt", f"{interrupted} made {found.id}: it is taken into state", found.id)
    return step("retry", f"{interrupted} made nothing: planned again")


def adopted(op: PendingOp, found: Observed, prior: ResourceState | None, provider: str) -> ResourceState:
    """The state entry of what an interrupted operation made (a run: with the inputs it was submitted with)."""
    return state_of(
        Address.parse(op.address),
        provider,
        found,
        input_hash=found.tags.get(TAG_INPUTS, ""),
        dependencies=prior.dependencies if prior else [],
        created_at=prior.created_at if prior and op.action == "update" else now_iso(),
    )


def settle(steps: tuple[Reconciliation, ...], journal: Journal, provider: Provider, ctx: Context, emit: Emit) -> None:
    """Do what the plan said about each interrupted operation, then remove what each left half-done."""
    for r in steps:
        op = journal.state.pending.get(r.op_id)
        if op is None:
            raise StalePlanError(f"{r.address}: operation {r.op_id} is no longer pending; plan again")
        rt = resource_type(provider, r.address.kind, str(r.address))
        if r.outcome == "adopt":
            assert r.found_id is not None
            found = rt.read(ctx, r.found_id)
            if found is None:
                raise ProviderError(f"what an interrupted operation made ({r.found_id}) is gone; plan again")
            journal.end(r.op_id, op.address, adopted(op, found, journal.state.resources.get(op.address), provider.name))
        elif r.outcome == "completed":
            journal.end(r.op_id, op.address, None, removed=True)
        else:
            journal.abort(r.op_id, op.address)
        rt.discard(ctx, r.name or r.address.name, r.op_id)
        emit(Reconciled(str(r.address), r.reason))
