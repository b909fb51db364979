"""Compute clusters (``amlcompute``) and compute instances on Azure ML: ``computes/<name>``, created, scaled and
deleted through long-running operations; refresh reads all of a workspace's computes with one paged list."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mlplan.core.faults import crashpoint
from mlplan.providers.azure.clients import calling
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.common import quiet_sdk, reserved_problems
from mlplan.providers.azure.kinds.compute import TYPES, ComputeMap
from mlplan.providers.base import Context, Desired, Diff, Observed, Problem, ResourceType

POLL_S = 1.0
PROGRESS_EVERY_S = 30.0  # a long-running operation still running says so this often (a deployment takes minutes)


def wait_for(ctx: Context, poller: Any, what: str) -> Any:
    """The result of a long-running operation, checking for cancellation between polls and saying, every
    ``PROGRESS_EVERY_S``, that it still runs and what Azure reports of it."""
    started = time.monotonic()
    next_note = started + PROGRESS_EVERY_S
    while not poller.done():
        ctx.check_cancelled(what)
        poller.wait(POLL_S)
        now = time.monotonic()
        if now >= next_note and not poller.done():
            elapsed = int(now - started)
            ctx.log(f"still {what}: {elapsed // 60}m{elapsed % 60:02d}s so far, Azure reports {poller.status()}")
            next_note = now + PROGRESS_EVERY_S
    return poller.result()


class ComputeType(ResourceType):
    kind = "compute"
    id_format = "computes/<name>"
    output_fields = frozenset({"arm_id", "provisioning_state", "created_on"})
    immutable_fields = frozenset(
        {"type", "size", "location", "tier", "subnet", "ssh_settings", "ssh_public_access_enabled", "identity"}
    )
    sensitive_fields = frozenset({"ssh_settings"})
    computed_fields = frozenset({"location"})  # left out of the file and of mlplan.yaml: the workspace's region
    secret_paths = ("ssh_settings.admin_password",)
    read_batch = 500

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.map = ComputeMap()

    def validate(self, desired: Desired) -> list[Problem]:
        ctype = self.map.compute_type(desired)
        if ctype not in TYPES:
            return [
                Problem(
                    ("type",),
                    f"compute type {ctype!r} is not supported by the azure provider yet ({' and '.join(TYPES)} are)",
                    "manage this compute outside mlplan for now, or use type: amlcompute",
                )
            ]
        return reserved_problems(desired.spec)

    def diff(self, desired: dict[str, Any], observed: dict[str, Any]) -> Diff:
        """A cluster scales, and changes its description and tags, in place; a compute instance cannot be changed
        once made (Azure refuses a PUT on an existing instance): any change replaces it."""
        diff = super().diff(desired, observed)
        if desired.get("type") != "computeinstance":
            return diff
        return replace(diff, replaces=frozenset(c.path.split(".")[0] for c in diff.changes))

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    def _observe(self, entity: Any) -> Observed:
        observed: Observed = self.map.observed(entity, self.conn.ws())
        return observed

    def read(self, ctx: Context, ident: str) -> Observed | None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        name = ident.split("/", 1)[1]
        try:
            with calling("compute.get", f"compute '{name}'"), quiet_sdk():
                return self._observe(ml.compute.get(name))
        except ResourceNotFoundError:
            return None

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        """One paged list of the workspace's computes instead of a GET each."""
        ml = self.conn.ml(ctx)
        with calling("compute.list", "the workspace's computes"), quiet_sdk():
            found = {e.name: e for e in ml.compute.list()}
        return [self._observe(found[i.split("/", 1)[1]]) if i.split("/", 1)[1] in found else None for i in idents]

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self.read(ctx, f"computes/{name}")

    def create(self, ctx: Context, desired: Desired) -> Observed:
        what = f"compute '{desired.name}'"
        ml = self.conn.ml(ctx)
        entity = self.map.to_entity(desired, self.conn.ws())
        # sent explicitly: left out, azure-ai-ml sends NotSpecified, which Azure settles later (open without a
        # subnet, closed on one) and azure-ai-ml reads back as false until then
        entity.ssh_public_access_enabled = self.desired_attributes(desired)["ssh_public_access_enabled"]
        with calling("compute.begin_create_or_update", what), quiet_sdk():
            poller = ml.compute.begin_create_or_update(entity)
            crashpoint("mid_operation")  # it runs on Azure, its result is not known here yet
            wait_for(ctx, poller, f"creating {what}")
        made = self.read(ctx, f"computes/{desired.name}")
        assert made is not None, what
        return made

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)  # scale settings, description and tags change in place

    def delete(self, ctx: Context, current: Observed) -> None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        name = current.id.split("/", 1)[1]
        try:
            with calling("compute.begin_delete", f"compute '{name}'"), quiet_sdk():
                wait_for(ctx, ml.compute.begin_delete(name), f"deleting compute '{name}'")
        except ResourceNotFoundError:
            return
