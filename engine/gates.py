"""Gates mlplan.yaml declares that this version cannot enforce yet: never bypassed in silence.

An environment's ``approval: {required: true}`` and the project's ``promotion`` policies are
gates someone put in on purpose. Until mlplan enforces them, a plan that would pass through one
says so (a warning in every format, PR comments included) and apply refuses it: for a gate,
failing closed is the only honest choice. Each message says how to proceed deliberately.
"""

from __future__ import annotations

from mlplan.core.errors import GateClosed
from mlplan.engine.config import Config
from mlplan.engine.plan import Action, Plan, ResourceChange

_MODEL_VERSIONS = frozenset({Action.CREATE, Action.NEW_VERSION, Action.REPLACE})
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
    for model in sorted(config.promotion):
        hits = [
            c
            for c in plan.changes
            if c.address.kind == "model" and c.address.name == model and c.action in _MODEL_VERSIONS
        ]
        if hits:
            out.append(
                f"promotion policy for model {model} applies to {_listing(hits)}; evaluation against the"
                f" current model is not enforced by this version of mlplan, so apply refuses rather than"
                f" register and serve it unevaluated (remove promotion.{model} to do that deliberately)"
            )
    return out


def check(config: Config, plan: Plan) -> None:
    """Refuse to apply ``plan`` if it passes a gate this version cannot enforce."""
    reasons = unenforced(config, plan)
    if reasons:
        raise GateClosed(reasons)
