"""A setting of another resource: an online endpoint's traffic split, its own step after the deployments
it names. It exists with its endpoint (nothing to collide with or adopt); removing it from the
configuration forgets it and leaves the split as it is, as ``az ml`` does for an absent field.

A deployment deleted by its ttl (in this plan, or earlier and not recreated) takes no traffic: the
plan moves its share to the endpoint's other deployments in the same proportions, or to none, and
says so; apply sets exactly the planned split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mlplan.core.diffing import show
from mlplan.engine.address import Address
from mlplan.engine.config import ResourceSpec
from mlplan.engine.nodes.base import ApplyContext, NodeKind, Outcome, PlanContext, lifecycle_change, public
from mlplan.engine.plan import Action, ResourceChange
from mlplan.engine.reasons import diff_reason
from mlplan.state.model import ResourceState


class SettingNode(NodeKind):
    name = "setting"

    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        gone = reaped(p, p.graph.dependencies(res.address))
        note = ""
        if gone:
            split = rebalance(res.spec.get("traffic") or {}, gone)
            res = replace(res, spec={**res.spec, "traffic": split})
            note = f"{', '.join(gone)} deleted by ttl: traffic {show(split) if split else 'to no deployment'}; "
        b = p.build(res)
        rs, observed = p.observed(res.address)
        if rs is None:
            return p.change(b, Action.SHIFT_TRAFFIC, note + "not in state: will be set", after=b.public_after)
        by_lifecycle = lifecycle_change(p, b, rs, observed)
        if by_lifecycle is not None:
            action = Action.SHIFT_TRAFFIC if by_lifecycle.action is Action.CREATE else by_lifecycle.action
            return replace(by_lifecycle, action=action, reason=note + by_lifecycle.reason)
        assert observed is not None
        before = public(observed.attributes, b.rt.sensitive_fields)
        diff = p.diff(b, observed.attributes)
        if not diff.changed:
            return p.change(b, Action.NO_OP, "up to date", before=before, after=b.public_after)
        reason = note + diff_reason(rs, b.content, diff.changes)
        return p.change(b, Action.SHIFT_TRAFFIC, reason, before=before, after=b.public_after, changes=diff.changes)

    def plan_removal(
        self, p: PlanContext, address: Address, rs: ResourceState, why: str, destroy: bool = False
    ) -> ResourceChange:
        gone = str(address) in p.obs.resources and p.obs.resources[str(address)] is None
        if destroy or gone:
            return super().plan_removal(p, address, rs, why, destroy)  # destroy resets the split
        left = "no longer managed by mlplan, left as it is in the workspace"
        return ResourceChange(address, Action.FORGET, f"{why}: {left}")

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        if change.action in (Action.DELETE, Action.FORGET):
            return self.remove(a, change)
        if change.action is not Action.SHIFT_TRAFFIC:
            raise NotImplementedError(f"a {self.name} node cannot {change.action.value}")
        rt = a.rt(change.address.kind, str(change.address))
        desired = a.desired(change)
        if str(change.address) in a.state.resources:
            return Outcome(observed=rt.update(a.ctx, desired, a.current(change.address)), desired=desired)
        return Outcome(observed=rt.create(a.ctx, desired), desired=desired)


def reaped(p: PlanContext, dependencies: Iterable[Address]) -> list[str]:
    """Names of the deployments among ``dependencies`` that ttl deletes in this plan or deleted before."""
    out = []
    for dep in dependencies:
        change, rs = p.changes.get(dep), p.entry(dep)
        if dep.parent is None or change is None:  # only the nested resources: the endpoint's deployments
            continue
        if change.reap or (change.action is Action.NO_OP and rs is not None and rs.status == "reaped"):
            out.append(dep.name.split("/", 1)[1])
    return sorted(out)


def rebalance(traffic: Mapping[str, Any], gone: Iterable[str]) -> dict[str, int]:
    """The split without ``gone``, scaled back to 100 in the same proportions (largest remainder)."""
    gone = set(gone)
    rest = {k: int(v) for k, v in sorted(traffic.items()) if k not in gone and int(v) > 0}
    total = sum(rest.values())
    if total in (0, 100):
        return rest
    scaled = {k: v * 100 // total for k, v in rest.items()}
    for k in sorted(rest, key=lambda k: (-(rest[k] * 100 % total), k))[: 100 - sum(scaled.values())]:
        scaled[k] += 1
    return scaled
