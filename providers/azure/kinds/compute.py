"""Computes: ``amlcompute`` clusters and ``computeinstance``s (``workspaces/computes/<name>``).

Defaults are what azure-ai-ml sends for a field left out (``ComputeDefaults``, the schemas' defaults) or, where it
sends nothing, what the service fills in (REST API ``ComputeResource``, 2025-12-01: ``vmPriority`` Dedicated,
``remoteLoginPortPublicAccess`` NotSpecified becoming Enabled, or Disabled on a subnet, once the cluster exists).
"""

from __future__ import annotations

from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.azure.kinds.common import (
    SECRET,
    identity,
    load_entity,
    snake,
    subnet_id,
    user_tags,
)
from mlplan.providers.azure.settings import Workspace, normal_location
from mlplan.providers.base import Desired, Observed, secret_hash

SSH_PASSWORD = "ssh_settings.admin_password"
# azure-ai-ml's ComputeDefaults and schema defaults (tests/unit/test_azure_kinds.py checks them against the SDK)
AML_DEFAULTS: dict[str, Any] = {
    "size": "STANDARD_DS3_V2",
    "tier": "dedicated",
    "min_instances": 0,
    "max_instances": 4,
    "idle_time_before_scale_down": 120,
    "enable_node_public_ip": True,
}
INSTANCE_DEFAULTS: dict[str, Any] = {
    "ssh_public_access_enabled": False,
    "enable_node_public_ip": True,
    "enable_sso": True,
    "enable_root_access": True,
    "enable_os_patching": False,
    "release_quota_on_stop": False,
    "idle_time_before_shutdown_minutes": None,
}
TYPES = ("amlcompute", "computeinstance")


class ComputeMap:
    kind = "compute"
    folder = "computes"

    @staticmethod
    def compute_type(desired: Desired) -> str:
        return str(desired.spec.get("type") or desired.subtype or "amlcompute").lower()

    def to_entity(self, desired: Desired, ws: Workspace) -> Any:
        """The entity to create: the spec as azure-ai-ml loads it, in the workspace's region unless it names one,
        tagged with mlplan's marks."""
        ctype = self.compute_type(desired)
        if ctype not in TYPES:
            raise ProviderError(f"compute type {ctype!r} is not managed by the azure provider", provider="azure")
        entity = load_entity("load_compute", {**desired.spec, "name": desired.name}, desired.base_dir)
        entity.location = desired.spec.get("location") or ws.location
        entity.tags = {**user_tags(desired.spec.get("tags")), **desired.tags, **self.secret_marks(desired)}
        return entity

    @staticmethod
    def secret_marks(desired: Desired) -> dict[str, str]:
        ssh = desired.spec.get("ssh_settings")
        password = ssh.get("admin_password") if isinstance(ssh, dict) else None
        return {SECRET + SSH_PASSWORD: secret_hash(str(password), desired.project)} if password is not None else {}

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        ctype = self.compute_type(desired)
        location = spec.get("location") or ws.location
        subnet = subnet_id(spec.get("network_settings"), ws)
        common = {
            "type": ctype,
            "description": spec.get("description"),
            "location": normal_location(str(location)) if location else None,
            "subnet": subnet,
            "identity": identity(spec.get("identity")),
            "tags": user_tags(spec.get("tags")),
        }
        ssh = spec.get("ssh_settings") if isinstance(spec.get("ssh_settings"), dict) else None
        if ctype == "computeinstance":
            out = {**common, "size": _lower(spec.get("size"))}
            for field, default in INSTANCE_DEFAULTS.items():
                out[field] = spec.get(field, default)
            owner = spec.get("create_on_behalf_of")
            out["create_on_behalf_of"] = _owner(owner) if isinstance(owner, dict) else None
            out["ssh_settings"] = {"ssh_key_value": ssh.get("ssh_key_value")} if ssh else None
            return out
        out = {**common}
        for field, default in AML_DEFAULTS.items():
            out[field] = spec.get(field, default)
        out["size"] = _lower(out["size"])
        out["tier"] = snake(str(out["tier"]))
        out["idle_time_before_scale_down"] = int(out["idle_time_before_scale_down"])
        # the service closes the public SSH port of a cluster on a subnet and opens it otherwise (NotSpecified)
        out["ssh_public_access_enabled"] = spec.get("ssh_public_access_enabled", subnet is None)
        out["ssh_settings"] = (
            {
                "admin_username": ssh.get("admin_username"),
                "ssh_key_value": ssh.get("ssh_key_value"),
                "admin_password": self.secret_marks(desired).get(SECRET + SSH_PASSWORD),
            }
            if ssh
            else None
        )
        return out

    def observed(self, entity: Any, ws: Workspace) -> Observed:
        """A compute as ``computes.get`` / ``computes.list`` return it."""
        tags = dict(entity.tags or {})
        ctype = str(entity.type).lower()
        network = entity.network_settings
        common = {
            "type": ctype,
            "description": entity.description,
            "location": normal_location(entity.location) if entity.location else None,
            "subnet": str(network.subnet).lower() if network is not None and network.subnet else None,
            "identity": identity(entity.identity),
            "tags": user_tags(tags),
            "size": _lower(entity.size),
        }
        ssh = entity.ssh_settings
        if ctype == "computeinstance":
            attrs = {**common}
            for field in INSTANCE_DEFAULTS:
                attrs[field] = getattr(entity, field, None)
            owner = entity.create_on_behalf_of
            attrs["create_on_behalf_of"] = (
                _owner({"user_object_id": owner.user_object_id, "user_tenant_id": owner.user_tenant_id})
                if owner is not None
                else None
            )
            attrs["ssh_settings"] = (
                {"ssh_key_value": ssh.ssh_key_value} if ssh is not None and ssh.ssh_key_value else None
            )
        else:
            idle = entity.idle_time_before_scale_down
            attrs = {
                **common,
                "tier": snake(str(entity.tier)) if entity.tier else None,
                "min_instances": entity.min_instances,
                "max_instances": entity.max_instances,
                "idle_time_before_scale_down": int(idle) if idle is not None else None,
                "enable_node_public_ip": entity.enable_node_public_ip,
                "ssh_public_access_enabled": entity.ssh_public_access_enabled,
                "ssh_settings": (
                    {
                        "admin_username": ssh.admin_username,
                        "ssh_key_value": ssh.ssh_key_value,
                        "admin_password": tags.get(SECRET + SSH_PASSWORD),
                    }
                    if ssh is not None
                    else None
                ),
            }
        return Observed(
            id=f"{self.folder}/{entity.name}",
            attributes=attrs,
            tags=tags,
            outputs={
                "arm_id": entity.id,
                "provisioning_state": entity.provisioning_state,
                "created_on": getattr(entity, "created_on", None),
            },
        )


def _lower(value: Any) -> Any:
    """VM sizes compare case-insensitively (Azure documents ``Standard_DS3_v2``, azure-ai-ml sends upper case)."""
    return value.lower() if isinstance(value, str) else value


def _owner(owner: dict[str, Any]) -> dict[str, Any]:
    return {"user_object_id": owner.get("user_object_id"), "user_tenant_id": owner.get("user_tenant_id")}
