"""apply(plan) -> State: execute the plan's changes in dependency order with bounded parallelism.

Each operation is journalled before it starts and when it ends (durably), and its result is
checked against what the plan promised. No printing: progress goes out as events.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from mlplan.core.clock import now_iso
from mlplan.core.diffing import field_changes, reason_for
from mlplan.core.errors import MlplanError, ProviderError
from mlplan.core.faults import crashpoint
from mlplan.engine import traffic
from mlplan.engine.address import Address
from mlplan.engine.config import Config
from mlplan.engine.desired import (
    ContentCache,
    content_of,
    make_desired,
    observed_of,
    ownership_tags,
    resolve_references,
    resolve_run,
    state_of,
)
from mlplan.engine.graph import Graph
from mlplan.engine.plan import Action, Plan, ResourceChange
from mlplan.engine.planner import resource_type
from mlplan.providers.base import Context, Desired, Observed, Provider, ResourceType
from mlplan.state.backend import Journal
from mlplan.state.model import ResourceState

Event = Callable[[str, dict[str, Any]], None]
REMOVALS = frozenset({Action.DELETE, Action.ARCHIVE, Action.FORGET})


@dataclass
class ApplyOptions:
    parallelism: int = 10
    keep_going: bool = False


@dataclass
class ApplyResult:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


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
        config: Config,
        graph: Graph,
        journal: Journal,
        provider: Provider,
        ctx: Context,
        options: ApplyOptions,
        emit: Event,
        stop: threading.Event | None = None,
    ) -> None:
        self.plan = plan
        self.config = config
        self.graph = graph
        self.journal = journal
        self.provider = provider
        self.ctx = ctx
        self.options = options
        self.emit = emit
        self.stop = stop or threading.Event()
        self.cache = ContentCache(config.digests)
        self.changes = {c.address: c for c in plan.changes}

    # -- scheduling ------------------------------------------------------------------------
    def run(self) -> ApplyResult:
        result = ApplyResult()
        g = execution_graph(self.plan)
        remaining = {n: g.in_degree(n) for n in g.nodes}
        self._priority = _critical_path_priority(g)
        ready: list[tuple[int, str, Address]] = []
        for n, d in remaining.items():
            if d == 0:
                heapq.heappush(ready, self._priority[n])
        blocked: set[Address] = set()
        running: dict[Future[None], Address] = {}
        halted = False
        self.emit("apply_start", {"count": g.number_of_nodes()})
        with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool:
            while ready or running:
                while ready and not halted and len(running) < self.options.parallelism and not self.stop.is_set():
                    address = heapq.heappop(ready)[2]
                    if address in blocked:
                        result.skipped.append(str(address))
                        self._release(g, address, remaining, ready)
                        continue
                    running[pool.submit(self._execute, self.changes[address])] = address
                if not running:
                    break
                # A short timeout so that a stop request (Ctrl-C) is noticed while operations run.
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                if self.stop.is_set() and not result.interrupted:
                    result.interrupted = True
                    self.emit("interrupt", {"running": [str(a) for a in running.values()]})
                for fut in finished:
                    address = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        result.done.append(str(address))
                    else:
                        result.failed[str(address)] = _message(exc)
                        self.emit("failed", {"address": str(address), "error": _message(exc)})
                        if self.options.keep_going:
                            blocked |= nx.descendants(g, address)
                        else:
                            halted = True
                    self._release(g, address, remaining, ready)
                if self.stop.is_set():
                    result.interrupted = True
                    halted = True
        if halted or result.interrupted:
            finished_set = set(result.done) | set(result.failed) | set(result.skipped)
            result.skipped.extend(str(a) for a in sorted(g.nodes, key=str) if str(a) not in finished_set)
        return result

    def _release(
        self, g: nx.DiGraph, address: Address, remaining: dict[Address, int], ready: list[tuple[int, str, Address]]
    ) -> None:
        for succ in g.successors(address):
            remaining[succ] -= 1
            if remaining[succ] == 0:
                heapq.heappush(ready, self._priority[succ])

    # -- one operation -------------------------------------------------------------------
    def _execute(self, change: ResourceChange) -> None:
        address = change.address
        op_id = uuid.uuid4().hex[:16]
        started = time.monotonic()
        self.emit("start", {"address": str(address), "action": change.action.value, "reason": change.reason})
        crashpoint("before_begin")
        self.journal.begin(op_id, str(address), change.action.value, address.name)
        crashpoint("after_begin")
        try:
            outcome = self._operate(change, op_id)
        except ProviderError:
            # The provider failed the operation knowingly (a job that exited non-zero, a server that
            # never became healthy) and left nothing to adopt. Anything else stays pending, for the
            # next run to reconcile through the ownership tags.
            self.journal.abort(op_id, str(address))
            raise
        crashpoint("before_end")
        if outcome is _REAPED:
            rs = self.journal.state.resources[str(address)]
            reaped = ResourceState.from_json({**rs.to_json(), "status": "reaped", "updated_at": now_iso()})
            self.journal.end(op_id, str(address), reaped)
        elif outcome is None:
            self.journal.end(op_id, str(address), None, removed=True)
        else:
            assert isinstance(outcome, ResourceState)
            self.journal.end(op_id, str(address), outcome)
        self.emit(
            "done",
            {
                "address": str(address),
                "action": change.action.value,
                "elapsed": time.monotonic() - started,
                "id": outcome.id if isinstance(outcome, ResourceState) else None,
                "version": outcome.version if isinstance(outcome, ResourceState) else None,
            },
        )

    def _current(self, address: Address) -> tuple[ResourceState, Observed]:
        rs = self.journal.state.resources[str(address)]
        return rs, observed_of(rs)

    def _operate(self, change: ResourceChange, op_id: str) -> ResourceState | object | None:
        address, action = change.address, change.action
        kind = address.kind
        rt = resource_type(self.provider, kind, str(address))
        if action is Action.FORGET:
            return None
        if action in (Action.DELETE, Action.ARCHIVE):
            _rs, current = self._current(address)
            if action is Action.ARCHIVE:
                rt.archive(self.ctx, current)
            else:
                rt.delete(self.ctx, current)
            return _REAPED if change.reaps else None
        res = self.config.resources[address]
        content = content_of(res, self.cache)
        spec = resolve_references(res.spec, self.graph.refs.get(address, []), self._versions(address))
        if kind == "traffic":  # as planned: no share for a deployment its ttl deletes
            deps = self.graph.dependencies(address)
            spec, _gone = traffic.without_reaped(spec, deps, self.changes, self.journal.state)
        if res.produced_by is not None:
            spec = resolve_run(spec, res.produced_by, self.journal.state)
        tags = ownership_tags(self.config.project, address, op_id)
        desired = make_desired(res, spec, content, tags, self.config.project)
        if action is Action.ADOPT:
            found = rt.lookup(self.ctx, address.name, desired.version)
            if found is None:
                raise ProviderError("the resource to adopt is gone; run plan again", address=str(address))
            return self._record(change, rt, desired, found, content)
        if action is Action.UPDATE:
            _rs, current = self._current(address)
            observed = rt.update(self.ctx, desired, current)
        elif action is Action.REPLACE:
            _rs, current = self._current(address)
            if change.replace_order == "create_first":
                observed = rt.create(self.ctx, desired)
                rt.delete(self.ctx, current)
            else:
                rt.delete(self.ctx, current)
                observed = rt.create(self.ctx, desired)
        elif action in (Action.CREATE, Action.NEW_VERSION, Action.TRAIN):
            observed = rt.create(self.ctx, desired)
        elif action is Action.SHIFT_TRAFFIC:
            if str(address) in self.journal.state.resources:
                observed = rt.update(self.ctx, desired, self._current(address)[1])
            else:
                observed = rt.create(self.ctx, desired)
        else:
            raise ProviderError(f"action {action.value} is not implemented yet", address=str(address))
        self._check(rt, desired, observed, address, produced=res.produced_by is not None)
        return self._record(change, rt, desired, observed, content)

    def _versions(self, address: Address) -> dict[Address, str | None]:
        out: dict[Address, str | None] = {}
        for ref in self.graph.refs.get(address, []):
            rs = self.journal.state.resources.get(str(ref.target))
            if rs is not None:
                out[ref.target] = rs.version
            else:
                for source, sref in self.graph.data_sources.items():
                    if sref.raw == ref.raw:
                        rt = resource_type(self.provider, source.kind, str(source))
                        version = None if sref.version in (None, "latest") else sref.version
                        found = rt.lookup(self.ctx, sref.target.name, version)
                        if found is not None:
                            out[ref.target] = found.version
        return out

    def _check(
        self, rt: ResourceType, desired: Desired, observed: Observed, address: Address, produced: bool = False
    ) -> None:
        """The provider must have done what the plan promised; say so loudly when it did not."""
        expected = rt.desired_attributes(desired)
        actual = observed.attributes
        if produced:  # what a job produced is only known now
            expected = {k: v for k, v in expected.items() if k not in rt.produced_fields}
            actual = {k: v for k, v in actual.items() if k not in rt.produced_fields}
        diffs = field_changes(expected, actual, frozenset(rt.sensitive_fields))
        if diffs:
            raise ProviderError(
                f"the {self.provider.name} provider's result does not match the plan: {reason_for(diffs, 5)}",
                address=str(address),
                provider=self.provider.name,
            )
        if desired.version is not None and observed.version != desired.version:
            raise ProviderError(
                f"asked for version {desired.version}, the provider made {observed.version}",
                address=str(address),
                provider=self.provider.name,
            )

    def _record(
        self,
        change: ResourceChange,
        rt: ResourceType,
        desired: Desired,
        observed: Observed,
        content: dict[str, Any],
    ) -> ResourceState:
        address = change.address
        prior = self.journal.state.resources.get(str(address))
        now = now_iso()
        keep_created = prior is not None and change.action is Action.UPDATE and prior.status == "live"
        return state_of(
            address,
            self.provider.name,
            observed,
            input_hash=change.input_hash,
            content={k: c.files for k, c in content.items() if len(c.files) <= 1000},
            dependencies=[str(d) for d in change.depends_on],
            created_at=prior.created_at if keep_created and prior else now,
            on_remove=self.config.resources[address].lifecycle.on_remove,
        )


_REAPED = object()


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
