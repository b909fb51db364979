"""Gates mlplan.yaml declares that this version cannot enforce yet: never bypassed in silence.

An environment's ``approval: {required: true}`` is a gate someone put in on purpose (promotion
policies are enforced: engine/nodes/promotion.py). Until mlplan enforces them, a plan that would pass through one
says so (a warning in every format, PR comments included) and apply refuses it: for a gate,
failing closed is the only honest choice. Each message says how to proceed deliberately.
"""

from __future__ import annotations

from mlplan.core.errors import GateClosed
from mlplan.engine.config import Config
from mlplan.engine.plan import Action, Plan, ResourceChange

_SHOWN = 5


def _listing(changes: list[ResourceChange]) -> str:
    shown = ", ".join(f"{c.action.value} {c.address}" for c in changes[:_SHOWN])
    return shown + (f" and {len(changes) - _SHOWN} more" if len(changes) > _SHOWN else "")


def unenforced(config: Config, plan: Plan) -> list[str]:
    """What in ``plan`` would pass a gate this version of mlplan cannot enforce (empty: none)."""
    if plan.mode == "refresh-only":
        return []
    out = []
    env = config.environment.name
    approval = config.environment.approval
    if approval.get("required"):
        gated = {str(a) for a in approval.get("actions") or []}
        if "delete" in gated:
            gated.add(Action.ARCHIVE.value)  # removing an asset archives it: a removal all the same
        hits = [c for c in plan.changes if c.action.changes and (not gated or c.action.value in gated)]
        if hits:
            out.append(
                f"environment {env} requires approval for {_listing(hits)}; approvals are not enforced by"
                f" this version of mlplan, so apply refuses rather than act unapproved (set"
                f" environments.{env}.approval.required: false to apply without approval)"
            )
    return out


def check(config: Config, plan: Plan) -> None:
    """Refuse to apply ``plan`` if it passes a gate this version cannot enforce."""
    reasons = unenforced(config, plan)
    if reasons:
        raise GateClosed(reasons)
