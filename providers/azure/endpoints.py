"""Managed online endpoints on Azure ML (``onlineEndpoints/<name>``): created, updated (keeping the traffic split
Azure has, since azure-ai-ml PUTs the whole endpoint) and deleted through long-running operations; refresh reads
all of a workspace's endpoints with one paged list; their deployments (one list per endpoint) and the traffic split
(its own step, after the deployments it names)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.core.faults import crashpoint
from mlplan.providers.azure.clients import calling
from mlplan.providers.azure.compute import wait_for
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.common import desired_content, inline_digest, quiet_sdk, reserved_problems
from mlplan.providers.azure.kinds.endpoints import OnlineDeploymentMap, OnlineEndpointMap, TrafficMap
from mlplan.providers.base import OWNERSHIP_TAGS, Context, Desired, Observed, Problem, ResourceType

# the name an inline model or environment is registered under, before its content digest (as the local provider)
ANONYMOUS_PREFIX = "anonymous-"


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
        return reserved_problems(desired.spec)

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
            poller = ml.online_endpoints.begin_create_or_update(entity)
            crashpoint("mid_operation")  # it runs on Azure, its result is not known here yet
            wait_for(ctx, poller, f"creating {what}")
        made = self.read(ctx, f"onlineEndpoints/{desired.name}")
        assert made is not None, what
        return made

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)

    def credentials(self, ctx: Context, current: Observed) -> dict[str, str]:
        """The endpoint's keys (or token), fetched live for an explicit request (``output --show-sensitive``)."""
        name = current.id.split("/", 1)[1]
        ml = self.conn.ml(ctx)
        with calling("online_endpoints.get_keys", f"online endpoint '{name}'"), quiet_sdk():
            keys = ml.online_endpoints.get_keys(name)
        fields = ("primary_key", "secondary_key", "access_token")
        return {f: str(getattr(keys, f)) for f in fields if getattr(keys, f, None)}

    def invoke(
        self, ctx: Context, endpoint: Observed, deployment: str, body: bytes, content_type: str = "application/json"
    ) -> bytes:
        """One scoring request to ``deployment`` (the ``azureml-model-deployment`` header) at the endpoint's scoring
        URI, with the endpoint's key or token (``online_endpoints.get_keys``, never shown or logged), through a
        pipeline of its own with mlplan's retry rules (``clients.pipeline_client``)."""
        from azure.core.rest import HttpRequest

        from mlplan.providers.azure.clients import pipeline_client

        name = endpoint.id.split("/", 1)[1]
        what = f"online endpoint '{name}', deployment '{deployment}'"
        ml = self.conn.ml(ctx)
        with calling("online_endpoints.get_keys", what), quiet_sdk():
            keys = ml.online_endpoints.get_keys(name)
        secret = getattr(keys, "primary_key", None) or getattr(keys, "access_token", None)
        scoring_uri = str(endpoint.outputs.get("scoring_uri") or "")
        if not secret or not scoring_uri:
            raise ProviderError(f"{what}: no scoring URI or key to score with", provider="azure")
        ctx.check_cancelled(f"scoring through {what}")
        headers = {
            "Content-Type": content_type,
            "Authorization": f"Bearer {secret}",
            "azureml-model-deployment": deployment,
        }
        with calling("scoring request", what), pipeline_client(scoring_uri) as client:
            response = client.send_request(HttpRequest("POST", scoring_uri, headers=headers, content=body))
        if not 200 <= response.status_code < 300:
            raise ProviderError(
                f"{what}: scoring answered HTTP {response.status_code}: {response.text()[:200]}", provider="azure"
            )
        answer: bytes = response.read()
        return answer

    def delete(self, ctx: Context, current: Observed) -> None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        name = current.id.split("/", 1)[1]
        try:
            with calling("online_endpoints.begin_delete", f"online endpoint '{name}'"), quiet_sdk():
                wait_for(ctx, ml.online_endpoints.begin_delete(name=name), f"deleting online endpoint '{name}'")
        except ResourceNotFoundError:
            return


class OnlineDeploymentType(ResourceType):
    """Managed online deployments (``onlineEndpoints/<endpoint>/deployments/<name>``) of registered models and
    environments, or of inline ones (registered first as anonymous versions, as Azure ML does); local code is
    uploaded by azure-ai-ml. Refresh lists the deployments of each endpoint once."""

    kind = "online_deployment"
    id_format = "onlineEndpoints/<endpoint>/deployments/<name>"
    output_fields = frozenset({"arm_id", "provisioning_state"})
    read_batch = 4  # a few deployments per batch, their endpoints listed one after another (see AzureAssetType)

    def __init__(self, conn: Connection, assets: Mapping[str, ResourceType]) -> None:
        self.conn = conn
        self.map = OnlineDeploymentMap()
        self.assets = assets  # "model" / "environment" -> the type an inline one is registered with

    def validate(self, desired: Desired) -> list[Problem]:
        problems = reserved_problems(desired.spec)
        if (desired.subtype or "managed") != "managed":
            problems.append(
                Problem(("type",), f"{desired.subtype} deployments are not supported by the azure provider yet", None)
            )
        return problems

    def _register_inline(self, ctx: Context, desired: Desired) -> dict[str, str]:
        """Register the deployment's inline model and environment, each once per content, as an anonymous version
        (``anonymous-<digest>:1``, carrying the ownership tags); their references, to PUT instead."""
        refs: dict[str, str] = {}
        for field, rt in self.assets.items():
            inline = desired.spec.get(field)
            if not isinstance(inline, dict):
                continue
            name = ANONYMOUS_PREFIX + inline_digest(desired, field)[:16]
            refs[field] = f"azureml:{name}:1"
            found = rt.lookup(ctx, name, "1")
            if found is not None and not found.archived:
                continue  # the same content is registered already
            prefix = field + "."
            rt.create(
                ctx,
                Desired(
                    kind=field,
                    name=name,
                    spec={k: v for k, v in inline.items() if k not in ("name", "version")},
                    base_dir=desired.base_dir,
                    version="1",
                    content={k.removeprefix(prefix): v for k, v in desired.content.items() if k.startswith(prefix)},
                    tags={k: v for k, v in desired.tags.items() if k in OWNERSHIP_TAGS},
                    project=desired.project,
                ),
            )
        return refs

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    def _observe(self, entity: Any) -> Observed:
        observed: Observed = self.map.observed(entity, self.conn.ws())
        return observed

    @staticmethod
    def _names(ident: str) -> tuple[str, str]:
        parts = ident.split("/")
        return parts[1], parts[3]

    def read(self, ctx: Context, ident: str) -> Observed | None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        endpoint, name = self._names(ident)
        try:
            with calling("online_deployments.get", f"online deployment '{endpoint}/{name}'"), quiet_sdk():
                return self._observe(ml.online_deployments.get(name=name, endpoint_name=endpoint))
        except ResourceNotFoundError:
            return None

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        """One paged list of deployments per endpoint."""
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        def listed(endpoint: str) -> dict[str, Any]:
            try:
                with calling("online_deployments.list", f"online endpoint '{endpoint}'"), quiet_sdk():
                    return {d.name: d for d in ml.online_deployments.list(endpoint_name=endpoint)}
            except ResourceNotFoundError:
                return {}

        found = {endpoint: listed(endpoint) for endpoint in dict.fromkeys(self._names(i)[0] for i in idents)}
        out: list[Observed | None] = []
        for ident in idents:
            endpoint, name = self._names(ident)
            entity = found[endpoint].get(name)
            out.append(self._observe(entity) if entity is not None else None)
        return out

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        endpoint, deployment = name.split("/", 1)
        return self.read(ctx, f"onlineEndpoints/{endpoint}/deployments/{deployment}")

    def create(self, ctx: Context, desired: Desired) -> Observed:
        endpoint, name = self.map.names(desired)
        what = f"online deployment '{endpoint}/{name}'"
        ml = self.conn.ml(ctx)
        entity = self.map.to_entity(desired, self.conn.ws(), self._register_inline(ctx, desired))
        with calling("online_deployments.begin_create_or_update", what), quiet_sdk():
            with self.conn.uploading(desired_content(desired, ("code_configuration.code",)).values()):
                poller = ml.online_deployments.begin_create_or_update(entity)  # uploads local code first
            crashpoint("mid_operation")
            wait_for(ctx, poller, f"deploying {what}")
        made = self.read(ctx, f"onlineEndpoints/{endpoint}/deployments/{name}")
        assert made is not None, what
        return made

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)

    def delete(self, ctx: Context, current: Observed) -> None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        endpoint, name = self._names(current.id)
        what = f"online deployment '{endpoint}/{name}'"
        try:
            with calling("online_deployments.begin_delete", what), quiet_sdk():
                poller = ml.online_deployments.begin_delete(name=name, endpoint_name=endpoint)
                wait_for(ctx, poller, f"deleting {what}")
        except ResourceNotFoundError:
            return


class TrafficType(ResourceType):
    """An endpoint's split (``onlineEndpoints/<endpoint>/traffic``): set on the endpoint as read, after the
    deployments it names; removing it sets no traffic."""

    kind = "traffic"
    id_format = "onlineEndpoints/<endpoint>/traffic"
    read_batch = 500

    def __init__(self, conn: Connection, endpoints: OnlineEndpointType) -> None:
        self.conn = conn
        self.endpoints = endpoints
        self.map = TrafficMap()

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    def read(self, ctx: Context, ident: str) -> Observed | None:
        entity = self.endpoints._get(ctx, ident.split("/")[1])
        observed: Observed | None = self.map.observed(entity, self.conn.ws()) if entity is not None else None
        return observed

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        """The splits from one paged list of the workspace's endpoints (a GET of an endpoint also lists its
        deployments)."""
        ml = self.conn.ml(ctx)
        with calling("online_endpoints.list", "the workspace's online endpoints"), quiet_sdk():
            found = {e.name: e for e in ml.online_endpoints.list()}
        names = [i.split("/")[1] for i in idents]
        return [self.map.observed(found[n], self.conn.ws()) if n in found else None for n in names]

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self.read(ctx, f"onlineEndpoints/{name}/traffic")

    def _set(self, ctx: Context, endpoint_name: str, desired: Desired | None) -> None:
        ml = self.conn.ml(ctx)
        what = f"the traffic of online endpoint '{endpoint_name}'"
        endpoint = self.endpoints._get(ctx, endpoint_name)
        if endpoint is None:
            if desired is None:
                return
            raise ProviderError(f"{what}: the endpoint does not exist", provider="azure")
        if desired is None:
            endpoint.traffic, endpoint.mirror_traffic = {}, {}
        else:
            endpoint = self.map.apply(endpoint, desired)
        with calling("online_endpoints.begin_create_or_update", what), quiet_sdk():
            poller = ml.online_endpoints.begin_create_or_update(endpoint)
            crashpoint("mid_operation")
            wait_for(ctx, poller, f"setting {what}")

    def create(self, ctx: Context, desired: Desired) -> Observed:
        self._set(ctx, desired.name, desired)
        made = self.read(ctx, f"onlineEndpoints/{desired.name}/traffic")
        assert made is not None, desired.name
        return made

    def delete(self, ctx: Context, current: Observed) -> None:
        self._set(ctx, current.id.split("/")[1], None)
