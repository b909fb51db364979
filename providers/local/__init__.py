"""The ``local`` provider: a real Azure ML-like workspace on disk, the embedded default.

Assets are versioned copies under the workspace folder, computes are local job slots, command
jobs run as subprocesses, and online deployments are served by the Azure ML inference server
behind a per-endpoint router on loopback.
"""

from __future__ import annotations

from mlplan.providers.base import Provider, ResourceType
from mlplan.providers.local.assets import DataType, EnvironmentType, ModelType
from mlplan.providers.local.compute import ComputeType
from mlplan.providers.local.endpoints import OnlineDeploymentType, OnlineEndpointType, TrafficType
from mlplan.providers.local.jobs import JobType


class LocalProvider(Provider):
    name = "local"

    def __init__(self) -> None:
        self._types: dict[str, ResourceType] = {
            t.kind: t
            for t in (
                DataType(),
                ModelType(),
                EnvironmentType(),
                ComputeType(),
                JobType(),
                OnlineEndpointType(),
                OnlineDeploymentType(),
                TrafficType(),
            )
        }

    def resource_type(self, kind: str) -> ResourceType | None:
        return self._types.get(kind)

    def supported_kinds(self) -> list[str]:
        return sorted(self._types)

    def close(self) -> None:
        endpoints = self._types["online_endpoint"]
        assert isinstance(endpoints, OnlineEndpointType)
        endpoints.close()


__all__ = ["LocalProvider"]
