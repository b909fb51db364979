"""Azure Resource Manager: template deployments at resource-group scope, what-if, resource groups, and the
resources templates make.

Shapes: Microsoft.Resources deployments stable 2025-04-01 (deployments.json): Deployment (``properties.mode``
required), DeploymentExtended (``provisioningState`` Accepted -> Succeeded, ``outputs``, ``outputResources``,
``parameters`` with their types, ``timestamp``, ``duration``, ``correlationId``, ``templateHash``),
Deployments_CreateOrUpdate (201 + Azure-AsyncOperation), Deployments_WhatIf (202 + Location; WhatIfOperationResult
``{"status", "properties": {"changes": [WhatIfChange]}}``, WhatIfChange ``changeType`` Create / Delete / Ignore /
NoChange / Modify, ``before`` / ``after`` / ``delta`` of WhatIfPropertyChange ``path``, ``propertyChangeType``
Create / Delete / Modify / Array / NoEffect, ``children``), Deployments_Validate, Deployments_ExportTemplate,
Deployments_Delete (202 + Location), Deployments_ListByResourceGroup; examples PutDeploymentResourceGroup.json
and PostDeploymentWhatIfOnResourceGroup.json. Resource groups: resources.json 2025-04-01 (ResourceGroup).

What-if compares each template resource with what the resource group holds (a resource another deployment, the
ML API or a test put there). In Incremental mode the group's other top-level resources are Ignore; in Complete
mode they are Delete, and a Complete deployment deletes them. A property the resource has and the template leaves
out is a Delete when the last deployment declared it and no change when the service filled it in (ids,
provisioningState): the noise real what-if is known for is left out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import lro
from . import workspace as workspaces
from .core import Azure
from .template import RESOURCE_FIELDS, Evaluated, Scope, TemplateError, evaluate_template
from .wire import NAME, SUB_RG, ApiError, Request, Response, Router, bad_request, not_found, require

DEPLOYMENTS = "Microsoft.Resources/deployments"
WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
SERVICE_FILLED = frozenset({"provisioningState"})


def _deployment_id(az: Azure, m: Any) -> str:
    return f"{az.rg_id(m['sub'], m['rg'])}/providers/Microsoft.Resources/deployments/{m['name']}"


def _evaluate(az: Azure, m: Any, body: dict[str, Any]) -> tuple[dict[str, Any], Evaluated]:
    require(body, ["properties", "properties.mode"])
    props = body["properties"]
    if props["mode"] not in ("Incremental", "Complete"):
        raise bad_request(
            f"The deployment mode '{props['mode']}' is not valid: Incremental or Complete.", "InvalidDeploymentMode"
        )
    if "templateLink" in props:
        raise bad_request(
            "templateLink is not supported by the loopback Azure: send the template inline.", "InvalidTemplate"
        )
    if "template" not in props:
        raise bad_request("The deployment has neither a template nor a templateLink.", "InvalidTemplate")
    rg_body = az.store.get(az.rg_id(m["sub"], m["rg"])) or {}
    scope = Scope(
        az.subscription_id, rg_body.get("name", m["rg"]), rg_body.get("location", az.location), m["name"], az.tenant
    )
    try:
        return props, evaluate_template(props["template"], props.get("parameters") or {}, scope)
    except TemplateError as e:
        raise ApiError(400, "InvalidTemplate", f"Deployment template validation failed: '{e}'.") from e


def _template_hash(template: Any) -> str:
    return str(int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:15], 16))


def _inventory(az: Azure, rg_id: str) -> list[dict[str, Any]]:
    """The resource group's top-level resources (``providers/<ns>/<type>/<name>``), deployments aside."""
    prefix = f"{rg_id}/providers/".lower()
    out = []
    for key, body in az.store.resources.items():
        rest = key[len(prefix) :] if key.startswith(prefix) else None
        if rest and rest.count("/") == 2 and not rest.startswith("microsoft.resources/"):
            out.append(body)
    return out


def put_deployment(az: Azure, req: Request, m: Any) -> Response:
    rid = _deployment_id(az, m)
    body = req.json_object()
    props, evaluated = _evaluate(az, m, body)
    for op in (az.store.operations[i] for i in az.store.running):
        if op["resource"].lower() == rid.lower():
            raise ApiError(
                409,
                "DeploymentActive",
                f"The deployment '{m['name']}' is still active; wait for it to "
                "finish before deploying again under that name.",
            )
    stored = {
        "id": rid,
        "name": m["name"],
        "type": DEPLOYMENTS,
        "tags": body.get("tags") or {},
        "properties": {
            "provisioningState": "Accepted",
            "mode": props["mode"],
            "correlationId": az.new_id(),
            "timestamp": az.iso(),
            "duration": "PT0S",
            "parameters": evaluated.parameters,
            "templateHash": _template_hash(props["template"]),
            "dependencies": [],
            "providers": sorted({r["type"].split("/")[0] for r in evaluated.resources}),
            "outputResources": [],
            "outputs": {},
        },
    }
    stored["properties"]["providers"] = [
        {"namespace": ns, "resourceTypes": []} for ns in stored["properties"]["providers"]
    ]
    az.store.put(rid, stored)
    meta = az.store.meta_of(rid)
    meta.setdefault("created", az.now())
    meta["template"] = props["template"]
    data = {
        "resources": evaluated.resources,
        "outputs": evaluated.outputs,
        "mode": props["mode"],
        "rg": az.rg_id(m["sub"], m["rg"]),
    }
    headers = lro.start(
        az,
        req,
        action="arm_deploy",
        resource=rid,
        provider="Microsoft.Resources",
        location=False,
        status_path=f"{rid}/operationStatuses",
        data=data,
    )
    return Response(201, stored, headers)


def finish_deploy(az: Azure, op: dict[str, Any]) -> None:
    deployment = az.store.get(op["resource"])
    if deployment is None:
        return
    props = deployment["properties"]
    props["duration"] = f"PT{max(op['end'] - op['start'], 0):.3f}S"
    if op["error"]:
        props["provisioningState"] = "Failed"
        props["error"] = op["error"]
        return
    data = op["data"]
    in_template = {r["id"].lower() for r in data["resources"]}
    if data["mode"] == "Complete":
        for body in _inventory(az, data["rg"]):
            if body["id"].lower() not in in_template:
                az.store.delete(body["id"])
    for resource in data["resources"]:
        spec = {k: v for k, v in resource.items() if k != "apiVersion"}
        if resource["type"].lower() == WORKSPACE_TYPE.lower() and az.store.get(resource["id"]) is None:
            # a workspace comes with what the service makes for it (datastores), as a real one does
            workspaces.create_workspace(az, resource["id"].split("/")[4], resource["name"])
        existing = az.store.get(resource["id"])
        if existing is not None and resource["type"].lower() == WORKSPACE_TYPE.lower():
            # an RP's PUT keeps what the service fills in: a workspace's ids, storage, discovery
            stored = {
                **existing,
                **spec,
                "properties": {**existing["properties"], **spec.get("properties", {})},
            }
        else:
            stored = {**{k: v for k, v in (existing or {}).items() if k == "systemData"}, **spec}
        if isinstance(stored.get("properties"), dict):
            stored["properties"] = {**stored["properties"], "provisioningState": "Succeeded"}
        az.store.put(resource["id"], stored)
        meta = az.store.meta_of(resource["id"])
        meta.setdefault("created", az.now())
        meta["declared"] = _comparable(spec)
    props["provisioningState"] = "Succeeded"
    props["outputs"] = data["outputs"]
    props["outputResources"] = [{"id": r["id"]} for r in data["resources"]]


def get_deployment(az: Azure, req: Request, m: Any) -> Response:
    body = az.store.get(_deployment_id(az, m))
    if body is None:
        raise ApiError(404, "DeploymentNotFound", f"Deployment '{m['name']}' could not be found.")
    return Response(200, body)


def list_deployments(az: Azure, req: Request, m: Any) -> Response:
    return az.page(req, az.store.children(f"{az.rg_id(m['sub'], m['rg'])}/providers/Microsoft.Resources/deployments"))


def delete_deployment(az: Azure, req: Request, m: Any) -> Response:
    rid = _deployment_id(az, m)
    if az.store.get(rid) is None:
        return Response(204)
    return Response(202, None, lro.start(az, req, action="delete", resource=rid, provider="Microsoft.Resources"))


def validate(az: Azure, req: Request, m: Any) -> Response:
    props, evaluated = _evaluate(az, m, req.json_object())
    return Response(
        200,
        {
            "id": _deployment_id(az, m),
            "name": m["name"],
            "type": DEPLOYMENTS,
            "properties": {
                "provisioningState": "Succeeded",
                "mode": props["mode"],
                "parameters": evaluated.parameters,
                "templateHash": _template_hash(props["template"]),
                "validatedResources": [{"id": r["id"]} for r in evaluated.resources],
            },
        },
    )


def export_template(az: Azure, req: Request, m: Any) -> Response:
    if az.store.get(_deployment_id(az, m)) is None:
        raise ApiError(404, "DeploymentNotFound", f"Deployment '{m['name']}' could not be found.")
    return Response(200, {"template": az.store.meta_of(_deployment_id(az, m)).get("template", {})})


# what-if -------------------------------------------------------------------------------------------------------


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    out = {k: resource[k] for k in RESOURCE_FIELDS if k in resource}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: v for k, v in out["properties"].items() if k not in SERVICE_FILLED}
    return out


def delta(before: Any, after: Any, path: str = "", declared: Any = None) -> list[dict[str, Any]]:
    """WhatIfPropertyChange entries turning ``before`` into ``after``. A property the resource has and the template
    leaves out is Delete when the last deployment declared it; one the service filled in is not a change."""
    changes: list[dict[str, Any]] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(after) + [k for k in before if k not in after]:
            sub = f"{path}.{key}" if path else str(key)
            was = declared.get(key) if isinstance(declared, dict) else None
            if key not in before:
                changes.append({"path": sub, "propertyChangeType": "Create", "after": after[key]})
            elif key not in after:
                if isinstance(declared, dict) and key in declared:
                    changes.append({"path": sub, "propertyChangeType": "Delete", "before": before[key]})
            else:
                changes.extend(delta(before[key], after[key], sub, was))
    elif isinstance(before, list) and isinstance(after, list) and before != after:
        children: list[dict[str, Any]] = []
        for i in range(max(len(before), len(after))):
            if i >= len(before):
                children.append({"path": str(i), "propertyChangeType": "Create", "after": after[i]})
            elif i >= len(after):
                children.append({"path": str(i), "propertyChangeType": "Delete", "before": before[i]})
            else:
                children.extend(delta(before[i], after[i], str(i)))
        changes.append({"path": path, "propertyChangeType": "Array", "children": children})
    elif before != after:
        changes.append({"path": path, "propertyChangeType": "Modify", "before": before, "after": after})
    return changes


def changes(az: Azure, rg_id: str, evaluated: Evaluated, mode: str, ids_only: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    declared = set()
    for resource in evaluated.resources:
        declared.add(resource["id"].lower())
        after = {
            "id": resource["id"],
            "name": resource["name"].rsplit("/", 1)[-1],
            "type": resource["type"],
            "apiVersion": resource["apiVersion"],
            **_comparable(resource),
        }
        existing = az.store.get(resource["id"])
        if existing is None:
            change: dict[str, Any] = {"resourceId": resource["id"], "changeType": "Create", "after": after}
        else:
            before = {
                "id": existing["id"],
                "name": existing.get("name", after["name"]),
                "type": resource["type"],
                "apiVersion": resource["apiVersion"],
                **_comparable(existing),
            }
            last = az.store.meta_of(resource["id"]).get("declared")
            diff = delta(_comparable(existing), _comparable(resource), "", last)
            modified = bool(diff)
            change = {
                "resourceId": resource["id"],
                "changeType": "Modify" if modified else "NoChange",
                "before": before,
                "after": after,
            }
            if modified:
                change["delta"] = diff
        out.append(change)
    for body in _inventory(az, rg_id):
        if body["id"].lower() not in declared:
            out.append(
                {
                    "resourceId": body["id"],
                    "changeType": "Delete" if mode == "Complete" else "Ignore",
                    "before": {
                        "id": body["id"],
                        "name": body.get("name"),
                        "type": body.get("type"),
                        **_comparable(body),
                    },
                }
            )
    if ids_only:
        out = [{"resourceId": c["resourceId"], "changeType": c["changeType"]} for c in out]
    return out


def what_if(az: Azure, req: Request, m: Any) -> Response:
    body = req.json_object()
    props, evaluated = _evaluate(az, m, body)
    ids_only = (props.get("whatIfSettings") or {}).get("resultFormat") == "ResourceIdOnly"
    result = {
        "status": "Succeeded",
        "properties": {"changes": changes(az, az.rg_id(m["sub"], m["rg"]), evaluated, props["mode"], ids_only)},
    }
    headers = lro.start(
        az, req, action="noop", resource=_deployment_id(az, m), provider="Microsoft.Resources", data={"result": result}
    )
    del headers["Azure-AsyncOperation"]  # Deployments_WhatIf: 202 with Location only
    return Response(202, None, headers)


# resource groups and the resources templates make -----------------------------------------------------------------


def put_resource_group(az: Azure, req: Request, m: Any) -> Response:
    if m["sub"].lower() != az.subscription_id.lower():
        raise ApiError(404, "SubscriptionNotFound", f"The subscription '{m['sub']}' could not be found.")
    body = req.json_object()
    require(body, ["location"])
    rid = f"/subscriptions/{az.subscription_id}/resourceGroups/{m['rg']}"
    existing = az.store.get(rid)
    stored = {
        "id": rid,
        "name": m["rg"],
        "type": "Microsoft.Resources/resourceGroups",
        "location": body["location"],
        "tags": body.get("tags") or {},
        "properties": {"provisioningState": "Succeeded"},
    }
    az.store.put(rid, stored)
    az.store.meta_of(rid).setdefault("created", az.now())
    return Response(200 if existing else 201, stored)


def resource_group_exists(az: Azure, req: Request, m: Any) -> Response:
    """ResourceGroups_CheckExistence: 204 or 404, no body."""
    try:
        az.rg_id(m["sub"], m["rg"])
    except ApiError:
        return Response(404)
    return Response(204)


def get_resource(az: Azure, req: Request, m: Any) -> Response:
    az.rg_id(m["sub"], m["rg"])
    body = az.store.get(req.path)
    if body is None:
        raise not_found(m["ns"], m["rest"])
    return Response(200, body)


def delete_resource(az: Azure, req: Request, m: Any) -> Response:
    az.rg_id(m["sub"], m["rg"])
    if az.store.get(req.path) is None:
        return Response(204)
    az.store.delete(req.path)
    return Response(200)


def register(router: Router, az: Azure) -> None:
    def h(fn: Any) -> Any:
        return lambda r, m: fn(az, r, m)

    one = rf"{SUB_RG}/providers/Microsoft\.Resources/deployments/(?P<name>{NAME})"
    router.add("PUT", SUB_RG, h(put_resource_group))
    router.add("HEAD", SUB_RG, h(resource_group_exists))
    router.add("GET", rf"{SUB_RG}/providers/Microsoft\.Resources/deployments", h(list_deployments))
    router.add("GET", one, h(get_deployment))
    router.add("PUT", one, h(put_deployment))
    router.add("DELETE", one, h(delete_deployment))
    router.add("POST", rf"{one}/whatIf", h(what_if))
    router.add("POST", rf"{one}/validate", h(validate))
    router.add("POST", rf"{one}/exportTemplate", h(export_template))
    not_served_elsewhere = r"(?!Microsoft\.MachineLearningServices/|Microsoft\.Resources/)"
    other = rf"{SUB_RG}/providers/(?P<ns>{not_served_elsewhere}{NAME})/(?P<rest>.+)"
    router.add("GET", other, h(get_resource))
    router.add("DELETE", other, h(delete_resource))
    az.finishers["arm_deploy"] = lambda op: finish_deploy(az, op)
