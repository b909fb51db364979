"""A data source: something the configuration references but does not manage (another project's data
asset, a curated environment, an endpoint of another team). Read at plan time and pinned: the plan
records what it resolved to, apply uses that, and a saved plan whose source moved is stale."""

from __future__ import annotations

from mlplan.engine.address import Address
from mlplan.engine.config import ResourceSpec
from mlplan.engine.nodes.base import ApplyContext, NodeKind, Outcome, PlanContext, attributes_digest, public
from mlplan.engine.plan import Action, ResourceChange, SourcePin
from mlplan.providers.base import Observed


class SourceNode(NodeKind):
    name = "source"

    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        raise NotImplementedError("data sources are not configured resources: see plan_source")

    def plan_source(self, address: Address, observed: Observed) -> ResourceChange:
        return ResourceChange(
            address,
            Action.READ,
            f"data source: {observed.id}",
            after=public(observed.attributes),
            pin=pin_of(observed),
        )

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        return Outcome()  # read at plan time; apply checks the pin before anything runs (freshness)


def pin_of(observed: Observed) -> SourcePin:
    return SourcePin(observed.id, observed.version, attributes_digest(observed.attributes))
