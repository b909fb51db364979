"""The ``azure`` provider: Azure ML workspaces through azure-ai-ml and azure-mgmt-resource.

Every Azure SDK import happens inside this package, lazily, so that ``mlplan --help`` and the
local provider never pay for them. Data assets, environments, models (``assets``), compute clusters and instances
(``compute``), command jobs (``jobs``), online endpoints, deployments and traffic (``endpoints``) are managed on the
workspace, ARM template deployments (``arm``) in its resource group. What it is built on: ``settings`` (the
workspace, cloud and credential of the environment), ``cloud``, ``credentials``, ``clients`` (MLClient and the ARM
deployments client, retries bounded, errors naming the call) and ``kinds`` (per kind: the entity to create,
``desired_attributes``, ``observed``).
"""

from __future__ import annotations

from collections.abc import Iterable

from mlplan.providers.azure.connection import Connection
from mlplan.providers.base import Context, Provider, ResourceType


class AzureProvider(Provider):
    name = "azure"

    def __init__(self) -> None:
        from mlplan.providers.azure.arm import ArmDeploymentType
        from mlplan.providers.azure.assets import DataType, EnvironmentType, ModelType
        from mlplan.providers.azure.compute import ComputeType
        from mlplan.providers.azure.endpoints import OnlineDeploymentType, OnlineEndpointType, TrafficType
        from mlplan.providers.azure.jobs import JobType

        self.conn = Connection()
        built: list[ResourceType] = [
            DataType(self.conn),
            environments := EnvironmentType(self.conn),
            models := ModelType(self.conn),
            ComputeType(self.conn),
            JobType(self.conn),
            endpoints := OnlineEndpointType(self.conn),
            OnlineDeploymentType(self.conn, {"model": models, "environment": environments}),
            TrafficType(self.conn, endpoints),
            ArmDeploymentType(self.conn),
        ]
        # every kind of core.kinds but the engine's own (promotion); a kind added there and not here is refused by
        # the engine's provider check with its file and line
        self._types: dict[str, ResourceType] = {t.kind: t for t in built}

    def bind(self, ctx: Context) -> None:
        self.conn.bind(ctx)

    def resource_type(self, kind: str) -> ResourceType | None:
        return self._types.get(kind)

    def supported_kinds(self) -> Iterable[str]:
        return sorted(self._types)
