"""What every node kind shares: how it is asked to plan and to apply, and the contexts it gets.

A node kind owns its rules on both sides: ``plan`` turns a desired resource (and what refresh saw)
into a ResourceChange that carries every value apply needs; ``apply`` carries that change out with
the provider, using only the change and the results of the dependencies already done.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from mlplan.core.content import Content
from mlplan.core.diffing import SENSITIVE
from mlplan.core.errors import Diagnostic, ProviderError
from mlplan.engine import desired as desired_mod
from mlplan.engine.address import Address
from mlplan.engine.config import Config, ResourceSpec
from mlplan.engine.desired import ContentCache, Resolution, Result
from mlplan.engine.graph import Graph
from mlplan.engine.legacy import legacy_hashes
from mlplan.engine.plan import NEW_RESULT, REMOVALS, UNKNOWN, Action, ResourceChange
from mlplan.engine.redact import Redactor, mask_previous
from mlplan.engine.references import Reference
from mlplan.providers.base import TAG_ADDRESS, TAG_PROJECT, Context, Desired, Diff, Observed, Provider, ResourceType
from mlplan.state.model import ResourceState, State
from mlplan.state.upgrade import LEGACY_HASH

# Kinds whose resource type is the engine's own (they live in state: a promotion), registered by engine.nodes.
ENGINE_TYPES: dict[str, Callable[[Provider], ResourceType]] = {}


def find_type(provider: Provider, kind: str) -> ResourceType | None:
    """The resource type of ``kind``: the engine's own for a kind that lives in state, else the provider's."""
    own = ENGINE_TYPES.get(kind)
    return own(provider) if own is not None else provider.resource_type(kind)


def resource_type(provider: Provider, kind: str, where: str | None = None) -> ResourceType:
    rt = find_type(provider, kind)
    if rt is None:
        raise ProviderError(f"{kind} is not supported by the {provider.name} provider", address=where)
    return rt


def public(attrs: dict[str, Any], sensitive: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Attributes as plans show them: sensitive fields as (sensitive)."""
    return {k: (SENSITIVE if k in sensitive and v is not None else v) for k, v in attrs.items()}


def attributes_digest(attrs: Mapping[str, Any]) -> str:
    return sha256(json.dumps(attrs, sort_keys=True, default=str).encode()).hexdigest()[:32]


# -- planning ------------------------------------------------------------------------------------------------
@dataclass
class Observations:
    """What refresh saw, read-only: resources in state (None = gone), data sources, existing resources of
    the names the configuration wants (adoption), and interrupted operations' results."""

    resources: dict[str, Observed | None] = field(default_factory=dict)
    sources: dict[Address, Observed] = field(default_factory=dict)
    existing: dict[Address, Observed | None] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)  # op id -> Observed | Progress | None


@dataclass
class Built:
    """A desired resource made concrete for one plan: resolved, hashed, as the provider sees it."""

    res: ResourceSpec
    rt: ResourceType
    content: dict[str, Content]
    resolution: Resolution
    desired: Desired  # for the provider at plan time (clear values)
    stored: dict[str, Any]  # the resolved spec as the plan keeps it (sensitive values as markers)
    after: dict[str, Any]  # desired_attributes, scrubbed
    input_hash: str  # "" while bindings leave it unknown
    config_hash: str

    @property
    def public_after(self) -> dict[str, Any]:
        return public(self.after, self.rt.sensitive_fields)


@dataclass(frozen=True)
class ChampionRequest:
    """A champion chosen by hand (``mlplan promote`` / ``rollback``): the plan promotes ``version``."""

    model: str
    version: str
    decision: str  # manual | rollback
    reason: str


@dataclass
class PlanContext:
    """What a node kind may look at while planning; planning writes nothing anywhere."""

    config: Config
    graph: Graph
    state: State  # as it will be once apply has reconciled interrupted operations
    provider: Provider
    ctx: Context
    obs: Observations
    redactor: Redactor
    cache: ContentCache
    now: datetime
    refreshed: bool
    targets: tuple[Address, ...] = ()
    replace: tuple[Address, ...] = ()
    champions: Mapping[str, ChampionRequest] = field(default_factory=dict)
    changes: dict[Address, ResourceChange] = field(default_factory=dict)
    waiting: dict[Address, str] = field(default_factory=dict)  # changes that wait for what will not exist yet
    errors: list[Diagnostic] = field(default_factory=list)
    result_of: Callable[[Address], Result | None] = lambda _a: None  # set by the planner
    _legacy: dict[Address, str] | None = None

    def rt(self, kind: str, where: str | None = None) -> ResourceType:
        return resource_type(self.provider, kind, where)

    def same_inputs(self, rs: ResourceState, b: Built) -> bool:
        """Whether ``b`` has the inputs state recorded for it (what decides a new run, a new version of
        what a run produced, or bringing back what a ttl reaped)."""
        if rs.input_hash.startswith(LEGACY_HASH):  # written by state format 1: compared the old way
            if self._legacy is None:
                self._legacy = legacy_hashes(self.config, self.graph, self.cache)
            return rs.input_hash.removeprefix(LEGACY_HASH) == self._legacy.get(b.res.address)
        return bool(b.input_hash) and rs.input_hash == b.input_hash

    def entry(self, address: Address) -> ResourceState | None:
        return self.state.resources.get(str(address))

    def observed(self, address: Address) -> tuple[ResourceState | None, Observed | None]:
        """The state entry of a managed address and what refresh saw of it (None: gone); with
        refresh off, what state recorded."""
        rs = self.entry(address)
        if rs is None or rs.status != "live":
            return rs, None
        key = str(address)
        if key in self.obs.resources:
            observed = self.obs.resources[key]
            if observed is not None:
                observed = replace(observed, attributes=mask_previous(rs.attributes, observed.attributes))
            return rs, observed
        return rs, desired_mod.observed_of(rs)

    def source_result(self, ref: Reference) -> Result | None:
        for source, sref in self.graph.data_sources.items():
            if sref.raw == ref.raw and sref.path == ref.path:
                found = self.obs.sources.get(source)
                return desired_mod.observed_result(found) if found is not None else None
        return None

    def managed(self, address: Address) -> bool:
        return address in self.config.resources

    def build(self, res: ResourceSpec, input_deps: tuple[Address, ...] = ()) -> Built:
        """The one way a desired resource becomes the provider's Desired and the plan's DesiredSpec."""
        address = res.address
        rt = self.rt(address.kind, str(address))
        content = desired_mod.content_of(res, self.cache)
        digests = {k: c.digest for k, c in content.items()}
        resolution = desired_mod.resolve(
            res,
            self.graph.refs.get(address, []),
            self.managed,
            self.result_of,
            self.source_result,
            input_deps,
        )
        scrub = self.redactor.scrub if self.redactor else None
        written = scrub(res.spec) if scrub is not None else res.spec
        written_json = desired_mod.dumps(written)
        if resolution.substituted:
            stored = scrub(resolution.spec) if scrub is not None else resolution.spec
            stored_json = desired_mod.dumps(stored)
        else:
            stored, stored_json = written, written_json
        content_json = desired_mod.content_key(digests)
        desired = desired_mod.make_desired(
            address, resolution.spec, res.base_dir, res.subtype, digests, self.config.project
        )
        after = rt.desired_attributes(desired)
        if res.produced_by is not None:
            # what a job produced is only known once it is registered (the model's files)
            after.update(dict.fromkeys(rt.produced_fields & after.keys(), UNKNOWN))
        return Built(
            res=res,
            rt=rt,
            content=content,
            resolution=resolution,
            desired=desired,
            stored=stored,
            after=after,
            input_hash=""
            if resolution.bindings
            else desired_mod.input_hash(stored_json, content_json, resolution.inputs),
            config_hash=desired_mod.config_hash(written_json, content_json, res.lifecycle),
        )

    def change(self, built: Built, action: Action, reason: str, **kw: Any) -> ResourceChange:
        """A change of a configured resource, with what every change carries."""
        res = built.res
        waits = self._waits_for(built) if action.changes and action not in REMOVALS else None
        if waits is not None:  # it cannot be made in this apply: nothing it needs will exist
            self.waiting[res.address] = waits
            return ResourceChange(res.address, Action.NO_OP, f"waits for {waits}", before=kw.get("before"))
        rs = self.entry(res.address)
        failed = self.state.failures.get(str(res.address))
        if failed is not None and action.changes:  # planned again after a failure: say so first
            reason = f"last attempt failed: {failed['error'].splitlines()[0]}; {reason}"
        carries_desired = action.changes and action not in REMOVALS
        spec = (
            desired_mod.desired_spec(res, self.config.root, built.stored, built.content, built.resolution.inputs)
            if carries_desired
            else None
        )
        bound = built.resolution.bindings if carries_desired else []
        conditional = sorted({str(x.source) for x in bound if self._may_not_meet(x.source)})
        if conditional:
            kw.setdefault("condition", f"if {', '.join(conditional)} promotes")
        # what it used to depend on matters only to a change (removals then run after it)
        prior = tuple(Address.parse(d) for d in rs.dependencies) if rs is not None and action.changes else ()
        return ResourceChange(
            res.address,
            action,
            reason,
            input_hash=built.input_hash,
            config_hash=built.config_hash,
            depends_on=tuple(self.graph.dependencies(res.address)),
            prior_depends_on=prior,
            desired=spec,
            bindings=tuple(built.resolution.bindings) if carries_desired else (),
            on_remove=res.lifecycle.on_remove,
            **kw,
        )

    def _waits_for(self, built: Built) -> str | None:
        """What a change would wait for in vain: a dependency that waits itself, or one that stays as it is and
        has no result to bind (a promotion whose first version was not promoted: no champion to serve)."""
        for dep in self.graph.dependencies(built.res.address):
            if dep in self.waiting:
                return f"{dep} ({self.waiting[dep]})"
        for binding in built.resolution.bindings:
            source = self.changes.get(binding.source)
            if source is not None and source.action is Action.NO_OP and self.result_of(binding.source) is None:
                return f"{binding.source}: {source.reason}"
        return None

    def _may_not_meet(self, address: Address) -> bool:
        """Whether the planned change of ``address`` may end with its condition not met (an evaluation)."""
        change = self.changes.get(address)
        return change is not None and change.action is Action.EVALUATE

    def diff(self, built: Built, observed: dict[str, Any]) -> Diff:
        """The provider's diff, with the fields ``lifecycle.ignore_changes`` names left out."""
        after = built.after
        ignored = set(built.res.lifecycle.ignore_changes)
        if built.res.produced_by is not None:
            ignored |= built.rt.produced_fields
        if ignored:
            after = {k: v for k, v in after.items() if k not in ignored}
            observed = {k: v for k, v in observed.items() if k not in ignored}
        return built.rt.diff(after, observed)

    def error(self, diag: Diagnostic) -> None:
        self.errors.append(diag)

    def guard(self, res: ResourceSpec, change: ResourceChange) -> ResourceChange:
        """lifecycle.prevent_destroy: a plan that would delete or replace the resource fails."""
        if res.lifecycle.prevent_destroy and change.action in (Action.REPLACE, Action.DELETE):
            self.error(
                res.diag(
                    f"the plan would {change.action.value} {res.address}, but lifecycle.prevent_destroy is set"
                    f" ({change.reason})",
                    hint="undo the change that forces it, or remove prevent_destroy in mlplan.yaml settings",
                )
            )
        return change

    def adoption(self, b: Built) -> ResourceChange | None:
        """For a resource not in state: adopt what refresh found under its name if it is this project's
        and already what is wanted (another project's is an error, see ``owned``)."""
        res = b.res
        found = self.obs.existing.get(res.address)
        if found is None or found.archived or not self.owned(res, found) or self.diff(b, found.attributes).changed:
            return None  # an archived version is not adopted as it is: creating it again restores it
        return self.change(
            b,
            Action.ADOPT,
            f"exists in the workspace, owned by this project ({found.id})",
            before=public(found.attributes, b.rt.sensitive_fields),
            after=b.public_after,
            adopt_id=found.id,
        )

    def owned(self, res: ResourceSpec, found: Observed) -> bool:
        """Whether an existing resource of the wanted name is this project's (adopt) or not (an error)."""
        if found.tags.get(TAG_PROJECT) == self.config.project and found.tags.get(TAG_ADDRESS) == str(res.address):
            return True
        self.error(
            res.diag(
                f"{res.address.kind} {res.address.name!r} already exists in the workspace ({found.id})"
                " and is not managed by this project",
                ("name",),
                hint=f"adopt it with `mlplan import {res.address} {found.id}`, or choose another name",
            )
        )
        return False


# -- applying ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """How a node's operation ended. ``observed``/``desired``: what the provider made and what it was
    asked for (checked against the plan, then recorded); ``removed``: gone from state; ``reaped``: kept
    in state as deleted by its ttl; ``not_met``: a condition was not met (its dependents are skipped
    with this reason, and apply still succeeds)."""

    observed: Observed | None = None
    desired: Desired | None = None
    removed: bool = False
    reaped: bool = False
    not_met: str | None = None
    history: dict[str, Any] | None = None  # a decision for state's promotion history, recorded with the result


@dataclass
class ApplyContext:
    """What a node kind may use while applying one change: the plan's values and dependencies' results."""

    provider: Provider
    ctx: Context  # this operation's context (cancellation, checkpoint)
    project: str
    root: Path
    state: State  # the journal's state: read it, never write it
    results: Mapping[Address, Result]  # of the dependencies already done (or unchanged)
    redactor: Redactor
    op_id: str

    def rt(self, kind: str, where: str | None = None) -> ResourceType:
        return resource_type(self.provider, kind, where)

    def desired(self, change: ResourceChange) -> Desired:
        """The provider's Desired for ``change``: the planned spec, bindings filled, secrets restored."""
        ds = change.desired
        if ds is None:
            raise ProviderError(
                f"the plan holds no desired spec for {change.action.value}", address=str(change.address)
            )
        missing = [str(b.source) for b in change.bindings if b.source not in self.results]
        if missing:
            raise ProviderError(f"results of {', '.join(missing)} are not known", address=str(change.address))
        spec = desired_mod.fill(ds.document(), change.bindings, self.results)["spec"] if change.bindings else ds.spec
        if self.redactor:
            spec = self.redactor.restore(spec)
        tags = desired_mod.ownership_tags(self.project, change.address, self.op_id)
        return desired_mod.from_plan(change.address, ds, spec, self.root, self.project, tags)

    def input_hash(self, change: ResourceChange) -> str:
        return recorded_input_hash(change, self.results)

    def current(self, address: Address) -> Observed:
        rs = self.state.resources.get(str(address))
        if rs is None:
            raise ProviderError("it is not in state any more", address=str(address))
        return desired_mod.observed_of(rs)


def recorded_input_hash(change: ResourceChange, results: Mapping[Address, Result]) -> str:
    """What state records as ``change``'s inputs: the planned hash, or (bindings only known at apply) the hash of
    the spec with them filled from the dependencies' ``results``."""
    assert change.desired is not None
    return change.input_hash or desired_mod.document_hash(
        desired_mod.fill(change.desired.document(), change.bindings, results)
    )


# -- the node kind interface ------------------------------------------------------------------------------------
class NodeKind(ABC):
    """How one kind of node (see core.kinds.KindFacts.node) plans and applies."""

    name: str = ""
    # why removing one of this node kind's resources archives it (``removal_action``: ARCHIVE)
    archive_reason = "asset versions cannot be deleted in Azure ML, so it is archived"

    def lookup_for(self, res: ResourceSpec) -> tuple[str, str | None] | None:
        """(name, version) to look up during refresh when ``res`` is not in state (adoption), or None."""
        return None

    def operation_name(self, change: ResourceChange) -> str:
        """The provider-side name an interrupted operation on ``change`` is found by (its pending record)."""
        return change.address.name

    @abstractmethod
    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        """The change that makes ``res`` real; dependencies are planned already (``p.changes``)."""

    def plan_removal(
        self, p: PlanContext, address: Address, rs: ResourceState, why: str, destroy: bool = False
    ) -> ResourceChange:
        """The change for a resource in state that the configuration no longer has, or that destroy removes."""
        rt = p.rt(rs.kind, str(address))
        observed = p.obs.resources.get(str(address), desired_mod.observed_of(rs))
        if observed is None:
            return ResourceChange(address, Action.FORGET, f"{why}; already gone from the workspace")
        change = ResourceChange(
            address,
            self.removal_action(rt, rs, p.config.resources.get(address)),
            why,
            before=public(rs.attributes, rt.sensitive_fields),
            depends_on=tuple(Address.parse(d) for d in rs.dependencies),
        )
        if change.action is Action.ARCHIVE:
            change = replace(change, reason=f"{why}; {self.archive_reason}")
        elif change.action is Action.DELETE:  # what the removal does to what it manages (an ARM template's resources)
            change = replace(change, predicted=rt.predict(p.ctx, None, observed))
        res = p.config.resources.get(address)
        return p.guard(res, change) if res is not None else change

    def removal_action(self, rt: ResourceType, rs: ResourceState, res: ResourceSpec | None) -> Action:
        return Action.DELETE

    def planned_result(self, p: PlanContext, change: ResourceChange) -> Result | None:
        """This node's result once the plan is applied (what references to it resolve to), None when
        only apply will tell."""
        if change.action in NEW_RESULT:
            return None
        if change.action is Action.ADOPT:
            found = p.obs.existing.get(change.address)
            return desired_mod.observed_result(found) if found is not None else None
        rs = p.entry(change.address)
        return desired_mod.state_result(rs) if rs is not None else None

    @abstractmethod
    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        """Carry out ``change`` with the provider; raise ProviderError when the provider failed knowingly."""

    # shared by the node kinds that remove things
    def remove(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        rt = a.rt(change.address.kind, str(change.address))
        if change.action is Action.FORGET:
            return Outcome(removed=True)
        current = a.current(change.address)
        if change.action is Action.ARCHIVE:
            rt.archive(a.ctx, current)
        else:
            rt.delete(a.ctx, current)
        return Outcome(reaped=True) if change.reap else Outcome(removed=True)

    def adopt(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        rt = a.rt(change.address.kind, str(change.address))
        assert change.adopt_id is not None
        found = rt.read(a.ctx, change.adopt_id)
        if found is None:
            raise ProviderError(f"the resource to adopt ({change.adopt_id}) is gone; run plan again")
        return Outcome(observed=found, desired=a.desired(change))


# -- lifecycle rules that resources and asset versions share ---------------------------------------------------
def lifecycle_change(p: PlanContext, b: Built, rs: ResourceState, observed: Observed | None) -> ResourceChange | None:
    """The change a resource in state gets from its lifecycle alone (ttl, deleted outside mlplan), if any."""
    address = b.res.address
    if rs.status == "reaped":
        if p.same_inputs(rs, b) and address not in p.replace:
            return p.change(b, Action.NO_OP, "deleted by ttl; recreated when its inputs change or with --replace")
        why = "recreation requested with --replace" if address in p.replace else "inputs changed"
        return p.change(b, Action.CREATE, f"deleted by ttl earlier; {why}", after=b.public_after)
    if observed is None:
        return p.change(b, Action.CREATE, "deleted outside mlplan: will be created again", after=b.public_after)
    ttl = b.res.lifecycle.ttl
    if ttl is not None and rs.created_at and datetime.fromisoformat(rs.created_at) + ttl <= p.now:
        before = public(observed.attributes, b.rt.sensitive_fields)
        reason = f"ttl expired ({_duration(ttl.total_seconds())} since {rs.created_at})"
        return p.change(b, Action.DELETE, reason, before=before, reap=True)
    return None


def _duration(seconds: float) -> str:
    secs = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"
