"""Managed online endpoints, their deployments, and the traffic split (``workspaces/onlineEndpoints/<ep>`` and
``.../deployments/<name>``).

The split (``traffic``, ``mirror_traffic``) is its own kind, set after the deployments it names: an endpoint's
attributes leave it out, and an endpoint update keeps the split it finds (``to_entity(..., keep=...)``), since
azure-ai-ml PUTs the whole endpoint.

Server defaults (REST API ``OnlineEndpoint`` / ``ManagedOnlineDeployment``; azure-ai-ml's ``OnlineRequestSettings``
and ``ProbeSettings`` document the same): public network access Enabled, a system-assigned identity (azure-ai-ml
asks for one when none is given), request timeout 5000 ms, 1 concurrent request per instance, probes with an
initial delay of 10 s, a period of 10 s, a timeout of 2 s, a success threshold of 1 and a failure threshold of 30,
egress public network access Enabled, one instance. ``max_queue_wait_ms`` is left out: it is deprecated for managed
endpoints and azure-ai-ml reads the service's ``PT0.5S`` back as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlplan.providers.azure.kinds.common import (
    CONTENT,
    INLINE,
    INLINE_MARK,
    asset_ref,
    identity,
    inline_digest,
    is_local,
    load_entity,
    marked_content,
    snake,
    strings,
    text,
    user_tags,
)
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import Desired, Observed

REQUEST_DEFAULTS = {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 1}
PROBE_DEFAULTS = {"initial_delay": 10, "period": 10, "timeout": 2, "success_threshold": 1, "failure_threshold": 30}
SYSTEM_ASSIGNED = {"type": "system_assigned", "user_assigned_identities": []}


def _endpoint_path(name: str) -> str:
    return f"onlineEndpoints/{name}"


class OnlineEndpointMap:
    kind = "online_endpoint"

    def to_entity(self, desired: Desired, ws: Workspace, keep: Any = None) -> Any:
        """The endpoint to PUT. ``keep``: the endpoint as it is, whose traffic split an update keeps (None: a new
        endpoint, no traffic until the traffic step)."""
        spec = {k: v for k, v in desired.spec.items() if k not in ("traffic", "mirror_traffic")}
        entity = load_entity("load_online_endpoint", {**spec, "name": desired.name}, desired.base_dir)
        entity.tags = {**user_tags(desired.spec.get("tags")), **desired.tags}
        entity.traffic = dict(getattr(keep, "traffic", None) or {})
        entity.mirror_traffic = dict(getattr(keep, "mirror_traffic", None) or {})
        return entity

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        return {
            "auth_mode": snake(str(spec.get("auth_mode") or "key")),
            "description": spec.get("description"),
            "public_network_access": str(spec.get("public_network_access") or "enabled").lower(),
            "identity": identity(spec.get("identity")) or SYSTEM_ASSIGNED,
            "tags": user_tags(spec.get("tags")),
        }

    def observed(self, entity: Any, ws: Workspace) -> Observed:
        attrs = {
            "auth_mode": snake(str(entity.auth_mode)),
            "description": entity.description,
            "public_network_access": str(text(entity.public_network_access) or "enabled").lower(),
            "identity": identity(entity.identity),
            "tags": user_tags(entity.tags),
        }
        return Observed(
            id=_endpoint_path(entity.name),
            attributes=attrs,
            tags=dict(entity.tags or {}),
            outputs={
                "name": entity.name,
                "scoring_uri": entity.scoring_uri,
                "swagger_uri": entity.openapi_uri,
                "arm_id": entity.id,
                "provisioning_state": entity.provisioning_state,
            },
        )


class TrafficMap:
    """An endpoint's split: ``{deployment: percent}`` of live traffic and of mirrored traffic; 0 % entries are
    not compared (Azure keeps them or drops them alike)."""

    kind = "traffic"

    def apply(self, endpoint: Any, desired: Desired) -> Any:
        """The endpoint with the split set as wanted (to PUT, as azure-ai-ml updates a split)."""
        endpoint.traffic = {str(k): int(v) for k, v in (desired.spec.get("traffic") or {}).items()}
        endpoint.mirror_traffic = {str(k): int(v) for k, v in (desired.spec.get("mirror_traffic") or {}).items()}
        return endpoint

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        return {
            "traffic": _split(desired.spec.get("traffic")),
            "mirror_traffic": _split(desired.spec.get("mirror_traffic")),
        }

    def observed(self, endpoint: Any, ws: Workspace) -> Observed:
        return Observed(
            id=_endpoint_path(endpoint.name) + "/traffic",
            attributes={"traffic": _split(endpoint.traffic), "mirror_traffic": _split(endpoint.mirror_traffic)},
        )


def _split(value: Mapping[str, Any] | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted((value or {}).items()) if int(v) > 0}


class OnlineDeploymentMap:
    """A managed online deployment. Its code, an inline model and an inline environment are content: their digests
    are tags (``mlplan.content.*``; a deployment changes in place). An inline model or environment is registered
    as its own asset before the deployment is PUT (``inline_marks`` records which), and compares as ``(inline)``
    while the deployment uses it."""

    kind = "online_deployment"

    @staticmethod
    def names(desired: Desired) -> tuple[str, str]:
        endpoint, _, deployment = desired.name.partition("/")
        return endpoint, deployment

    def content(self, desired: Desired) -> dict[str, str]:
        """What is compared by digest: local code, and an inline model or environment as a whole."""
        spec = desired.spec
        out: dict[str, str] = {}
        code = (spec.get("code_configuration") or {}).get("code")
        if is_local(code) and "code_configuration.code" in desired.content:
            out["code_configuration.code"] = desired.content["code_configuration.code"]
        for field in ("model", "environment"):
            if isinstance(spec.get(field), dict):
                out[field] = inline_digest(desired, field)
        return out

    def to_entity(self, desired: Desired, ws: Workspace, inline: Mapping[str, str] | None = None) -> Any:
        """The deployment to PUT. ``inline``: the references an inline model or environment was registered as
        (``{"model": "azureml:<name>:<version>"}``), used instead of the inline spec and recorded in the tags."""
        endpoint, deployment = self.names(desired)
        spec = {**desired.spec, "name": deployment, "endpoint_name": endpoint, **(inline or {})}
        entity = load_entity("load_online_deployment", spec, desired.base_dir)
        entity.tags = {
            **user_tags(desired.spec.get("tags")),
            **desired.tags,
            **{CONTENT + k: v for k, v in self.content(desired).items()},
            **{INLINE_MARK + k: str(asset_ref(v)) for k, v in (inline or {}).items()},
        }
        return entity

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        cc = spec.get("code_configuration") or {}
        code = cc.get("code")
        return {
            "model": INLINE if isinstance(spec.get("model"), dict) else asset_ref(spec.get("model")),
            "environment": INLINE if isinstance(spec.get("environment"), dict) else asset_ref(spec.get("environment")),
            "code": None if code is None or is_local(code) else asset_ref(code),
            "scoring_script": cc.get("scoring_script"),
            "content": self.content(desired),
            "environment_variables": strings(spec.get("environment_variables")),
            "instance_type": _lower(spec.get("instance_type")),
            "instance_count": spec.get("instance_count", 1),
            "request_settings": _settings(spec.get("request_settings"), REQUEST_DEFAULTS),
            "liveness_probe": _settings(spec.get("liveness_probe"), PROBE_DEFAULTS),
            "readiness_probe": _settings(spec.get("readiness_probe"), PROBE_DEFAULTS),
            "app_insights_enabled": bool(spec.get("app_insights_enabled", False)),
            "egress_public_network_access": str(spec.get("egress_public_network_access") or "enabled").lower(),
            "description": spec.get("description"),
            "tags": user_tags(spec.get("tags")),
        }

    def observed(self, entity: Any, ws: Workspace) -> Observed:
        tags = dict(entity.tags or {})
        content = marked_content(tags)
        cc = entity.code_configuration
        attrs = {
            "model": _inline_or_ref(entity.model, tags, "model"),
            "environment": _inline_or_ref(entity.environment, tags, "environment"),
            "code": None if cc is None or "code_configuration.code" in content else asset_ref(cc.code),
            "scoring_script": cc.scoring_script if cc is not None else None,
            "content": content,
            "environment_variables": strings(entity.environment_variables),
            "instance_type": _lower(entity.instance_type),
            "instance_count": entity.instance_count,
            "request_settings": _settings(_vars(entity.request_settings), REQUEST_DEFAULTS),
            "liveness_probe": _settings(_vars(entity.liveness_probe), PROBE_DEFAULTS),
            "readiness_probe": _settings(_vars(entity.readiness_probe), PROBE_DEFAULTS),
            "app_insights_enabled": bool(entity.app_insights_enabled),
            "egress_public_network_access": str(text(entity.egress_public_network_access) or "enabled").lower(),
            "description": entity.description,
            "tags": user_tags(tags),
        }
        return Observed(
            id=f"{_endpoint_path(entity.endpoint_name)}/deployments/{entity.name}",
            attributes=attrs,
            tags=tags,
            outputs={"arm_id": entity.id, "provisioning_state": entity.provisioning_state},
        )


def _inline_or_ref(value: Any, tags: Mapping[str, str], field: str) -> Any:
    reference = asset_ref(value.id if hasattr(value, "id") else value)
    mark = tags.get(INLINE_MARK + field)
    return INLINE if mark is not None and asset_ref(mark) == reference else reference


def _settings(value: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Request settings or a probe with the service's defaults filled in (only the keys compared)."""
    given = dict(value or {})
    return {k: given.get(k) if given.get(k) is not None else v for k, v in defaults.items()}


def _vars(value: Any) -> dict[str, Any] | None:
    return None if value is None else {k: v for k, v in vars(value).items() if not k.startswith("_")}


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
