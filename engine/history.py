"""The promotion history state keeps: each decision (promoted, kept, manual, rollback) with who made it,
when, on which versions and data, and the evidence; and how ``mlplan promotions`` shows it."""

from __future__ import annotations

from typing import Any

from mlplan.core.errors import UsageError
from mlplan.core.suggest import did_you_mean
from mlplan.state.model import State


def entries(state: State, model: str | None = None) -> list[dict[str, Any]]:
    """The decisions, oldest first; only ``model``'s when given (a model with none is an error)."""
    found = [e for e in state.promotions if model is None or e.get("model") == model]
    if model is not None and not found:
        known = sorted({str(e.get("model")) for e in state.promotions})
        raise UsageError(
            f"no promotion decision for model {model!r} in state{did_you_mean(model, known)}"
            f" (models with decisions: {', '.join(known) or 'none yet'})"
        )
    return found


def text(found: list[dict[str, Any]]) -> str:
    """One block per decision, newest last: the verdict, the versions, who and when, and the evidence."""
    if not found:
        return "No promotion decisions yet.\n"
    lines = []
    for e in found:
        by = e.get("by") or {}
        who = f"{by.get('user', '?')}@{by.get('host', '?')}" + (f" ({by['ci_run']})" if by.get("ci_run") else "")
        lines.append(f"{e.get('at', '?')}  {e.get('model')}: {e.get('decision')}  by {who}")
        lines.append(f"    champion {e.get('champion_before') or 'none'} -> {e.get('champion') or 'none'}")
        if e.get("challenger"):
            lines.append(f"    challenger {e['challenger']}, evaluated on {e.get('evaluation_data', '?')}")
        evidence = e.get("evidence") or {}
        if "b" in evidence and "c" in evidence:
            lines.append(
                f"    2x2: both right {evidence.get('both_right', '?')}, champion only {evidence['b']},"
                f" challenger only {evidence['c']}, both wrong {evidence.get('both_wrong', '?')}"
            )
        lines += [f"    {reason}" for reason in e.get("reasons") or []]
    return "\n".join(lines) + "\n"
