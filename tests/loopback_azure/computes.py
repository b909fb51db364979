"""Workspace computes: AmlCompute clusters and compute instances (others are stored as sent).

Shapes: Microsoft.MachineLearningServices stable 2024-04-01, machineLearningServices.json: ComputeResource,
Compute (``computeType`` required; ``provisioningState``, ``createdOn``, ``modifiedOn``, ``provisioningErrors``,
``isAttachedCompute`` read-only), AmlComputeProperties (``osType`` Linux, ``vmPriority`` Dedicated,
``remoteLoginPortPublicAccess`` NotSpecified, ``enableNodePublicIp`` true, ``isolatedNetwork`` false by default;
``allocationState``, node counts read-only), ScaleSettings (``maxNodeCount`` required, ``minNodeCount`` 0);
Compute_CreateOrUpdate (201 + Azure-AsyncOperation), Compute_Update (PATCH, ClusterUpdateParameters),
Compute_Delete (``underlyingResourceAction`` required; 202 + Azure-AsyncOperation + Location), Compute_List;
examples/Compute/createOrUpdate/AmlCompute.json, get/AmlCompute.json, delete.json.
An idle time before scale-down the client leaves out is filled with the service's PT2M (120 s).
"""

from __future__ import annotations

from typing import Any

from . import lro
from .core import Azure
from .wire import NAME, WS, Request, Response, Router, bad_request, merge, not_found, require

TYPE = "Microsoft.MachineLearningServices/workspaces/computes"
AML_DEFAULTS = {
    "osType": "Linux",
    "vmPriority": "Dedicated",
    "isolatedNetwork": False,
    "remoteLoginPortPublicAccess": "NotSpecified",
    "enableNodePublicIp": True,
    "subnet": None,
    "virtualMachineImage": None,
    "userAccountCredentials": None,
}
AML_READ_ONLY = {
    "allocationState": "Steady",
    "currentNodeCount": 0,
    "targetNodeCount": 0,
    "errors": None,
    "nodeStateCounts": {
        "idleNodeCount": 0,
        "runningNodeCount": 0,
        "preparingNodeCount": 0,
        "unusableNodeCount": 0,
        "leavingNodeCount": 0,
        "preemptedNodeCount": 0,
    },
}
INSTANCE_DEFAULTS = {
    "applicationSharingPolicy": "Shared",
    "computeInstanceAuthorizationType": "personal",
    "sshSettings": {"sshPublicAccess": "Disabled"},
    "enableNodePublicIp": True,
}


def _id(az: Azure, m: Any) -> str:
    return f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/computes/{m['name']}"


def _inner(az: Azure, compute_type: str, given: dict[str, Any]) -> dict[str, Any]:
    if compute_type == "AmlCompute":
        scale = given.get("scaleSettings")
        if scale is not None:
            require({"properties": {"properties": given}}, ["properties.properties.scaleSettings.maxNodeCount"])
        scale = {"minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT2M", **(scale or {"maxNodeCount": 1})}
        return {
            **AML_DEFAULTS,
            **given,
            "scaleSettings": scale,
            **AML_READ_ONLY,
            "allocationStateTransitionTime": az.iso(),
        }
    if compute_type == "ComputeInstance":
        return {**INSTANCE_DEFAULTS, **given, "state": "Running"}
    return dict(given)


def put_compute(az: Azure, req: Request, m: Any) -> Response:
    rid = _id(az, m)
    body = req.json_object()
    require(body, ["properties", "properties.computeType"])
    lro.ensure_idle(az, rid)
    existing = az.store.get(rid)
    props = dict(body["properties"])
    if existing and existing["properties"]["computeType"] != props["computeType"]:
        raise bad_request(
            f"The compute type of '{m['name']}' cannot change "
            f"({existing['properties']['computeType']} -> {props['computeType']}).",
            "UserError",
        )
    workspace = az.store.get(az.ws_id(m["sub"], m["rg"], m["ws"])) or {}
    location = body.get("location") or workspace.get("location") or az.location
    now = az.iso()
    stored = {
        "id": rid,
        "name": m["name"],
        "type": TYPE,
        "location": location,
        "tags": body.get("tags") or {},
        "identity": body.get("identity"),
        "sku": body.get("sku"),
        "systemData": az.system_data(existing.get("systemData") if existing else None),
        "properties": {
            "description": None,
            "disableLocalAuth": True,
            **props,
            "computeLocation": props.get("computeLocation") or location,
            "properties": _inner(az, props["computeType"], props.get("properties") or {}),
            "provisioningState": "Updating" if existing else "Creating",
            "createdOn": existing["properties"]["createdOn"] if existing else now,
            "modifiedOn": now,
            "isAttachedCompute": False,
            "provisioningErrors": None,
        },
    }
    az.store.put(rid, stored)
    az.store.meta_of(rid).setdefault("created", az.now())
    headers = lro.start(az, req, action="provision", resource=rid, location=False)
    return Response(200 if existing else 201, stored, headers)


def patch_compute(az: Azure, req: Request, m: Any) -> Response:
    """ClusterUpdateParameters: ``{"properties": {"properties": {"scaleSettings": ...}}}`` merged in."""
    rid = _id(az, m)
    existing = az.store.get(rid)
    if existing is None:
        raise not_found(TYPE, m["name"])
    lro.ensure_idle(az, rid)
    body = req.json_object()
    updated = merge(existing, {k: v for k, v in body.items() if k in ("properties", "tags", "identity")})
    updated["properties"]["provisioningState"] = "Updating"
    updated["properties"]["modifiedOn"] = az.iso()
    updated["systemData"] = az.system_data(existing.get("systemData"))
    az.store.put(rid, updated)
    headers = lro.start(az, req, action="provision", resource=rid, location=False)
    return Response(200, updated, headers)


def get_compute(az: Azure, req: Request, m: Any) -> Response:
    body = az.store.get(_id(az, m))
    if body is None:
        raise not_found(TYPE, m["name"])
    return Response(200, body)


def list_computes(az: Azure, req: Request, m: Any) -> Response:
    return az.page(req, az.store.children(f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/computes"))


def delete_compute(az: Azure, req: Request, m: Any) -> Response:
    rid = _id(az, m)
    action = req.query.get("underlyingResourceAction")
    if action not in ("Delete", "Detach"):
        raise bad_request("The query parameter 'underlyingResourceAction' must be Delete or Detach.", "UserError")
    body = az.store.get(rid)
    if body is None:
        return Response(204)
    lro.ensure_idle(az, rid)
    body["properties"]["provisioningState"] = "Deleting"
    az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="delete", resource=rid))


def register(router: Router, az: Azure) -> None:
    def h(fn: Any) -> Any:
        return lambda r, m: fn(az, r, m)

    one = rf"{WS}/computes/(?P<name>{NAME})"
    router.add("GET", rf"{WS}/computes", h(list_computes))
    router.add("GET", one, h(get_compute))
    router.add("PUT", one, h(put_compute))
    router.add("PATCH", one, h(patch_compute))
    router.add("DELETE", one, h(delete_compute))
