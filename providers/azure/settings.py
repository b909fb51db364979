"""Where the azure provider works: the workspace's coordinates (``workspace:`` in mlplan.yaml) and how to reach it
(``cloud:``, ``credential:``, handed over as ``Context.connection``). Plain data, no Azure SDK: the engine has
already checked the shapes against the project schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.base import Context

DEFAULT_CLOUD = "AzureCloud"
DEFAULT_CREDENTIAL = "default"


@dataclass(frozen=True)
class Workspace:
    """An Azure ML workspace by its coordinates; ``location`` is None when mlplan.yaml leaves it out (the
    provider then reads it from the workspace)."""

    subscription_id: str
    resource_group: str
    name: str
    location: str | None = None

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
        )

    def asset_id(self, folder: str, name: str, version: str | None = None) -> str:
        """The ARM id of a workspace asset (``models``, ``data``, ``environments``, ``computes``, ...)."""
        tail = f"/{folder}/{name}" + (f"/versions/{version}" if version is not None else "")
        return self.arm_id + tail

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Workspace:
        missing = [k for k in ("subscription_id", "resource_group", "workspace_name") if not settings.get(k)]
        if missing:
            raise ProviderError(
                f"the azure environment's workspace: lacks {', '.join(missing)} (mlplan.yaml, environments.<name>"
                ".workspace: {subscription_id, resource_group, workspace_name, location})",
                provider="azure",
            )
        location = settings.get("location")
        return cls(
            str(settings["subscription_id"]),
            str(settings["resource_group"]),
            str(settings["workspace_name"]),
            normal_location(str(location)) if location else None,
        )


def normal_location(location: str) -> str:
    """A region as ARM writes it in ids and answers: ``West Europe`` -> ``westeurope``."""
    return location.replace(" ", "").lower()


@dataclass(frozen=True)
class Target:
    """The workspace, the cloud setting (a public cloud's name or a custom cloud's mapping) and the credential kind."""

    workspace: Workspace
    cloud: str | Mapping[str, Any]
    credential: str

    @classmethod
    def from_context(cls, ctx: Context) -> Target:
        connection = ctx.connection or {}
        return cls(
            Workspace.from_settings(ctx.workspace),
            connection.get("cloud") or DEFAULT_CLOUD,
            str(connection.get("credential") or DEFAULT_CREDENTIAL),
        )
