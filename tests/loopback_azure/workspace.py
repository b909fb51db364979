"""Resource groups, Azure ML workspaces, their datastores, and the workspace discovery document.

Shapes: Microsoft.MachineLearningServices stable 2024-04-01 (machineLearningServices.json: Workspaces_Get,
examples/Workspace/get.json; mfe.json: Datastores_Get / Datastores_List / Datastores_ListSecrets,
examples/Datastore/get.json and listSecrets.json) and Microsoft.Resources resourceGroups
(resources.json 2025-04-01: ResourceGroup).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .core import Azure
from .wire import NAME, SUB_RG, WS, ApiError, Request, Response, Router, bad_request, not_found

BLOBSTORE = "workspaceblobstore"
ARTIFACTSTORE = "workspaceartifactstore"


def ensure_resource_group(az: Azure, name: str) -> str:
    rid = f"/subscriptions/{az.subscription_id}/resourceGroups/{name}"
    if az.store.get(rid) is None:
        az.store.put(
            rid,
            {
                "id": rid,
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": az.location,
                "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            },
        )
        az.store.meta_of(rid)["created"] = az.now()
    return rid


def _short(text: str) -> str:
    return hashlib.sha256(text.lower().encode()).hexdigest()[:8]


def create_workspace(az: Azure, resource_group: str, name: str) -> str:
    """A workspace with its default datastores (idempotent); its id."""
    rg_id = ensure_resource_group(az, resource_group)
    rid = f"{rg_id}/providers/Microsoft.MachineLearningServices/workspaces/{name}"
    if az.store.get(rid) is not None:
        return rid
    workspace_guid = az.new_id()
    suffix = _short(rid)
    dependent = f"{rg_id}/providers"
    az.store.put(
        rid,
        {
            "id": rid,
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": az.location,
            "tags": {},
            "kind": "Default",
            "identity": {"type": "SystemAssigned", "principalId": az.new_id(), "tenantId": az.tenant},
            "sku": {"name": "Basic", "tier": "Basic"},
            "systemData": az.system_data(),
            "properties": {
                "friendlyName": name,
                "description": "",
                "workspaceId": workspace_guid,
                "storageAccount": f"{dependent}/Microsoft.Storage/storageAccounts/st{suffix}",
                "keyVault": f"{dependent}/Microsoft.KeyVault/vaults/kv{suffix}",
                "applicationInsights": f"{dependent}/microsoft.insights/components/appi{suffix}",
                "containerRegistry": None,
                "hbiWorkspace": False,
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Enabled",
                "allowPublicAccessWhenBehindVnet": False,
                "privateLinkCount": 0,
                "v1LegacyMode": False,
                "storageHnsEnabled": False,
                "enableDataIsolation": False,
                "mlFlowTrackingUri": f"azureml://{az.location}.api.azureml.ms/mlflow/v1.0{rid}",
            },
        },
    )
    az.store.meta_of(rid)["created"] = az.now()
    for store_name, container in ((BLOBSTORE, f"azureml-blobstore-{workspace_guid}"), (ARTIFACTSTORE, "azureml")):
        ds_id = f"{rid}/datastores/{store_name}"
        az.store.put(ds_id, _datastore(az, ds_id, store_name, container, is_default=store_name == BLOBSTORE))
        az.store.meta_of(ds_id)["created"] = az.now()
    if az.storage is not None:
        attach_storage(az)
    return rid


def _datastore(az: Azure, rid: str, name: str, container: str, *, is_default: bool) -> dict[str, Any]:
    account = az.storage.account if az.storage else f"st{_short(rid.rsplit('/datastores/', 1)[0])}"
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "systemData": az.system_data(),
        "properties": {
            "description": None,
            "tags": {},
            "properties": {},
            "isDefault": is_default,
            "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey"}},
            "datastoreType": "AzureBlob",
            "accountName": account,
            "containerName": container,
            "endpoint": "core.windows.net",
            "protocol": "https",
            "serviceDataAccessAuthIdentity": "None",
        },
    }


def attach_storage(az: Azure) -> None:
    """Point every workspace's blob datastores at ``az.storage`` and create their containers there."""
    assert az.storage is not None
    for body in list(az.store.resources.values()):
        if body.get("type") == "Microsoft.MachineLearningServices/workspaces/datastores":
            props = body["properties"]
            if (
                props.get("datastoreType") == "AzureBlob"
                and props.get("credentials", {}).get("credentialsType") == "AccountKey"
            ):
                props["accountName"] = az.storage.account
                az.storage.create_container(props["containerName"])
    az.store.dirty = True


# handlers --------------------------------------------------------------------------------------------------


def get_workspace(az: Azure, req: Request, m: Any) -> Response:
    rid = az.ws_id(m["sub"], m["rg"], m["ws"])
    body = dict(az.store.get(rid) or {})
    body["properties"] = {**(body.get("properties") or {}), "discoveryUrl": f"{req.base_url}/discovery"}
    return Response(200, body)


def list_workspaces(az: Azure, req: Request, m: Any) -> Response:
    rg_id = az.rg_id(m["sub"], m["rg"])
    items = [
        get_workspace(az, req, {"sub": m["sub"], "rg": m["rg"], "ws": b["name"]}).body
        for b in az.store.children(f"{rg_id}/providers/Microsoft.MachineLearningServices/workspaces")
    ]
    return az.page(req, items)


def get_resource_group(az: Azure, req: Request, m: Any) -> Response:
    return Response(200, az.store.get(az.rg_id(m["sub"], m["rg"])))


def discovery(az: Azure, req: Request, m: Any) -> Response:
    """The workspace's discovery document: where its data-plane services are (all on this server)."""
    names = (
        "api",
        "catalog",
        "experimentation",
        "gallery",
        "history",
        "hyperdrive",
        "labeling",
        "modelmanagement",
        "pipelines",
        "studiouiservice",
    )
    return Response(200, {name: req.base_url for name in names})


def _datastore_id(az: Azure, m: Any) -> str:
    return f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/datastores/{m['name']}"


def get_datastore(az: Azure, req: Request, m: Any) -> Response:
    body = az.store.get(_datastore_id(az, m))
    if body is None:
        raise not_found("Microsoft.MachineLearningServices/workspaces/datastores", m["name"])
    return Response(200, body)


def list_datastores(az: Azure, req: Request, m: Any) -> Response:
    items = az.store.children(f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/datastores")
    if req.query.get("isDefault", "").lower() == "true":
        items = [b for b in items if b["properties"].get("isDefault")]
    names = req.query.get("names")
    if names:
        wanted = {n.lower() for n in names.split(",")}
        items = [b for b in items if b["name"].lower() in wanted]
    return az.page(req, items)


def put_datastore(az: Azure, req: Request, m: Any) -> Response:
    rid = _datastore_id(az, m)
    body = req.json_object()
    props = body.get("properties")
    if not isinstance(props, dict):
        raise bad_request("The request is missing the required property 'properties'.", "UserError")
    for key in ("datastoreType", "credentials"):
        if key not in props:
            raise bad_request(f"The request is missing the required property 'properties.{key}'.", "UserError")
    existing = az.store.get(rid)
    stored = {
        "id": rid,
        "name": m["name"],
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "systemData": az.system_data(existing.get("systemData") if existing else None),
        "properties": {"description": None, "tags": {}, "properties": {}, "isDefault": False, **props},
    }
    az.store.put(rid, stored)
    az.store.meta_of(rid).setdefault("created", az.now())
    return Response(200 if existing else 201, stored)


def delete_datastore(az: Azure, req: Request, m: Any) -> Response:
    rid = _datastore_id(az, m)
    if az.store.get(rid) is None:
        return Response(204)
    az.store.delete(rid)
    return Response(200)


def list_secrets(az: Azure, req: Request, m: Any) -> Response:
    body = az.store.get(_datastore_id(az, m))
    if body is None:
        raise not_found("Microsoft.MachineLearningServices/workspaces/datastores", m["name"])
    if body["properties"].get("credentials", {}).get("credentialsType") != "AccountKey":
        raise ApiError(400, "UserError", f"Datastore '{m['name']}' has no account key.")
    key = az.storage.key if az.storage else "bG9vcGJhY2sta2V5"
    return Response(200, {"secretsType": "AccountKey", "key": key})


def register(router: Router, az: Azure) -> None:
    def h(fn: Any) -> Any:
        return lambda r, m: fn(az, r, m)

    router.add("GET", SUB_RG, h(get_resource_group))
    router.add("GET", rf"{SUB_RG}/providers/Microsoft\.MachineLearningServices/workspaces", h(list_workspaces))
    router.add("GET", WS, h(get_workspace))
    router.add("GET", r"/discovery", h(discovery), arm=False)
    router.add("GET", rf"{WS}/datastores", h(list_datastores))
    router.add("GET", rf"{WS}/datastores/(?P<name>{NAME})", h(get_datastore))
    router.add("PUT", rf"{WS}/datastores/(?P<name>{NAME})", h(put_datastore))
    router.add("DELETE", rf"{WS}/datastores/(?P<name>{NAME})", h(delete_datastore))
    router.add("POST", rf"{WS}/datastores/(?P<name>{NAME})/listSecrets", h(list_secrets))
