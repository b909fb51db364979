"""Managed online endpoints on Azure ML (``onlineEndpoints/<name>``): created, updated (keeping the traffic split
Azure has, since azure-ai-ml PUTs the whole endpoint) and deleted through long-running operations; refresh reads
all of a workspace's endpoints with one paged list. Deployments, the traffic split and scoring are not built yet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlplan.providers.azure.clients import calling
from mlplan.providers.azure.compute import wait_for
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.common import quiet_sdk, reserved_problems
from mlplan.providers.azure.kinds.endpoints import OnlineEndpointMap
from mlplan.providers.base import Context, Desired, Observed, Problem, ResourceType


class OnlineEndpointType(ResourceType):
    kind = "online_endpoint"
    id_format = "onlineEndpoints/<name>"
    output_fields = frozenset({"name", "scoring_uri", "swagger_uri", "arm_id", "provisioning_state"})
    immutable_fields = frozenset({"auth_mode"})
    read_batch = 500

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.map = OnlineEndpointMap()

    def validate(self, desired: Desired) -> list[Problem]:
        problems = reserved_problems(desired.spec)
        for field in ("traffic", "mirror_traffic"):
            if desired.spec.get(field):
                problems.append(
                    Problem(
                        (field,),
                        f"{field}: a traffic split is not supported by the azure provider yet",
                        "leave the split out for now (deployments and traffic are being built)",
                    )
                )
        return problems

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    def _observe(self, entity: Any) -> Observed:
        observed: Observed = self.map.observed(entity, self.conn.ws())
        return observed

    def _get(self, ctx: Context, name: str) -> Any | None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling("online_endpoints.get", f"online endpoint '{name}'"), quiet_sdk():
                return ml.online_endpoints.get(name)
        except ResourceNotFoundError:
            return None

    def read(self, ctx: Context, ident: str) -> Observed | None:
        entity = self._get(ctx, ident.split("/", 1)[1])
        return self._observe(entity) if entity is not None else None

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        """One paged list of the workspace's endpoints instead of a GET each."""
        ml = self.conn.ml(ctx)
        with calling("online_endpoints.list", "the workspace's online endpoints"), quiet_sdk():
            found = {e.name: e for e in ml.online_endpoints.list()}
        names = [i.split("/", 1)[1] for i in idents]
        return [self._observe(found[n]) if n in found else None for n in names]

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self.read(ctx, f"onlineEndpoints/{name}")

    def create(self, ctx: Context, desired: Desired) -> Observed:
        what = f"online endpoint '{desired.name}'"
        ml = self.conn.ml(ctx)
        current = self._get(ctx, desired.name)  # an update keeps the split Azure has
        entity = self.map.to_entity(desired, self.conn.ws(), keep=current)
        with calling("online_endpoints.begin_create_or_update", what), quiet_sdk():
            wait_for(ctx, ml.online_endpoints.begin_create_or_update(entity), f"creating {what}")
        made = self.read(ctx, f"onlineEndpoints/{desired.name}")
        assert made is not None, what
        return made

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)

    def delete(self, ctx: Context, current: Observed) -> None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        name = current.id.split("/", 1)[1]
        try:
            with calling("online_endpoints.begin_delete", f"online endpoint '{name}'"), quiet_sdk():
                wait_for(ctx, ml.online_endpoints.begin_delete(name=name), f"deleting online endpoint '{name}'")
        except ResourceNotFoundError:
            return
