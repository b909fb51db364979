"""Choosing a champion by hand: ``mlplan promote MODEL --version N`` and ``mlplan rollback MODEL``.

Both become a plan in which ``promotion.MODEL`` promotes the chosen version (action ``promote``) and the
deployments its policy governs move to it, through the same apply as any other change (shown, confirmed,
journalled, zero-downtime updates); the decision goes into the promotion history as ``manual`` or
``rollback`` with its reason.
"""

from __future__ import annotations

from mlplan.core.errors import UsageError
from mlplan.core.suggest import did_you_mean
from mlplan.engine.address import Address
from mlplan.engine.nodes.base import ChampionRequest, resource_type
from mlplan.engine.nodes.promotion import version_of
from mlplan.engine.session import Session
from mlplan.state.model import State


def request(session: Session, model: str, version: str, decision: str, reason: str) -> ChampionRequest:
    """A checked request: ``model`` has a promotion policy, and ``version`` exists and is not archived."""
    policies = sorted(a.name for a in session.config.resources if a.kind == "promotion")
    if model not in policies:
        raise UsageError(
            f"model {model!r} has no promotion policy in mlplan.yaml{did_you_mean(model, policies)}"
            f" (models with one: {', '.join(policies) or 'none'})"
        )
    found = resource_type(session.provider, "model").lookup(session.ctx, model, version)
    if found is None:
        raise UsageError(f"model {model} has no version {version!r} in the workspace")
    if found.archived:
        raise UsageError(f"model {model} version {version} is archived: restore it before serving it")
    return ChampionRequest(model, version, decision, reason)


def previous(state: State, model: str) -> str:
    """The version that was champion before the current one (what ``rollback`` restores by default)."""
    entry = state.resources.get(str(Address("promotion", model)))
    current = entry.attributes.get("champion") if entry is not None else None
    for decision in reversed(state.promotions):  # a rollback is not a step back to: undo it with promote
        if decision.get("model") != model or decision.get("champion") != current or decision["decision"] == "rollback":
            continue
        before = version_of(decision.get("champion_before"))
        if before is not None and decision.get("champion_before") != current:
            return before
    raise UsageError(f"model {model} has no earlier champion to roll back to; name one with --to VERSION")
