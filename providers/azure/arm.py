"""ARM template deployments at resource-group scope (``deployments/<name>``, in the workspace's resource group)
through azure-mgmt-resource-deployments: deployed as a long-running operation whose token is journalled, read as ARM
reports the deployment (template outputs as the resource's outputs), predicted with what-if, deleted.

Deleting an ``arm_deployment`` deletes the deployment (its record in the resource group's deployment history), not
the resources its template deployed: they stay, as they do when a deployment is deleted in the portal or with
``az deployment group delete``. A template often deploys what everything else stands on (the workspace, its storage
and key vault), so mlplan never deletes those as a side effect; the plan lists them as staying. Remove them from
the template and deploy with ``mode: Complete`` to have ARM delete them (what-if shows it first).

The journalled token is the deployment's resource group and name, nothing more: ARM keeps a deployment's state on
the deployment (``provisioningState``), so ``poll`` / ``wait`` read it there. azure-core's own continuation token
(a pickled HTTP response) could carry the request's headers, and a token never goes into the journal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlplan.core.faults import crashpoint
from mlplan.providers.azure.clients import calling
from mlplan.providers.azure.compute import POLL_S, wait_for
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.arm import MODES, ArmDeploymentMap, resource_type_of, what_if_changes
from mlplan.providers.azure.kinds.common import reserved_problems, text
from mlplan.providers.base import (
    TAG_OPERATION,
    Context,
    Desired,
    Observed,
    PredictedChange,
    Problem,
    Progress,
    ResourceType,
)

RUNNING = frozenset({"accepted", "running", "creating", "updating", "deleting", "waiting", "validating", "ready"})
STAYS = "stays in the resource group: deleting a deployment deletes its record, not what its template deployed"


class ArmDeploymentType(ResourceType):
    kind = "arm_deployment"
    id_format = "deployments/<name>"
    output_fields = frozenset({"arm_id", "provisioning_state", "output_resources"})
    read_batch = 500
    predicts = True

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.map = ArmDeploymentMap()

    # -- offline ---------------------------------------------------------------------------------------------
    def validate(self, desired: Desired) -> list[Problem]:
        problems = reserved_problems(desired.spec)
        spec = desired.spec
        hint = "an arm_deployment names its template (a local JSON file) and, optionally, parameters"
        for field in ("template", "parameters"):
            value = spec.get(field)
            if field == "parameters" and (value is None or isinstance(value, dict)):
                continue
            if not isinstance(value, str):
                problems.append(Problem((field,), f"{field}: a local JSON file's path is expected", hint))
                continue
            problem = _json_problem(desired.base_dir / value)
            if problem:
                problems.append(Problem((field,), f"{field}: {value} {problem}", hint))
        mode = spec.get("mode")
        if mode is not None and str(mode).lower() not in MODES:
            problems.append(Problem(("mode",), f"mode: {mode!r} is not Incremental or Complete", None))
        return problems

    def output_names(self, desired: Desired) -> frozenset[str]:
        """Besides the deployment's own, the outputs its template declares (``${arm_deployment.core.storageId}``)."""
        return self.output_fields | self.map.template_outputs(desired)

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    # -- reading ---------------------------------------------------------------------------------------------
    def _rg(self, ctx: Context) -> str:
        self.conn.ml(ctx)  # signs in and learns the workspace
        return self.conn.ws().resource_group

    def _observe(self, deployment: Any) -> Observed:
        observed: Observed = self.map.observed(deployment, self.conn.ws())
        return observed

    def _get(self, ctx: Context, name: str, rg: str | None = None) -> Any | None:
        client = self.conn.arm(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling("deployments.get", f"ARM deployment '{name}'"):
                return client.deployments.get(rg or self._rg(ctx), name)
        except ResourceNotFoundError:
            return None

    def read(self, ctx: Context, ident: str) -> Observed | None:
        found = self._get(ctx, ident.split("/", 1)[1])
        return self._observe(found) if found is not None else None

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        """One paged list of the resource group's deployments instead of a GET each."""
        client = self.conn.arm(ctx)
        rg = self._rg(ctx)
        with calling("deployments.list_by_resource_group", f"the deployments of resource group '{rg}'"):
            found = {d.name: d for d in client.deployments.list_by_resource_group(rg)}
        names = [i.split("/", 1)[1] for i in idents]
        return [self._observe(found[n]) if n in found else None for n in names]

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        found = self._get(ctx, name)
        if found is None or _state(found) != "succeeded":
            return None  # a failed or unfinished deployment is deployed again, not adopted
        return self._observe(found)

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        found = self.lookup(ctx, name, None)
        return found if found is not None and found.tags.get(TAG_OPERATION) == operation else None

    # -- what-if ---------------------------------------------------------------------------------------------
    def predict(
        self, ctx: Context, desired: Desired | None, current: Observed | None
    ) -> tuple[PredictedChange, ...] | None:
        """ARM what-if of deploying ``desired`` (full resource payloads, so that modifications name property
        paths); for a removal, the resources the deployment made, which stay."""
        if desired is None:
            made = current.outputs.get("output_resources") if current is not None else None
            return tuple(PredictedChange("ignore", str(i), resource_type_of(str(i)), note=STAYS) for i in made or ())
        client = self.conn.arm(ctx)
        rg = self._rg(ctx)
        what = f"ARM deployment '{desired.name}'"
        with calling("deployments.begin_what_if", what):
            poller = client.deployments.begin_what_if(rg, desired.name, self.map.what_if_body(desired))
            result = wait_for(ctx, poller, f"asking Azure what {what} would change")
        return tuple(PredictedChange.from_json(c) for c in what_if_changes(result))

    # -- changing --------------------------------------------------------------------------------------------
    def create(self, ctx: Context, desired: Desired) -> Observed:
        client = self.conn.arm(ctx)
        rg = self._rg(ctx)
        what = f"ARM deployment '{desired.name}'"
        with calling("deployments.begin_create_or_update", what):
            poller = client.deployments.begin_create_or_update(rg, desired.name, self.map.to_body(desired))
            # accepted: the deployment runs in Azure whatever happens to this process; the next run resumes it
            ctx.checkpoint({"resource_group": rg, "deployment": desired.name})
            crashpoint("mid_operation")
            wait_for(ctx, poller, f"deploying {what}")
        made = self.read(ctx, f"deployments/{desired.name}")
        assert made is not None, what
        return made

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)  # a deployment is PUT whole, under the same name

    def delete(self, ctx: Context, current: Observed) -> None:
        client = self.conn.arm(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        name = current.id.split("/", 1)[1]
        what = f"ARM deployment '{name}'"
        try:
            with calling("deployments.begin_delete", what):
                wait_for(ctx, client.deployments.begin_delete(self._rg(ctx), name), f"deleting {what}")
        except ResourceNotFoundError:
            return

    # -- a deployment an interrupted run left running ---------------------------------------------------------
    def poll(self, ctx: Context, token: dict[str, Any]) -> Progress:
        found = self._get(ctx, str(token["deployment"]), str(token["resource_group"]))
        if found is None:
            return Progress(done=True)
        state = _state(found)
        if state in RUNNING:
            return Progress(done=False)
        return Progress(done=True, result=self._observe(found) if state == "succeeded" else None)

    def wait(self, ctx: Context, token: dict[str, Any]) -> Observed | None:
        name = str(token["deployment"])
        while True:
            progress = self.poll(ctx, token)
            if progress.done:
                return progress.result
            ctx.check_cancelled(f"waiting for ARM deployment '{name}'")
            time.sleep(POLL_S)


def _state(deployment: Any) -> str:
    return str(text(getattr(deployment.properties, "provisioning_state", None)) or "").lower()


def _json_problem(path: Path) -> str | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return "cannot be read"
    except ValueError as exc:
        return f"is not JSON ({exc})"
    return None if isinstance(loaded, dict) else "is not a JSON object"
