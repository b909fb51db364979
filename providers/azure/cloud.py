"""The Azure clouds: the three public ones by name, with the endpoints the SDKs ship (azure-ai-ml's cloud table,
azure-identity's authority hosts, azure-mgmt-core's ARM scopes), and a cloud described by its endpoints in
mlplan.yaml (Azure Stack Hub, a private cloud, the tests' loopback stand-in).

azure-ai-ml keeps its clouds in a process-global table that refuses to overwrite a name (``MLClient`` then silently
keeps the old endpoints) and records the current one in ``os.environ["AZUREML_CURRENT_CLOUD"]``, which its upload and
URL helpers read later. A custom cloud is therefore registered under a name derived from its endpoints
(``Cloud.sdk_name``): the same endpoints, the same name; other endpoints, another name; never a stale entry. One
process talks to one cloud at a time, as azure-ai-ml does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlplan.core.errors import ProviderError

PUBLIC_CLOUDS = ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment")
DEFAULT_STORAGE_SUFFIX = "core.windows.net"
# azure-identity's AzureAuthorityHosts and azure-core's AzureClouds name the same clouds differently
_AUTHORITY_HOSTS = {
    "AzureCloud": "AZURE_PUBLIC_CLOUD",
    "AzureChinaCloud": "AZURE_CHINA",
    "AzureUSGovernment": "AZURE_GOVERNMENT",
}
_CORE_CLOUDS = {
    "AzureCloud": "AZURE_PUBLIC_CLOUD",
    "AzureChinaCloud": "AZURE_CHINA_CLOUD",
    "AzureUSGovernment": "AZURE_US_GOVERNMENT",
}


@dataclass(frozen=True)
class Cloud:
    """One cloud's endpoints, as the clients and credentials need them."""

    name: str  # as mlplan.yaml names it
    resource_manager: str  # ARM, with a trailing slash: https://management.azure.com/
    authority: (
        str  # the Microsoft Entra (or AD FS) authority host, no trailing slash: https://login.microsoftonline.com
    )
    storage_suffix: str  # https://<account>.blob.<suffix>
    arm_scopes: tuple[str, ...]  # what a token for ARM is asked for
    # azure-ai-ml's cloud table entry: azure_portal, resource_manager, active_directory, aml_resource_id,
    # storage_endpoint, registry_discovery_endpoint
    metadata: dict[str, str] = field(default_factory=dict)
    disable_instance_discovery: bool = False
    public: bool = True

    @property
    def sdk_name(self) -> str:
        """The name azure-ai-ml's cloud table knows it by: a public cloud's own; for a custom cloud, its name and a
        digest of its endpoints (the table never replaces an entry, so new endpoints need a new name)."""
        if self.public:
            return self.name
        digest = hashlib.sha256(json.dumps(self.metadata, sort_keys=True).encode()).hexdigest()[:12]
        return f"mlplan-{re.sub(r'[^A-Za-z0-9]+', '-', self.name).strip('-')}-{digest}"

    def ml_client_kwargs(self) -> dict[str, Any]:
        """``MLClient``'s ``cloud`` (and, for a custom cloud, ``cloud_metadata``, which registers it)."""
        if self.public:
            return {"cloud": self.name}
        return {"cloud": self.sdk_name, "cloud_metadata": dict(self.metadata)}

    def arm_kwargs(self) -> dict[str, Any]:
        """An ARM management client's ``base_url`` and ``credential_scopes``."""
        return {"base_url": self.resource_manager, "credential_scopes": list(self.arm_scopes)}

    def credential_kwargs(self) -> dict[str, Any]:
        """What an azure-identity credential that signs in against an authority needs."""
        out: dict[str, Any] = {"authority": self.authority}
        if self.disable_instance_discovery:
            out["disable_instance_discovery"] = True
        return out


def cloud_of(setting: str | Mapping[str, Any]) -> Cloud:
    """The cloud mlplan.yaml's ``cloud:`` names (a public cloud's name) or describes (a mapping)."""
    if isinstance(setting, Mapping):
        return custom_cloud(setting)
    if setting not in PUBLIC_CLOUDS:
        raise ProviderError(f"unknown Azure cloud {setting!r} (known: {', '.join(PUBLIC_CLOUDS)})", provider="azure")
    return public_cloud(setting)


def public_cloud(name: str) -> Cloud:
    """A public cloud, its endpoints as the installed SDKs ship them."""
    # azure-ai-ml's table is private API, but it is what MLClient itself uses for this cloud: reading it keeps
    # mlplan's ARM client and MLClient on the same endpoints (tests/unit/test_azure_clients.py guards the pin)
    from azure.ai.ml._azure_environments import _get_cloud
    from azure.core import AzureClouds
    from azure.identity import AzureAuthorityHosts
    from azure.mgmt.core.tools import get_arm_endpoints

    metadata = dict(_get_cloud(name))
    arm = get_arm_endpoints(getattr(AzureClouds, _CORE_CLOUDS[name]))
    return Cloud(
        name=name,
        resource_manager=_slash(str(arm["resource_manager"])),
        authority="https://" + str(getattr(AzureAuthorityHosts, _AUTHORITY_HOSTS[name])),
        storage_suffix=metadata["storage_endpoint"],
        arm_scopes=tuple(str(s) for s in arm["credential_scopes"]),
        metadata=metadata,
    )


def custom_cloud(setting: Mapping[str, Any]) -> Cloud:
    """A cloud described in mlplan.yaml: ``{name, resource_manager, active_directory, storage_suffix?,
    disable_instance_discovery?}``. azure-ai-ml also wants a portal, an Azure ML audience and a registry discovery
    endpoint, which such a cloud does not publish separately: they are its resource manager."""
    missing = [k for k in ("name", "resource_manager", "active_directory") if not setting.get(k)]
    if missing:
        raise ProviderError(f"the custom cloud lacks {', '.join(missing)}", provider="azure")
    resource_manager = _slash(str(setting["resource_manager"]))
    authority = str(setting["active_directory"]).rstrip("/")
    suffix = str(setting.get("storage_suffix") or DEFAULT_STORAGE_SUFFIX)
    return Cloud(
        name=str(setting["name"]),
        resource_manager=resource_manager,
        authority=authority,
        storage_suffix=suffix,
        arm_scopes=(resource_manager.rstrip("/") + "/.default",),
        metadata={
            "azure_portal": resource_manager,
            "resource_manager": resource_manager,
            "active_directory": authority + "/",
            "aml_resource_id": resource_manager,
            "storage_endpoint": suffix,
            "registry_discovery_endpoint": resource_manager,
        },
        disable_instance_discovery=bool(setting.get("disable_instance_discovery", False)),
        public=False,
    )


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
