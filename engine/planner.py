"""plan(config, state, provider) -> Plan: refresh, diff per node with a reason, orphans, ttl, targets.

No printing and no prompting here: progress goes out as events for the CLI to render.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from mlplan.core.clock import now_iso
from mlplan.core.content import describe_change
from mlplan.core.diffing import FieldChange, field_changes, reason_for
from mlplan.core.errors import Diagnostic, PlanError, ProviderError, ValidationFailed
from mlplan.engine import gates, traffic
from mlplan.engine.address import Address
from mlplan.engine.config import Config, ResourceSpec
from mlplan.engine.desired import (
    ContentCache,
    content_of,
    input_hash,
    make_desired,
    observed_of,
    resolve_references,
    resolve_run,
)
from mlplan.engine.graph import Graph
from mlplan.engine.plan import TTL_EXPIRED, UNKNOWN, Action, Plan, ResourceChange
from mlplan.engine.redact import mask_previous
from mlplan.providers.base import TAG_ADDRESS, TAG_PROJECT, Context, Observed, Provider, ResourceType
from mlplan.state.model import ResourceState, State

Event = Callable[[str, dict[str, Any]], None]
CREATING = frozenset({Action.CREATE, Action.NEW_VERSION, Action.REPLACE})


@dataclass
class PlanOptions:
    refresh: bool = True
    refresh_only: bool = False
    destroy: bool = False
    targets: tuple[Address, ...] = ()
    replace: tuple[Address, ...] = ()
    now: datetime | None = None
    parallelism: int = 10


@dataclass
class Observations:
    """What refresh saw: per managed address (None = gone), and data sources."""

    resources: dict[str, Observed | None] = field(default_factory=dict)
    sources: dict[Address, Observed] = field(default_factory=dict)


def variables_hash(config: Config) -> str:
    return hashlib.sha256(json.dumps(config.variables, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resource_type(provider: Provider, kind: str, where: str | None = None) -> ResourceType:
    rt = provider.resource_type(kind)
    if rt is None:
        raise ProviderError(f"{kind} is not supported by the {provider.name} provider", address=where)
    return rt


def validate(config: Config, provider: Provider) -> None:
    """Ask the provider about every desired resource; all problems at once, with file:line."""
    diags: list[Diagnostic] = []
    for res in config.resources.values():
        rt = provider.resource_type(res.address.kind)
        if rt is None:
            diags.append(
                res.diag(
                    f"{res.address.kind} is not supported by the {provider.name} provider",
                    hint="remove it from this environment's resources or use another provider",
                )
            )
            continue
        desired = make_desired(res, res.spec, {}, project=config.project)
        for p in rt.validate(desired):
            diags.append(res.diag(p.message, p.path, hint=p.hint))
    if diags:
        raise ValidationFailed(diags)


def refresh(
    state: State,
    graph: Graph,
    provider: Provider,
    ctx: Context,
    parallelism: int,
    emit: Event,
    read_state: bool = True,
) -> Observations:
    """Read every resource in state and every data source, in parallel (bounded)."""
    obs = Observations()
    # each task reads one or more keys (a batch of one kind) and returns one result per key
    tasks: list[tuple[list[str], Callable[[], list[Observed | None]]]] = []
    batches: dict[str, list[tuple[str, str]]] = {}
    if read_state:
        for addr, rs in state.resources.items():
            if rs.status != "live":
                continue
            rt = resource_type(provider, rs.kind, addr)
            if rt.read_batch > 0:
                batches.setdefault(rs.kind, []).append((addr, rs.id))
            else:
                tasks.append(([addr], functools.partial(_read_one, rt, ctx, rs.id)))
    for kind, items in batches.items():
        rt = resource_type(provider, kind)
        for i in range(0, len(items), rt.read_batch):
            chunk = items[i : i + rt.read_batch]
            tasks.append(([a for a, _ in chunk], functools.partial(rt.read_many, ctx, [ident for _, ident in chunk])))
    for source, ref in graph.data_sources.items():
        rt = resource_type(provider, source.kind, str(source))
        version = None if ref.version in (None, "latest") else ref.version
        name = ref.raw if ref.registry else ref.target.name  # registry assets are known by their URI
        tasks.append(([f"source:{source}"], functools.partial(_lookup_one, rt, ctx, name, version)))
    if not tasks:
        return obs
    emit("refresh_start", {"count": sum(len(keys) for keys, _ in tasks)})
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = [(keys, pool.submit(fn)) for keys, fn in tasks]
        missing: list[Diagnostic] = []
        for key, result in ((k, r) for keys, fut in futures for k, r in _zip_results(keys, fut.result())):
            if key.startswith("source:"):
                source = Address.parse(key.removeprefix("source:"))
                if result is None:
                    ref = graph.data_sources[source]
                    file, line, user = graph.source_where.get(source, (None, None, str(source)))
                    missing.append(
                        Diagnostic(
                            f"{ref.raw} refers to a {source.kind} that neither this project nor the workspace has",
                            file=file,
                            line=line,
                            address=user,
                            hint="create it, add it to the project, or fix the reference",
                        )
                    )
                else:
                    obs.sources[source] = result
            else:
                obs.resources[key] = result
            emit("refreshed", {"address": key.removeprefix("source:"), "found": result is not None})
    if missing:
        raise ValidationFailed(missing)
    return obs


def _read_one(rt: ResourceType, ctx: Context, ident: str) -> list[Observed | None]:
    return [rt.read(ctx, ident)]


def _lookup_one(rt: ResourceType, ctx: Context, name: str, version: str | None) -> list[Observed | None]:
    return [rt.lookup(ctx, name, version)]


def _zip_results(keys: list[str], results: list[Observed | None]) -> zip[tuple[str, Observed | None]]:
    if len(results) != len(keys):
        raise ProviderError(f"read_many returned {len(results)} result(s) for {len(keys)} id(s)", address=keys[0])
    return zip(keys, results, strict=True)


def _users(graph: Graph, source: Address) -> str:
    return ", ".join(str(a) for a in graph.dag.successors(source))


class Planner:
    def __init__(
        self,
        config: Config,
        graph: Graph,
        state: State,
        provider: Provider,
        ctx: Context,
        options: PlanOptions,
        emit: Event,
    ) -> None:
        self.config = config
        self.graph = graph
        self.state = state
        self.provider = provider
        self.ctx = ctx
        self.options = options
        self.emit = emit
        self.cache = ContentCache(config.digests)
        self.now = options.now or datetime.now(UTC)
        self.changes: dict[Address, ResourceChange] = {}
        self.hashes: dict[Address, str] = {}
        self.errors: list[Diagnostic] = []

    # -- entry point ------------------------------------------------------------------------
    def run(self) -> Plan:
        opts = self.options
        obs = refresh(
            self.state,
            self.graph,
            self.provider,
            self.ctx,
            opts.parallelism,
            self.emit,
            read_state=opts.refresh or opts.refresh_only,
        )
        self.obs = obs
        if opts.refresh_only:
            changes = self._drift()
            mode = "refresh-only"
        elif opts.destroy:
            changes = self._destroy_all()
            mode = "destroy"
        else:
            for source, observed in obs.sources.items():
                self.changes[source] = ResourceChange(
                    source, Action.READ, f"data source: {observed.id}", after=_public(observed.attributes)
                )
            for address in self.graph.order():
                if address in self.config.resources:
                    self.changes[address] = self._plan_one(self.config.resources[address])
            changes = self._orphans()
            changes = [*self.changes.values(), *changes]
            if opts.targets:
                changes = self._targeted(changes)
            mode = "normal"
        if self.errors:
            raise PlanError(self.errors)
        plan = Plan(
            project=self.config.project,
            environment=self.config.environment.name,
            lineage=self.state.lineage,
            serial=self.state.serial,
            changes=tuple(changes),
            created_at=now_iso(),
            variables_hash=variables_hash(self.config),
            mode=mode,
        )
        return dataclasses.replace(plan, diagnostics=tuple(gates.unenforced(self.config, plan)))

    # -- one desired resource ---------------------------------------------------------------
    def _observed(self, address: Address) -> tuple[ResourceState | None, Observed | None, bool]:
        """(state entry, observation, refreshed?) for a managed address."""
        rs = self.state.resources.get(str(address))
        if rs is None or rs.status != "live":
            return rs, None, True
        if str(address) in self.obs.resources:
            observed = self.obs.resources[str(address)]
            if observed is not None:
                observed = replace(observed, attributes=mask_previous(rs.attributes, observed.attributes))
            return rs, observed, True
        return rs, observed_of(rs), False

    def _versions(self, res: ResourceSpec) -> dict[Address, str | None]:
        """Concrete versions of what ``res`` references: None while a dependency is being (re)made."""
        out: dict[Address, str | None] = {}
        for ref in self.graph.refs.get(res.address, []):
            target = ref.target
            if target in self.config.resources:
                change = self.changes.get(target)
                rs = self.state.resources.get(str(target))
                if change is not None and change.action in CREATING:
                    out[target] = None
                else:
                    out[target] = rs.version if rs is not None else None
            else:
                source = next(
                    (s for s, r in self.graph.data_sources.items() if r.raw == ref.raw and r.path == ref.path),
                    None,
                )
                observed = self.obs.sources.get(source) if source else None
                if observed is not None:
                    out[target] = observed.version
        return out

    def _plan_one(self, res: ResourceSpec) -> ResourceChange:
        if res.address.kind != "traffic":
            return self._plan_resource(res)
        deps = self.graph.dependencies(res.address)
        spec, gone = traffic.without_reaped(res.spec, deps, self.changes, self.state)
        if not gone:
            return self._plan_resource(res)
        planned = self._plan_resource(replace(res, spec=spec))
        if not planned.action.changes:
            return planned
        note = f"{', '.join(gone)} deleted by ttl: traffic {spec['traffic'] or 'to no deployment'}"
        return replace(planned, reason=f"{note}; {planned.reason}")

    def _plan_resource(self, res: ResourceSpec) -> ResourceChange:
        address = res.address
        rt = resource_type(self.provider, address.kind, str(address))
        content = content_of(res, self.cache)
        deps = [
            d
            for d in self.graph.dependencies(address)
            if d in self.config.resources and (rt.input_kinds is None or d.kind in rt.input_kinds)
        ]
        ihash = input_hash(res, content, [self.hashes[d] for d in deps])
        self.hashes[address] = ihash
        spec = resolve_references(res.spec, self.graph.refs.get(address, []), self._versions(res))
        rs, observed, _refreshed = self._observed(address)
        depends_on = tuple(self.graph.dependencies(address))
        prior = tuple(Address.parse(d) for d in rs.dependencies) if rs is not None else ()

        def change(action: Action, reason: str, **kw: Any) -> ResourceChange:
            if rt.change_action and action in (Action.CREATE, Action.UPDATE, Action.REPLACE):
                action = Action(rt.change_action)
            return ResourceChange(
                address, action, reason, input_hash=ihash, depends_on=depends_on, prior_depends_on=prior, **kw
            )

        producer = self.changes.get(res.produced_by) if res.produced_by else None
        if producer is not None and producer.action is Action.TRAIN:
            after = {"content": UNKNOWN}
            action = Action.NEW_VERSION if rt.versioned and rs is not None else Action.CREATE
            return change(action, f"registered from the new run of {producer.address}", after=after)
        if res.produced_by is not None:
            spec = resolve_run(spec, res.produced_by, self.state)
        desired = make_desired(res, spec, content, project=self.config.project)
        after = rt.desired_attributes(desired)
        if res.produced_by is not None and rs is not None:
            after.update({f: rs.attributes[f] for f in rt.produced_fields if f in rs.attributes})
        after_public = _public(after, rt.sensitive_fields)
        if rt.is_run:
            return self._plan_run(res, rs, ihash, after, content, change)

        if rs is None:
            adopted = self._adoptable(rt, res, desired)
            if adopted is not None:
                before = _public(adopted.attributes, rt.sensitive_fields)
                diffs = self._diff(rt, res, adopted.attributes, after)
                if not diffs:
                    return change(
                        Action.ADOPT,
                        f"exists in the workspace, owned by this project ({adopted.id})",
                        before=before,
                        after=after_public,
                        adopt=True,
                    )
            return change(Action.CREATE, "not in state: will be created", after=after_public)

        if rs.status == "reaped":
            if rs.input_hash == ihash and address not in self.options.replace:
                return change(Action.NO_OP, "deleted by ttl; recreated when its inputs change or with --replace")
            why = "recreation requested with --replace" if address in self.options.replace else "inputs changed"
            return change(Action.CREATE, f"deleted by ttl earlier; {why}", after=after_public)

        before = _public(rs.attributes if observed is None else observed.attributes, rt.sensitive_fields)
        if observed is None:
            return change(Action.CREATE, "deleted outside mlplan: will be created again", after=after_public)

        if res.lifecycle.ttl is not None and rs.created_at:
            expires = datetime.fromisoformat(rs.created_at) + res.lifecycle.ttl
            if expires <= self.now:
                return change(
                    Action.DELETE,
                    f"{TTL_EXPIRED} ({_td(res.lifecycle.ttl)} since {rs.created_at})",
                    before=before,
                )

        diffs = self._diff(rt, res, observed.attributes, after)
        if address in self.options.replace:
            action = Action.NEW_VERSION if rt.versioned else Action.REPLACE
            return self._guard(
                res,
                change(
                    action,
                    "replacement requested with --replace",
                    before=before,
                    after=after_public,
                    changes=tuple(diffs),
                    replace_order=self._order(res),
                ),
            )
        if not diffs:
            return change(Action.NO_OP, "up to date", before=before, after=after_public)
        reason = self._reason(rs, content, diffs)
        if rt.versioned:
            return self._versioned(res, rt, rs, observed, desired, diffs, reason, change, before, after_public)
        if any(c.path.split(".")[0] in rt.immutable_fields for c in diffs):
            fields = sorted({c.path.split(".")[0] for c in diffs if c.path.split(".")[0] in rt.immutable_fields})
            return self._guard(
                res,
                change(
                    Action.REPLACE,
                    f"{', '.join(fields)} cannot change in place; {reason}",
                    before=before,
                    after=after_public,
                    changes=tuple(diffs),
                    replace_order=self._order(res),
                ),
            )
        return change(Action.UPDATE, reason, before=before, after=after_public, changes=tuple(diffs))

    def _plan_run(
        self,
        res: ResourceSpec,
        rs: ResourceState | None,
        hash_now: str,
        after: dict[str, Any],
        content: Mapping[str, Any],
        change: Callable[..., ResourceChange],
    ) -> ResourceChange:
        """A job runs again only when its inputs changed (or --replace asks): runs are history."""
        if rs is None:
            return change(Action.TRAIN, "never run", after=after)
        run = rs.outputs.get("run", rs.id)
        if res.address in self.options.replace:
            return change(Action.TRAIN, f"a new run requested with --replace (last run {run})", after=after)
        if rs.input_hash == hash_now:
            return change(Action.NO_OP, f"inputs unchanged since run {run}", before=rs.attributes, after=after)
        diffs = field_changes(rs.attributes, after, frozenset())
        reason = self._reason(rs, content, diffs) if diffs else "an input it depends on changed"
        return change(Action.TRAIN, reason, before=rs.attributes, after=after, changes=tuple(diffs))

    def _versioned(
        self,
        res: ResourceSpec,
        rt: ResourceType,
        rs: ResourceState,
        observed: Observed,
        desired: Any,
        diffs: list[FieldChange],
        reason: str,
        change: Callable[..., ResourceChange],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> ResourceChange:
        mutable: frozenset[str] = rt.mutable_fields
        tops = {c.path.split(".")[0] for c in diffs}
        if tops <= mutable:
            return change(Action.UPDATE, reason, before=before, after=after, changes=tuple(diffs))
        explicit = desired.version
        if explicit is not None and explicit == observed.version:
            drift_only = not field_changes(rs.attributes, rt.desired_attributes(desired), frozenset())
            if drift_only:
                return change(
                    Action.UPDATE,
                    f"changed outside mlplan, restoring version {explicit}: {reason}",
                    before=before,
                    after=after,
                    changes=tuple(diffs),
                )
            self.errors.append(
                res.diag(
                    f"{res.address.kind} {res.address.name} version {explicit} already exists with other"
                    f" content ({reason}); Azure ML asset versions are immutable",
                    ("version",),
                    hint=f"bump `version:` (e.g. to {_next(explicit)}) or remove it to let mlplan number versions",
                )
            )
            return change(Action.NO_OP, "error: version must be bumped")
        if explicit is not None:
            reason = f"version {observed.version} -> {explicit}; {reason}"
        return change(Action.NEW_VERSION, reason, before=before, after=after, changes=tuple(diffs))

    def _diff(
        self, rt: ResourceType, res: ResourceSpec, before: dict[str, Any], after: dict[str, Any]
    ) -> list[FieldChange]:
        ignored = set(res.lifecycle.ignore_changes)
        if ignored:
            before = {k: v for k, v in before.items() if k not in ignored}
            after = {k: v for k, v in after.items() if k not in ignored}
        return field_changes(before, after, rt.sensitive_fields)

    def _reason(self, rs: ResourceState, content: Mapping[str, Any], diffs: list[FieldChange]) -> str:
        parts = []
        for field_name, c in content.items():
            old = rs.content.get(field_name)
            if old is not None and old != c.files:
                parts.append(f"{field_name} changed: {describe_change(old, c.files)}")
        # the digests of what was just named say nothing more
        other = [d for d in diffs if not (_is_digest(d.before) and _is_digest(d.after))] if parts else diffs
        if other:
            parts.append(reason_for(other))
        return "; ".join(parts) or reason_for(diffs)

    def _adoptable(self, rt: ResourceType, res: ResourceSpec, desired: Any) -> Observed | None:
        """An existing resource of the same name: ours (adopt) or someone else's (error)."""
        if (rt.versioned and desired.version is None) or rt.attached:
            return None  # a new version will be made, or a setting will be set: nothing to collide with
        if not self.options.refresh:
            return None
        found = rt.lookup(self.ctx, res.address.name, desired.version)
        if found is None:
            return None
        if found.tags.get(TAG_PROJECT) == self.config.project and found.tags.get(TAG_ADDRESS) == str(res.address):
            return found
        self.errors.append(
            res.diag(
                f"{res.address.kind} {res.address.name!r} already exists in the workspace ({found.id})"
                " and is not managed by this project",
                ("name",),
                hint=f"adopt it with `mlplan import {res.address} {found.id}`, or choose another name",
            )
        )
        return None

    def _order(self, res: ResourceSpec) -> str:
        return "create_first" if res.lifecycle.create_before_destroy else "delete_first"

    def _guard(self, res: ResourceSpec, change: ResourceChange) -> ResourceChange:
        if res.lifecycle.prevent_destroy and change.action in (Action.REPLACE, Action.DELETE):
            self.errors.append(
                res.diag(
                    f"the plan would {change.action.value} {res.address}, but lifecycle.prevent_destroy is set"
                    f" ({change.reason})",
                    hint="undo the change that forces it, or remove prevent_destroy in mlplan.yaml settings",
                )
            )
        return change

    # -- resources in state but not in config --------------------------------------------
    def _orphans(self) -> list[ResourceChange]:
        out = []
        for addr, rs in sorted(self.state.resources.items()):
            address = Address.parse(addr)
            if address in self.config.resources or rs.status != "live":
                continue
            if resource_type(self.provider, rs.kind, addr).attached and self.obs.resources.get(addr) is not None:
                # a setting (an endpoint's traffic), not a thing: no longer managed, left as it is
                why = "removed from the configuration: no longer managed by mlplan, left as it is in the workspace"
                out.append(ResourceChange(address, Action.FORGET, why))
                continue
            out.append(self._removal(address, rs, "removed from the configuration"))
        return out

    def _removal(self, address: Address, rs: ResourceState, why: str) -> ResourceChange:
        rt = resource_type(self.provider, rs.kind, str(address))
        observed = self.obs.resources.get(str(address), "unrefreshed")
        if observed is None:
            return ResourceChange(address, Action.FORGET, f"{why}; already gone from the workspace")
        res = self.config.resources.get(address)
        on_remove = res.lifecycle.on_remove if res else rs.on_remove
        action = Action.DELETE
        if rt.versioned and not (on_remove == "delete" and rt.can_delete_versions):
            action = Action.ARCHIVE
            why += "; asset versions cannot be deleted in Azure ML, so it is archived"
        change = ResourceChange(
            address,
            action,
            why,
            before=_public(rs.attributes, rt.sensitive_fields),
            depends_on=tuple(Address.parse(d) for d in rs.dependencies),
        )
        if res is not None:
            return self._guard(res, change)
        return change

    def _destroy_all(self) -> list[ResourceChange]:
        out = []
        for addr, rs in sorted(self.state.resources.items()):
            if rs.status != "live":
                continue
            out.append(self._removal(Address.parse(addr), rs, "destroy"))
        return out

    def _drift(self) -> list[ResourceChange]:
        """refresh-only: what changed in the workspace since state was written."""
        out = []
        for addr, rs in sorted(self.state.resources.items()):
            if rs.status != "live":
                continue
            address = Address.parse(addr)
            rt = resource_type(self.provider, rs.kind, addr)
            observed = self.obs.resources.get(addr)
            if observed is None:
                out.append(
                    ResourceChange(
                        address,
                        Action.FORGET,
                        "deleted outside mlplan",
                        before=_public(rs.attributes, rt.sensitive_fields),
                    )
                )
                continue
            attrs = mask_previous(rs.attributes, observed.attributes)
            diffs = field_changes(rs.attributes, attrs, rt.sensitive_fields)
            if diffs:
                out.append(
                    ResourceChange(
                        address,
                        Action.UPDATE,
                        "changed outside mlplan: " + reason_for(diffs, 10),
                        before=_public(rs.attributes, rt.sensitive_fields),
                        after=_public(attrs, rt.sensitive_fields),
                        changes=tuple(diffs),
                    )
                )
            else:
                out.append(ResourceChange(address, Action.NO_OP, "matches state"))
        return out

    def _targeted(self, changes: list[ResourceChange]) -> list[ResourceChange]:
        keep: set[Address] = set()
        for t in self.options.targets:
            keep.add(t)
            if t in self.graph.dag:
                keep |= nx.ancestors(self.graph.dag, t)
        return [c for c in changes if c.address in keep]


def _public(attrs: dict[str, Any], sensitive: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {k: ("(sensitive)" if k in sensitive and v is not None else v) for k, v in attrs.items()}


def _is_digest(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value) and all(_is_digest(v) for v in value.values())
    return isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


def _td(delta: Any) -> str:
    secs = int(delta.total_seconds())
    if secs % 86400 == 0:
        return f"{secs // 86400}d"
    if secs % 3600 == 0:
        return f"{secs // 3600}h"
    if secs % 60 == 0:
        return f"{secs // 60}m"
    return f"{secs}s"


def _next(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else version + ".1"


def make_plan(
    config: Config,
    graph: Graph,
    state: State,
    provider: Provider,
    ctx: Context,
    options: PlanOptions,
    emit: Event = lambda _k, _d: None,
) -> Plan:
    return Planner(config, graph, state, provider, ctx, options, emit).run()
