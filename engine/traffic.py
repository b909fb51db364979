"""An endpoint's traffic split around deployments that their ttl deletes.

A deployment deleted by ttl (in this plan, or earlier and not recreated) takes no traffic: the
split goes to the endpoint's other deployments in the same proportions, or to none. The planner
and the applier both derive the split this way, so what is applied is what was planned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlplan.engine.address import Address
from mlplan.engine.plan import Action, ResourceChange
from mlplan.state.model import State


def reaped_deployments(
    dependencies: Iterable[Address], changes: Mapping[Address, ResourceChange], state: State
) -> list[str]:
    """Names of the deployments among ``dependencies`` that ttl deletes now or deleted before."""
    out = []
    for dep in dependencies:
        change, rs = changes.get(dep), state.resources.get(str(dep))
        if dep.kind != "online_deployment" or change is None:
            continue
        if change.reaps or (change.action is Action.NO_OP and rs is not None and rs.status == "reaped"):
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


def without_reaped(
    spec: dict[str, Any], dependencies: Iterable[Address], changes: Mapping[Address, ResourceChange], state: State
) -> tuple[dict[str, Any], list[str]]:
    """A traffic spec with ttl-deleted deployments' share moved to the others; and their names."""
    gone = reaped_deployments(dependencies, changes, state)
    if not gone:
        return spec, []
    return {**spec, "traffic": rebalance(spec.get("traffic") or {}, gone)}, gone
