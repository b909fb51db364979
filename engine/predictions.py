"""What a provider predicts a change will do to the resources it manages (ARM what-if for an ``arm_deployment``):
asked while planning (read-only), carried in the plan, asked again by apply right before it acts, and a plan whose
predictions no longer hold is refused as stale, so that apply never does what the plan did not show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from mlplan.core.diffing import show
from mlplan.core.errors import StalePlanError
from mlplan.providers.base import UNCHANGING, PredictedChange

_SHOWN = 3


def moving(predicted: Iterable[PredictedChange] | None) -> list[PredictedChange]:
    """The predictions that change something (not ``no_change`` or ``ignore``)."""
    return [p for p in predicted or () if p.change not in UNCHANGING]


def drifting(predicted: Iterable[PredictedChange] | None) -> list[PredictedChange]:
    """The predictions that say something was changed outside mlplan: a create, a delete, a modify with a property
    change that takes effect. ``deploy`` (changes ARM cannot tell) and ``unsupported`` (what it cannot predict) are
    shown, never taken for drift, or a template ARM cannot fully predict would be deployed on every plan."""
    return [
        p
        for p in predicted or ()
        if p.change in ("create", "delete")
        or (p.change == "modify" and (not p.delta or any(d.change != "no_effect" for d in p.delta)))
    ]


def describe(p: PredictedChange, values: bool = False) -> str:
    """``modify Microsoft.Storage/storageAccounts/stdata (sku.name)``; with ``values``, each path's before and
    after (``sku.name: Standard_LRS -> Standard_GRS``)."""
    name = p.resource_id.rsplit("/", 1)[-1]
    what = f"{p.resource_type}/{name}" if p.resource_type else p.resource_id
    paths = [
        f"{d.path}: {show(d.before)} -> {show(d.after)}" if values else d.path
        for d in p.delta
        if d.change != "no_effect"
    ]
    return f"{p.change.replace('_', ' ')} {what}" + (f" ({', '.join(paths)})" if paths else "")


def summary(predicted: Iterable[PredictedChange] | None, values: bool = False) -> str:
    """The changes among the predictions, a few by name: for reasons and messages."""
    changes = moving(predicted)
    if not changes:
        return "no change"
    shown = "; ".join(describe(p, values) for p in changes[:_SHOWN])
    return shown + (f" and {len(changes) - _SHOWN} more" if len(changes) > _SHOWN else "")


def same(a: Iterable[PredictedChange], b: Iterable[PredictedChange]) -> bool:
    """Whether two predictions change the same resources the same way (order aside). What stays as it is does not
    count: a resource someone adds next to an Incremental deployment's is ``ignore``, and changes nothing."""

    return _key(a) == _key(b)


def check_unchanged(
    address: str, provider: str, planned: tuple[PredictedChange, ...], now: tuple[PredictedChange, ...] | None
) -> None:
    """Refuse (StalePlanError) when the provider now predicts something else than the plan showed."""
    if now is None or same(planned, now):
        return
    before, after = _key(planned), _key(now)
    gone = [p for p in moving(planned) if _one(p) not in after]  # what only one side predicts
    new = [p for p in moving(now) if _one(p) not in before]
    raise StalePlanError(
        f"the plan is stale: the {provider} provider now predicts other changes for {address} than the plan"
        f" shows (the plan shows: {_listed(gone)}; now predicted instead: {_listed(new)}), so nothing was done"
        " for it. Run `mlplan plan` again and review what it shows."
    )


def _listed(ps: list[PredictedChange]) -> str:
    return summary(ps, values=True) if ps else "nothing else"


def _one(p: PredictedChange) -> str:
    return json.dumps(p.to_json(), sort_keys=True, default=str)


def _key(ps: Iterable[PredictedChange]) -> list[str]:
    return sorted(_one(p) for p in moving(ps))
