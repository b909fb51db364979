"""How each kind of mlplan maps onto Azure: pure functions the azure provider's resource types are built on.

Per kind, a map with

- ``to_entity(desired, ws)``: the azure-ai-ml entity to create (through the loader ``az ml <kind> create -f`` uses,
  with mlplan's marks: ownership tags, content digests), ready for ``ml_client.<collection>.create_or_update`` /
  ``begin_create_or_update`` (the ARM deployment: ``to_body``, a request body; the traffic split: ``apply`` to the
  endpoint as read);
- ``desired_attributes(desired, ws)``: the attributes ``read`` will report once that is applied, the service's
  defaults filled in, so that a plan right after an apply is a no-op;
- ``observed(entity, ws)``: an entity as ``get`` / ``list`` return it, as an ``Observed`` with those attributes
  (user tags and properties without mlplan's marks), its version, all its tags (ownership), and its outputs.

``tests/unit/test_azure_kinds.py`` checks, for every kind, that ``desired_attributes`` equals ``observed`` of the
same spec sent through azure-ai-ml's REST conversion and back, with what the REST API fills in.
"""

from __future__ import annotations

from typing import Any

from mlplan.providers.azure.kinds.arm import ArmDeploymentMap
from mlplan.providers.azure.kinds.assets import DataMap, EnvironmentMap, ModelMap
from mlplan.providers.azure.kinds.compute import ComputeMap
from mlplan.providers.azure.kinds.endpoints import OnlineDeploymentMap, OnlineEndpointMap, TrafficMap
from mlplan.providers.azure.kinds.jobs import JobMap

MAPS: dict[str, Any] = {
    m.kind: m
    for m in (
        ComputeMap(),
        DataMap(),
        ModelMap(),
        EnvironmentMap(),
        JobMap(),
        OnlineEndpointMap(),
        OnlineDeploymentMap(),
        TrafficMap(),
        ArmDeploymentMap(),
    )
}

__all__ = [
    "MAPS",
    "ArmDeploymentMap",
    "ComputeMap",
    "DataMap",
    "EnvironmentMap",
    "JobMap",
    "ModelMap",
    "OnlineDeploymentMap",
    "OnlineEndpointMap",
    "TrafficMap",
]
