"""The ``azure`` provider: Azure ML workspaces through azure-ai-ml and azure-mgmt-resource.

Every Azure SDK import happens inside this package, lazily, so that ``mlplan --help`` and the
local provider never pay for them. Data assets, environments, models (``assets``), amlcompute clusters
(``compute``), command jobs (``jobs``), online endpoints, deployments and traffic (``endpoints``) are managed on the
workspace; the other kinds validate offline and are refused with their file and
line until they are built. What it is built on: ``settings`` (the workspace, cloud and credential of the environment),
``cloud``, ``credentials``, ``clients`` (MLClient and the ARM deployments client, retries bounded, errors naming
the call) and ``kinds`` (per kind: the entity to create, ``desired_attributes``, ``observed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.core.kinds import KINDS
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.common import reserved_problems
from mlplan.providers.base import Context, Desired, Observed, Problem, Provider, ResourceType

NOT_YET = "is not supported by the azure provider yet"


class _NotYetType(ResourceType):
    """A kind the azure provider does not manage yet: refused at validate and plan time, with the file and line."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        return {}

    def validate(self, desired: Desired) -> list[Problem]:
        return [
            Problem(
                (),
                f"{self.kind} {NOT_YET} (it manages data, environment, model, amlcompute, command jobs, online"
                " endpoints, deployments and traffic so far)",
                "keep this resource in a local environment, or manage it outside mlplan for now",
            ),
            *reserved_problems(desired.spec),
        ]

    def _refuse(self) -> ProviderError:
        return ProviderError(f"{self.kind} {NOT_YET}", provider="azure")

    def read(self, ctx: Context, ident: str) -> Observed | None:
        raise self._refuse()

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        raise self._refuse()

    def create(self, ctx: Context, desired: Desired) -> Observed:
        raise self._refuse()

    def delete(self, ctx: Context, current: Observed) -> None:
        raise self._refuse()


class AzureProvider(Provider):
    name = "azure"

    def __init__(self) -> None:
        from mlplan.providers.azure.assets import DataType, EnvironmentType, ModelType
        from mlplan.providers.azure.compute import ComputeType
        from mlplan.providers.azure.endpoints import OnlineDeploymentType, OnlineEndpointType, TrafficType
        from mlplan.providers.azure.jobs import JobType

        self.conn = Connection()
        built: list[ResourceType] = [
            DataType(self.conn),
            EnvironmentType(self.conn),
            ModelType(self.conn),
            ComputeType(self.conn),
            JobType(self.conn),
            endpoints := OnlineEndpointType(self.conn),
            OnlineDeploymentType(self.conn),
            TrafficType(self.conn, endpoints),
        ]
        self._types: dict[str, ResourceType] = {kind: _NotYetType(kind) for kind in KINDS}
        self._types.update({t.kind: t for t in built})

    def bind(self, ctx: Context) -> None:
        self.conn.bind(ctx)

    def resource_type(self, kind: str) -> ResourceType | None:
        return self._types.get(kind)

    def supported_kinds(self) -> Iterable[str]:
        return sorted(self._types)
