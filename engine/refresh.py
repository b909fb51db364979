"""Refresh: every read a plan needs, in parallel (bounded), batched for kinds with a list API.

What is read: each resource in state, each data source, each name the configuration wants that state
does not have yet (to adopt what is ours, or refuse what is someone else's), and what each operation
an interrupted run left pending made. Refresh only reads: nothing is written anywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mlplan.core import kinds
from mlplan.core.errors import Diagnostic, ProviderError, ValidationFailed
from mlplan.engine import nodes, unresolved
from mlplan.engine.config import Config
from mlplan.engine.events import Emit, Refreshed, RefreshStarted
from mlplan.engine.graph import Graph
from mlplan.engine.nodes.base import Observations, resource_type
from mlplan.engine.reconcile import REMOVING
from mlplan.providers.base import Context, Observed, Progress, Provider, ResourceType
from mlplan.state.model import PendingOp, State

Lookup = tuple[str, str | None]  # (name, version or None for the latest)


@dataclass(frozen=True)
class _Task:
    keys: list[tuple[str, Any]]  # (what, key) per result: ("resource", addr), ("source", Address), ...
    call: Callable[[], Sequence[Any]]
    name: str = ""  # the provider call, for messages


def _batched(
    rt: ResourceType,
    what: str,
    items: list[tuple[Any, Any]],
    many: Callable[[list[Any]], Sequence[Any]],
    one: Callable[[Any], Any],
) -> list[_Task]:
    """One task per item, or per batch of ``rt.read_batch`` items for a kind with a list API."""
    if rt.read_batch > 0:
        name = "read_many" if what == "resource" else "lookup_many"
        return [
            _Task([(what, k) for k, _ in chunk], functools.partial(many, [arg for _, arg in chunk]), name)
            for chunk in (items[i : i + rt.read_batch] for i in range(0, len(items), rt.read_batch))
        ]
    return [_Task([(what, k)], functools.partial(_single, one, arg)) for k, arg in items]


def _single(fn: Callable[[Any], Any], arg: Any) -> list[Any]:
    return [fn(arg)]


def refresh(
    config: Config,
    graph: Graph,
    state: State,
    provider: Provider,
    ctx: Context,
    parallelism: int,
    emit: Emit,
    read_state: bool = True,
    look_up: bool = True,
    wait: bool = False,
) -> Observations:
    """Read what the plan needs (``read_state``: resources in state; ``look_up``: adoption candidates;
    ``wait``: wait for an interrupted long-running operation still in flight instead of reporting it)."""
    per_kind: dict[tuple[str, str], list[tuple[Any, Any]]] = {}

    def add(what: str, kind: str, key: Any, arg: Any) -> None:
        per_kind.setdefault((what, kind), []).append((key, arg))

    if read_state:
        for addr, rs in state.resources.items():
            if rs.status == "live" and not kinds.facts(rs.kind).state_only:  # in state only: nothing to read
                add("resource", rs.kind, addr, rs.id)
    for source, ref in graph.data_sources.items():
        version = None if ref.version in (None, "latest") else ref.version
        name = ref.raw if ref.registry else ref.target.name  # registry assets are known by their URI
        add("source", source.kind, source, (name, version))
    if look_up:
        for address, res in config.resources.items():
            if str(address) not in state.resources:
                wanted = nodes.for_kind(address.kind).lookup_for(res)
                if wanted is not None:
                    add("existing", address.kind, address, wanted)
    for op in state.pending.values():  # always: a plan must show what apply will do about them
        prior = state.resources.get(op.address)
        add("pending", op.address.split(".", 1)[0], op.op_id, (op, prior.id if prior is not None else None))
    tasks: list[_Task] = []
    for (what, kind), items in per_kind.items():
        rt = resource_type(provider, kind, str(items[0][0]))
        if what == "resource":
            tasks += _batched(rt, what, items, functools.partial(rt.read_many, ctx), functools.partial(rt.read, ctx))
        elif what == "pending":
            tasks += [
                _Task([(what, k)], functools.partial(_single, functools.partial(_settled, rt, ctx, wait), op))
                for k, op in items
            ]
        else:
            tasks += _batched(
                rt, what, items, functools.partial(rt.lookup_many, ctx), functools.partial(_lookup, rt, ctx)
            )
    obs = Observations()
    if not tasks:
        return obs
    emit(RefreshStarted(sum(len(t.keys) for t in tasks)))
    missing: list[Diagnostic] = []
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = [(t, pool.submit(t.call)) for t in tasks]
        for task, fut in futures:
            results, keys = list(fut.result()), task.keys
            if len(results) != len(keys):
                raise ProviderError(
                    f"{task.name} returned {len(results)} result(s) for {len(keys)} id(s)",
                    address=str(keys[0][1]),
                    provider=provider.name,
                )
            for (what, key), result in zip(keys, results, strict=True):
                if what == "resource":
                    obs.resources[key] = result
                elif what == "existing":
                    obs.existing[key] = result
                elif what == "pending":
                    obs.pending[key] = result
                elif result is None:
                    missing.append(unresolved.missing_source(config, graph, state, key))
                else:
                    obs.sources[key] = result
                if what in ("resource", "source"):
                    emit(Refreshed(str(key), result is not None))
    if missing:
        raise ValidationFailed(missing)
    return obs


def _lookup(rt: ResourceType, ctx: Context, key: Lookup) -> Observed | None:
    return rt.lookup(ctx, key[0], key[1])


def _settled(
    rt: ResourceType, ctx: Context, wait: bool, item: tuple[PendingOp, str | None]
) -> Progress | Observed | None:
    """What an interrupted operation left: its token's progress; for a removal, the resource if it is still
    there; else what carries the operation's ownership tags."""
    op, ident = item
    if op.token:
        return Progress(done=True, result=rt.wait(ctx, op.token)) if wait else rt.poll(ctx, op.token)
    if op.action in REMOVING:
        return rt.read(ctx, ident) if ident is not None else None
    return rt.find_owned(ctx, op.name or op.address.split(".", 1)[1], op.op_id)
