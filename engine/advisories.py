"""Plan warnings about the configuration: what is valid but almost certainly not what was meant.

They travel with the plan (its ``diagnostics``: text, JSON and the markdown PR comment show them) and
never block apply. Each says where (file:line), what happens, and what to write instead.
"""

from __future__ import annotations

from collections import defaultdict

from mlplan.core import kinds
from mlplan.engine.address import Address
from mlplan.engine.config import Config
from mlplan.state.model import State


def warnings(config: Config, state: State) -> list[str]:
    """Every warning about ``config`` (planned against ``state``), in address order."""
    return _silent_endpoints(config, state)


def _silent_endpoints(config: Config, state: State) -> list[str]:
    """An endpoint that serves deployments but routes them no traffic answers every request with 503
    (Azure ML gives a new deployment 0 % unless told otherwise): easy to miss, since apply succeeds.

    ``traffic: {}`` or all zeros says so outright. No ``traffic:`` at all leaves the split as it is
    (it may be managed by hand): that is only sure to route nothing while none of the endpoint's
    deployments exists yet, since a split can only name deployments that exist."""
    children: dict[Address, list[Address]] = defaultdict(list)
    for a in config.resources:
        parent = kinds.facts(a.kind).parent
        if parent is not None and "/" in a.name:
            children[Address(parent, a.name.split("/", 1)[0])].append(a)
    out = []
    for endpoint, deployments in sorted(children.items(), key=lambda item: str(item[0])):
        res = config.resources.get(endpoint)
        if res is None:
            continue
        traffic = res.spec.get("traffic")
        if isinstance(traffic, dict) and any(isinstance(v, int) and v > 0 for v in traffic.values()):
            continue
        if traffic is not None and not isinstance(traffic, dict):
            continue  # malformed: an error of its own (engine/derived.py)
        if traffic is None and any(_live(state, d) for d in deployments):
            continue
        names = sorted(d.name.split("/", 1)[1] for d in deployments)
        how = "no traffic: key" if traffic is None else "traffic: {}" if not traffic else "every share is 0"
        where = f"{res.file}:{res.line_of(('traffic',))}"
        out.append(
            f"{where}: endpoint {endpoint.name} has deployments ({', '.join(names)}) but sends them no traffic"
            f" ({how}): requests get 503; add traffic: {{{names[0]}: 100}}"
        )
    return out


def _live(state: State, address: Address) -> bool:
    rs = state.resources.get(str(address))
    return rs is not None and rs.status == "live"
