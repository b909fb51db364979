"""apply(plan) -> State: carry out the plan's changes, and only them, in dependency order with bounded
parallelism.

Apply reads nothing but the plan, the state and the results of what it has done: each node kind
executes its change with the values the plan holds (bindings filled from dependencies as they
finish). Each operation is journalled before it starts and when it ends (durably), and its result
is checked against the plan's ``after``. No printing: progress goes out as events.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from mlplan.core.clock import now_iso
from mlplan.core.diffing import field_changes, reason_for
from mlplan.core.errors import MlplanError, ProviderError, StalePlanError
from mlplan.core.faults import crashpoint
from mlplan.engine import nodes, reconcile
from mlplan.engine.address import Address
from mlplan.engine.desired import Result, state_of, state_result
from mlplan.engine.events import (
    ConditionNotMet,
    Emit,
    Interrupting,
    OperationDone,
    OperationFailed,
    OperationStarted,
    Skipped,
    quiet,
)
from mlplan.engine.nodes.base import ApplyContext, Outcome, public, recorded_input_hash, resource_type
from mlplan.engine.plan import REMOVALS, UNKNOWN, Action, Plan, ResourceChange
from mlplan.engine.redact import Redactor
from mlplan.providers.base import Cancelled, Context, Provider, ResourceType
from mlplan.state.backend import Journal
from mlplan.state.model import ResourceState


@dataclass
class ApplyOptions:
    parallelism: int = 10
    keep_going: bool = False


@dataclass
class ApplyResult:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    not_met: dict[str, str] = field(default_factory=dict)  # a condition was not met: not a failure
    why_skipped: dict[str, str] = field(default_factory=dict)
    cancelled: dict[str, str] = field(default_factory=dict)  # stopped by Ctrl-C twice, left pending
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled and not self.interrupted


def execution_graph(plan: Plan) -> nx.DiGraph:
    """Changes that do something, with edges in execution order (removals run dependents first)."""
    g = nx.DiGraph()
    by_addr = {c.address: c for c in plan.changes if c.action.changes}
    for address, change in by_addr.items():
        g.add_node(address)
        for dep in change.depends_on:
            if dep not in by_addr:
                continue
            if by_addr[dep].action in REMOVALS:
                # a removal runs after what depends on it: a dependent removed goes first, and one
                # that changes moves off it first (traffic leaves a deployment ttl deletes)
                g.add_edge(address, dep)
            else:
                g.add_edge(dep, address)
        if change.action not in REMOVALS:
            # what this used to depend on and is now removed goes only after this has changed
            # (traffic moves off a deployment before the deployment is deleted)
            for old in change.prior_depends_on:
                if old in by_addr and by_addr[old].action in REMOVALS and old not in change.depends_on:
                    g.add_edge(address, old)
    return g


class Applier:
    def __init__(
        self,
        plan: Plan,
        journal: Journal,
        provider: Provider,
        ctx: Context,
        options: ApplyOptions,
        emit: Emit = quiet,
        stop: threading.Event | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.plan = plan
        self.journal = journal
        self.provider = provider
        self.ctx = ctx  # ctx.cancelled: running operations are asked to stop
        self.options = options
        self.emit = emit
        self.stop = stop or threading.Event()
        self.redactor = redactor or Redactor(())
        self.root = Path(ctx.root)
        self.changes = {c.address: c for c in plan.changes}

    # -- scheduling ------------------------------------------------------------------------
    def run(self) -> ApplyResult:
        if not self.plan.executable:
            raise StalePlanError(
                f"the plan was saved in format {self.plan.format_version - 1} by an older mlplan, which did not"
                " record the values apply needs; run `mlplan plan --out FILE` again"
            )
        reconcile.settle(self.plan.reconcile, self.journal, self.provider, self.ctx, self.emit)
        result = ApplyResult()
        g = execution_graph(self.plan)
        remaining = {n: g.in_degree(n) for n in g.nodes}
        priority = _critical_path_priority(g)
        ready: list[tuple[int, str, Address]] = [priority[n] for n, d in remaining.items() if d == 0]
        heapq.heapify(ready)
        blocked: dict[Address, str] = {}
        running: dict[Future[Outcome], Address] = {}
        halted = cancelling = False

        def release(address: Address) -> None:
            for succ in g.successors(address):
                remaining[succ] -= 1
                if remaining[succ] == 0:
                    heapq.heappush(ready, priority[succ])

        def block(address: Address, why: str) -> None:
            for d in nx.descendants(g, address):
                blocked.setdefault(d, why)

        with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool:
            while ready or running:
                while ready and not halted and len(running) < self.options.parallelism and not self.stop.is_set():
                    address = heapq.heappop(ready)[2]
                    if address in blocked:
                        result.skipped.append(str(address))
                        result.why_skipped[str(address)] = blocked[address]
                        self.emit(Skipped(str(address), blocked[address]))
                        release(address)
                        continue
                    running[pool.submit(self._execute, self.changes[address])] = address
                if not running:
                    break
                # A short timeout so that a stop request (Ctrl-C) is noticed while operations run.
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                if self.stop.is_set() and not result.interrupted:
                    result.interrupted = True
                    self.emit(Interrupting(tuple(str(a) for a in running.values())))
                if self.ctx.cancelled.is_set() and not cancelling:
                    cancelling = True
                    self.emit(Interrupting(tuple(str(a) for a in running.values()), cancelling=True))
                for fut in finished:
                    address = running.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, Cancelled):
                        result.cancelled[str(address)] = str(exc)
                    elif exc is None:
                        outcome: Outcome = fut.result()
                        if outcome.not_met is not None:
                            result.not_met[str(address)] = outcome.not_met
                            block(address, f"{address}: {outcome.not_met}")
                        else:
                            result.done.append(str(address))
                    else:
                        result.failed[str(address)] = _message(exc)
                        self.emit(OperationFailed(str(address), _message(exc)))
                        if self.options.keep_going:
                            block(address, f"{address} failed")
                        else:
                            halted = True
                    release(address)
                if self.stop.is_set():
                    result.interrupted = True
                    halted = True
        if halted or result.interrupted:
            finished_set = {*result.done, *result.failed, *result.skipped, *result.not_met, *result.cancelled}
            result.skipped.extend(str(a) for a in sorted(g.nodes, key=str) if str(a) not in finished_set)
        return result

    # -- one operation -------------------------------------------------------------------
    def _execute(self, change: ResourceChange) -> Outcome:
        address = change.address
        op_id = uuid.uuid4().hex[:16]
        started = time.monotonic()
        self.emit(OperationStarted(str(address), change.action.value, change.reason))
        crashpoint("before_begin")
        node = nodes.named(change.node)
        self.journal.begin(op_id, str(address), change.action.value, node.operation_name(change))
        crashpoint("after_begin")
        actx = ApplyContext(
            provider=self.provider,
            ctx=replace(self.ctx, checkpoint=lambda token: self.journal.progress(op_id, str(address), token)),
            project=self.ctx.project,
            root=self.root,
            state=self.journal.state,
            results=self._results(change),
            redactor=self.redactor,
            op_id=op_id,
        )
        try:
            outcome = node.apply(actx, change)
            recorded = self._recorded(change, outcome)
        except ProviderError as exc:
            # The provider failed the operation knowingly (a job that exited non-zero, a server that
            # never became healthy), or its result broke the plan: nothing to adopt, and the next plan
            # says why it is planned again. Anything else (a crash, a lost connection, a cancellation)
            # stays pending, for the next run to reconcile.
            self.journal.abort(op_id, str(address), error=_message(exc))
            raise
        except StalePlanError:
            # refused before acting (the provider's prediction moved): nothing was done, nothing to reconcile,
            # and the next plan does not call it a failed attempt
            self.journal.abort(op_id, str(address))
            raise
        except Cancelled:
            raise
        crashpoint("before_end")
        if outcome.not_met is not None and recorded is None:
            self.journal.abort(op_id, str(address))
            self.emit(ConditionNotMet(str(address), outcome.not_met))
            return outcome
        if recorded is None:
            self.journal.end(op_id, str(address), None, removed=True)
        else:
            self.journal.end(op_id, str(address), recorded, promotion=outcome.history)
        if outcome.not_met is not None:  # recorded (an evaluation's decision), and its dependents skipped
            self.emit(ConditionNotMet(str(address), outcome.not_met))
            return outcome
        self.emit(
            OperationDone(
                str(address),
                change.action.value,
                time.monotonic() - started,
                recorded.id if recorded is not None and not outcome.reaped else None,
                recorded.version if recorded is not None and not outcome.reaped else None,
            )
        )
        return outcome

    def _results(self, change: ResourceChange) -> Mapping[Address, Result]:
        out: dict[Address, Result] = {}
        for b in change.bindings:
            rs = self.journal.state.resources.get(str(b.source))
            if rs is not None:
                out[b.source] = state_result(rs)
        return out

    def _recorded(self, change: ResourceChange, outcome: Outcome) -> ResourceState | None:
        """The state entry ``outcome`` leaves, once checked against the plan (None: removed from state)."""
        address = change.address
        prior = self.journal.state.resources.get(str(address))
        if outcome.reaped:
            assert prior is not None
            return ResourceState.from_json({**prior.to_json(), "status": "reaped", "updated_at": now_iso()})
        if outcome.observed is None or outcome.desired is None:
            return None
        rt = resource_type(self.provider, address.kind, str(address))
        self._check(change, rt, outcome)
        assert change.desired is not None
        ihash = recorded_input_hash(change, self._results(change))
        keep_created = prior is not None and change.action is Action.UPDATE and prior.status == "live"
        return state_of(
            address,
            self.provider.name,
            outcome.observed,
            input_hash=ihash,
            content=change.desired.files,
            dependencies=[str(d) for d in change.depends_on],
            on_remove=change.on_remove,
            **({"created_at": prior.created_at} if keep_created and prior is not None else {}),
        )

    def _check(self, change: ResourceChange, rt: ResourceType, outcome: Outcome) -> None:
        """What apply asked for must be what the plan showed, and what the provider made must be what
        it was asked for; either mismatch fails loudly, naming the provider."""
        desired, observed = outcome.desired, outcome.observed
        assert desired is not None and observed is not None
        expected = rt.desired_attributes(desired)
        if change.after is not None:
            drifted = _mismatches(change.after, public(expected, rt.sensitive_fields))
            if drifted:
                raise ProviderError(
                    f"apply would do what the plan did not show ({', '.join(drifted[:5])}); nothing further is"
                    " done for it: plan again",
                    address=str(change.address),
                    provider=self.provider.name,
                )
        actual = observed.attributes
        if change.desired is not None and change.desired.produced:  # what a job produced is only known now
            expected = {k: v for k, v in expected.items() if k not in rt.produced_fields}
            actual = {k: v for k, v in actual.items() if k not in rt.produced_fields}
        diffs = [
            d
            for d in field_changes(expected, actual, frozenset(rt.sensitive_fields))
            if not rt.left_to_service(d.path, expected)
        ]
        if diffs:
            raise ProviderError(
                f"the {self.provider.name} provider's result does not match the plan: {reason_for(diffs, 5)}",
                address=str(change.address),
                provider=self.provider.name,
            )
        if desired.version is not None and observed.version != desired.version:
            raise ProviderError(
                f"asked for version {desired.version}, the provider made {observed.version}",
                address=str(change.address),
                provider=self.provider.name,
            )


def _mismatches(planned: Any, actual: Any, path: str = "") -> list[str]:
    """Paths where ``actual`` differs from ``planned``; a planned value known only after apply matches all."""
    if planned in (actual, UNKNOWN):
        return []
    if isinstance(planned, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(planned) | set(actual), key=str):
            out += _mismatches(planned.get(key), actual.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(planned, list) and isinstance(actual, list) and len(planned) == len(actual):
        return [
            m for i, (p, a) in enumerate(zip(planned, actual, strict=True)) for m in _mismatches(p, a, f"{path}.{i}")
        ]
    return [] if planned == actual else [path or "(value)"]


def _critical_path_priority(g: nx.DiGraph) -> dict[Address, tuple[int, str, Address]]:
    """Heap keys: the longest chain of work a node still holds up first, then the address (stable)."""
    depth: dict[Address, int] = {}
    for node in reversed(list(nx.topological_sort(g))):
        depth[node] = 1 + max((depth[s] for s in g.successors(node)), default=0)
    return {n: (-depth[n], str(n), n) for n in g.nodes}


def _message(exc: BaseException) -> str:
    if isinstance(exc, MlplanError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
