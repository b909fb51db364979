"""plan(config, state, provider) -> Plan: refresh, settle interrupted operations on paper, let each node
kind plan its nodes in dependency order, then orphans and targets.

Planning reads and never writes: not the state, not the workspace. No printing and no prompting
either: progress goes out as events for the CLI to render.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import networkx as nx

from mlplan.core import kinds
from mlplan.core.clock import now, now_iso
from mlplan.core.diffing import field_changes, reason_for
from mlplan.core.errors import Diagnostic, PlanError, ValidationFailed
from mlplan.engine import advisories, gates, nodes, predictions, reconcile
from mlplan.engine.address import Address
from mlplan.engine.config import Config
from mlplan.engine.desired import ContentCache, Result, make_desired, state_result
from mlplan.engine.events import Emit, quiet
from mlplan.engine.graph import Graph
from mlplan.engine.nodes.base import ChampionRequest, PlanContext, find_type, public, resource_type
from mlplan.engine.plan import Action, Plan, ResourceChange
from mlplan.engine.redact import Redactor, mask_previous
from mlplan.engine.refresh import refresh
from mlplan.providers.base import Context, Observed, Provider
from mlplan.state.model import ResourceState, State


@dataclass
class PlanOptions:
    refresh: bool = True
    refresh_only: bool = False
    destroy: bool = False
    targets: tuple[Address, ...] = ()
    replace: tuple[Address, ...] = ()
    now: datetime | None = None
    parallelism: int = 10
    # an interrupted long-running operation still in flight: wait for it (apply) or refuse (plan)
    wait_for_pending: bool = False
    # `mlplan promote` / `rollback`: a champion chosen by hand, per model
    champions: tuple[ChampionRequest, ...] = ()


def variables_hash(config: Config) -> str:
    return hashlib.sha256(json.dumps(config.variables, sort_keys=True, default=str).encode()).hexdigest()[:16]


def validate(config: Config, provider: Provider) -> list[Diagnostic]:
    """Ask the provider about every desired resource: all problems at once, with file:line (raised); the
    warnings are returned, for the plan to show."""
    diags: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for res in config.resources.values():
        rt = find_type(provider, res.address.kind)
        if rt is None:
            diags.append(
                res.diag(
                    f"{res.address.kind} is not supported by the {provider.name} provider",
                    hint="remove it from this environment's resources or use another provider",
                )
            )
            continue
        desired = make_desired(res.address, res.spec, res.base_dir, res.subtype, {}, config.project)
        for p in rt.validate(desired):
            if p.warning:
                warnings.append(res.diag(p.message, p.path, hint=p.hint))
            elif not res.already_flagged(p.path):
                diags.append(res.diag(p.message, p.path, hint=p.hint))
    if diags:
        raise ValidationFailed(diags)
    return warnings


def make_plan(
    config: Config,
    graph: Graph,
    state: State,
    provider: Provider,
    ctx: Context,
    options: PlanOptions,
    emit: Emit = quiet,
    redactor: Redactor | None = None,
    warnings: tuple[Diagnostic, ...] = (),
) -> Plan:
    reading = options.refresh or options.refresh_only
    obs = refresh(
        config,
        graph,
        state,
        provider,
        ctx,
        options.parallelism,
        emit,
        read_state=reading,
        look_up=options.refresh and not (options.refresh_only or options.destroy),
        wait=options.wait_for_pending,
    )
    steps, view = reconcile.plan(state, obs, provider)
    p = PlanContext(
        config=config,
        graph=graph,
        state=view,
        provider=provider,
        ctx=ctx,
        obs=obs,
        redactor=redactor or Redactor(()),
        cache=ContentCache(config.digests),
        now=options.now or now(),
        refreshed=reading,
        targets=options.targets,
        replace=options.replace,
        champions={r.model: r for r in options.champions},
    )
    p.result_of = lambda address: _result_of(p, address)
    if options.refresh_only:
        changes, mode = _drift(p), "refresh-only"
    elif options.destroy:
        changes, mode = _destroy(p), "destroy"
    else:
        changes, mode = _plan_all(p), "normal"
        if options.targets:
            changes = _targeted(graph, options.targets, changes)
    if p.errors:
        raise PlanError(p.errors)
    plan = Plan(
        project=config.project,
        environment=config.environment.name,
        lineage=state.lineage,
        serial=state.serial,
        changes=tuple(changes),
        created_at=now_iso(),
        variables_hash=variables_hash(config),
        mode=mode,
        reconcile=steps if mode != "refresh-only" else (),
    )
    shown = [w.render().removeprefix("Error: ") for w in warnings] if mode == "normal" else []
    advice = advisories.warnings(config, p.state) if mode == "normal" else []
    return dataclasses.replace(plan, diagnostics=(*gates.unenforced(config, plan), *shown, *advice))


def _plan_all(p: PlanContext) -> list[ResourceChange]:
    for source, observed in p.obs.sources.items():
        p.changes[source] = nodes.SOURCE.plan_source(source, observed)
    for address in p.graph.order():
        res = p.config.resources.get(address)
        if res is not None:
            p.changes[address] = nodes.for_kind(address.kind).plan(p, res)
    orphans = [
        nodes.for_kind(rs.kind).plan_removal(p, Address.parse(addr), rs, "removed from the configuration")
        for addr, rs in sorted(p.state.resources.items())
        if rs.status == "live" and Address.parse(addr) not in p.config.resources
    ]
    return [*p.changes.values(), *orphans]


def _result_of(p: PlanContext, address: Address) -> Result | None:
    """A managed node's result once this plan is applied; None when only apply will tell."""
    change = p.changes.get(address)
    if change is not None:
        return nodes.for_kind(address.kind).planned_result(p, change)
    rs = p.entry(address)
    return state_result(rs) if rs is not None else None


def _destroy(p: PlanContext) -> list[ResourceChange]:
    return [
        nodes.for_kind(rs.kind).plan_removal(p, Address.parse(addr), rs, "destroy", destroy=True)
        for addr, rs in sorted(p.state.resources.items())
        if rs.status == "live"
    ]


def _drift(p: PlanContext) -> list[ResourceChange]:
    """refresh-only: what changed in the workspace since state was written."""
    out = []
    for addr, rs in sorted(p.state.resources.items()):
        if rs.status != "live" or kinds.facts(rs.kind).state_only:  # nothing outside mlplan to change
            continue
        address = Address.parse(addr)
        sensitive = resource_type(p.provider, rs.kind, addr).sensitive_fields
        observed = p.obs.resources.get(addr)
        if observed is None:
            before = public(rs.attributes, sensitive)
            out.append(ResourceChange(address, Action.FORGET, "deleted outside mlplan", before=before))
            continue
        attrs = mask_previous(rs.attributes, observed.attributes)
        diffs = field_changes(rs.attributes, attrs, sensitive)
        deployed = None if diffs else _deployed_drift(p, address, rs, observed)
        if deployed is not None:
            out.append(deployed)
        elif diffs:
            out.append(
                ResourceChange(
                    address,
                    Action.UPDATE,
                    "changed outside mlplan: " + reason_for(diffs, 10),
                    before=public(rs.attributes, sensitive),
                    after=public(attrs, sensitive),
                    changes=tuple(diffs),
                )
            )
        else:
            out.append(ResourceChange(address, Action.NO_OP, "matches state"))
    return out


def _deployed_drift(p: PlanContext, address: Address, rs: ResourceState, observed: Observed) -> ResourceChange | None:
    """For a kind that predicts what it deploys (an ARM template's resources): what changed outside mlplan in
    them, when the configuration is still what was applied (else the prediction would mix in its changes too)."""
    res = p.config.resources.get(address)
    rt = resource_type(p.provider, rs.kind, str(address))
    if res is None or not rt.predicts:
        return None
    b = p.build(res)
    if b.resolution.bindings or not p.same_inputs(rs, b):
        return None
    predicted = rt.predict(p.ctx, b.desired, observed)
    drifted = predictions.drifting(predicted)
    if not drifted:
        return None
    attrs = public(rs.attributes, rt.sensitive_fields)
    reason = f"changed outside mlplan: what it deployed drifted; the {p.provider.name} provider predicts that"
    return ResourceChange(
        address,
        Action.UPDATE,
        f"{reason} deploying it again would {predictions.summary(drifted)}",
        before=attrs,
        after=attrs,
        predicted=predicted,
    )


def _targeted(graph: Graph, targets: tuple[Address, ...], changes: list[ResourceChange]) -> list[ResourceChange]:
    keep: set[Address] = set()
    for t in targets:
        keep.add(t)
        if t in graph.dag:
            keep |= nx.ancestors(graph.dag, t)
    return [c for c in changes if c.address in keep]
