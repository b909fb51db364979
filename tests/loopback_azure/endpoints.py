"""Managed online endpoints, their deployments, and scoring through them.

Shapes: Microsoft.MachineLearningServices stable 2024-04-01, mfe.json: OnlineEndpoint (TrackedResource:
``location`` required; ``properties.authMode`` required; ``scoringUri``, ``swaggerUri``, ``provisioningState``
read-only; ``traffic`` and ``mirrorTraffic`` percentages by deployment name), OnlineEndpoints_CreateOrUpdate
(201 + Azure-AsyncOperation), _Update (PATCH tags/identity: 202 + Location), _Delete (202 + Location),
_ListKeys (EndpointAuthKeys), _RegenerateKeys, _GetToken; OnlineDeployment (``location`` and
``properties.endpointComputeType`` required; ManagedOnlineDeployment's ``scaleSettings``, ``requestSettings``,
``livenessProbe``/``readinessProbe`` (ProbeSettings) and ``appInsightsEnabled`` defaults; ``sku.capacity`` the
instance count), OnlineDeployments_CreateOrUpdate / _Update / _Delete / _List / _GetLogs;
examples/Workspace/OnlineEndpoint/*.json and examples/OnlineDeployment/ManagedOnlineDeployment/*.json.

What the service checks and the spec cannot say: traffic names deployments of the endpoint and sums to 0 or
100 (mirror traffic at most 50); a deployment with traffic cannot be deleted; the model, environment and code a
deployment names exist (when they are workspace ARM ids). Scoring: ``POST`` the endpoint's ``scoringUri`` with
the key (Key) or a token (AMLToken, AADToken); ``azureml-model-deployment`` picks the deployment, else the
traffic split does. What a deployment answers is its scorer (``LoopbackAzure.set_scorer``).
"""

from __future__ import annotations

import json
import random
import secrets
from typing import Any

from . import lro
from .core import Azure
from .wire import NAME, WS, Request, Response, Router, bad_request, not_found, require

ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_TYPE = f"{ENDPOINT_TYPE}/deployments"
PROBE = {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S"}  # initialDelay: none
MANAGED_DEFAULTS: dict[str, Any] = {
    "description": None,
    "properties": {},
    "environmentVariables": {},
    "appInsightsEnabled": False,
    "egressPublicNetworkAccess": "Enabled",
    "scaleSettings": {"scaleType": "Default"},
    "requestSettings": {"maxConcurrentRequestsPerInstance": 1, "requestTimeout": "PT5S", "maxQueueWait": "PT0.5S"},
    "livenessProbe": PROBE,
    "readinessProbe": PROBE,
}


NESTED_DEFAULTS = ("requestSettings", "livenessProbe", "readinessProbe")


def _endpoint_id(az: Azure, m: Any) -> str:
    return f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/onlineEndpoints/{m['ep']}"


def _endpoint(az: Azure, m: Any) -> tuple[str, dict[str, Any]]:
    rid = _endpoint_id(az, m)
    body = az.store.get(rid)
    if body is None:
        raise not_found(ENDPOINT_TYPE, m["ep"])
    return rid, body


def _check_traffic(az: Azure, rid: str, props: dict[str, Any]) -> None:
    names = {d["name"].lower() for d in az.store.children(f"{rid}/deployments")}
    for field, cap in (("traffic", 100), ("mirrorTraffic", 50)):
        split = props.get(field) or {}
        unknown = sorted(n for n in split if n.lower() not in names)
        if unknown:
            raise bad_request(
                f"{field} names deployments the endpoint does not have: {', '.join(unknown)}.", "BadArgument"
            )
        if any(not isinstance(v, int) or v < 0 or v > cap for v in split.values()):
            raise bad_request(f"{field} values must be whole percentages from 0 to {cap}.", "BadArgument")
        total = sum(split.values())
        if field == "traffic" and total not in (0, 100):
            raise bad_request(f"Traffic values must sum to 100 (or 0); they sum to {total}.", "BadArgument")


# endpoints -------------------------------------------------------------------------------------------------


def put_endpoint(az: Azure, req: Request, m: Any) -> Response:
    rid = _endpoint_id(az, m)
    body = req.json_object()
    require(body, ["location", "properties", "properties.authMode"])
    lro.ensure_idle(az, rid)
    props = body["properties"]
    if props["authMode"] not in ("AMLToken", "Key", "AADToken"):
        raise bad_request(f"authMode must be AMLToken, Key or AADToken, not {props['authMode']!r}.", "BadArgument")
    _check_traffic(az, rid, props)
    existing = az.store.get(rid)
    identity = body.get("identity") or (existing or {}).get("identity") or {"type": "SystemAssigned"}
    if "SystemAssigned" in identity.get("type", "") and "principalId" not in identity:
        identity = {**identity, "principalId": az.new_id(), "tenantId": az.tenant}
    scoring = (existing or {}).get("properties", {}).get("scoringUri") or (
        f"{req.base_url}/inference/{m['rg']}/{m['ws']}/{m['ep']}/score"
    )
    stored = {
        "id": rid,
        "name": m["ep"],
        "type": ENDPOINT_TYPE,
        "location": body["location"],
        "tags": body.get("tags") or {},
        "kind": body.get("kind") or "Managed",
        "identity": identity,
        "systemData": az.system_data(existing.get("systemData") if existing else None),
        "properties": {
            "description": None,
            "properties": {},
            "traffic": {},
            "mirrorTraffic": {},
            "publicNetworkAccess": "Enabled",
            **props,
            "scoringUri": scoring,
            "swaggerUri": scoring.rsplit("/", 1)[0] + "/swagger.json",
            "provisioningState": "Updating" if existing else "Creating",
        },
    }
    az.store.put(rid, stored)
    meta = az.store.meta_of(rid)
    meta.setdefault("created", az.now())
    meta.setdefault("keys", {"primaryKey": secrets.token_urlsafe(24), "secondaryKey": secrets.token_urlsafe(24)})
    headers = lro.start(az, req, action="provision", resource=rid, location=False)
    return Response(200 if existing else 201, stored, headers)


def patch_endpoint(az: Azure, req: Request, m: Any) -> Response:
    """PartialMinimalTrackedResourceWithIdentity: only ``tags`` and ``identity`` change this way."""
    rid, existing = _endpoint(az, m)
    lro.ensure_idle(az, rid)
    body = req.json_object()
    for key in ("tags", "identity"):
        if key in body:
            existing[key] = body[key]
    existing["properties"]["provisioningState"] = "Updating"
    existing["systemData"] = az.system_data(existing.get("systemData"))
    az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="provision", resource=rid))


def get_endpoint(az: Azure, req: Request, m: Any) -> Response:
    return Response(200, _endpoint(az, m)[1])


def list_endpoints(az: Azure, req: Request, m: Any) -> Response:
    items = az.store.children(f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/onlineEndpoints")
    if "name" in req.query:
        items = [b for b in items if b["name"].lower() == req.query["name"].lower()]
    return az.page(req, items)


def delete_endpoint(az: Azure, req: Request, m: Any) -> Response:
    rid = _endpoint_id(az, m)
    body = az.store.get(rid)
    if body is None:
        return Response(204)
    lro.ensure_idle(az, rid)
    body["properties"]["provisioningState"] = "Deleting"
    az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="delete", resource=rid))


def list_keys(az: Azure, req: Request, m: Any) -> Response:
    rid, body = _endpoint(az, m)
    if body["properties"]["authMode"] != "Key":
        raise bad_request(f"Endpoint '{m['ep']}' does not use key authentication.", "BadArgument")
    return Response(200, az.store.meta_of(rid)["keys"])


def regenerate_keys(az: Azure, req: Request, m: Any) -> Response:
    rid, _body = _endpoint(az, m)
    request = req.json_object()
    require(request, ["keyType"])
    if request["keyType"] not in ("Primary", "Secondary"):
        raise bad_request("keyType must be Primary or Secondary.", "BadArgument")
    field = "primaryKey" if request["keyType"] == "Primary" else "secondaryKey"
    az.store.meta_of(rid)["keys"][field] = request.get("keyValue") or secrets.token_urlsafe(24)
    az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="noop", resource=rid))


def get_token(az: Azure, req: Request, m: Any) -> Response:
    _endpoint(az, m)
    token, expires = az.issue_token(f"endpoint:{m['ep']}")
    return Response(
        200,
        {"accessToken": token, "tokenType": "Bearer", "expiryTimeUtc": expires, "refreshAfterTimeUtc": expires - 1800},
    )


# deployments -----------------------------------------------------------------------------------------------


def _deployment_id(az: Azure, m: Any) -> str:
    return f"{_endpoint_id(az, m)}/deployments/{m['name']}"


def _check_references(az: Azure, props: dict[str, Any]) -> None:
    refs = [
        ("model", props.get("model")),
        ("environment", props.get("environmentId")),
        ("code", (props.get("codeConfiguration") or {}).get("codeId")),
    ]
    for what, ref in refs:
        if isinstance(ref, str) and ref.lower().startswith("/subscriptions/") and az.store.get(ref) is None:
            raise bad_request(f"The {what} '{ref}' does not exist in the workspace.", "BadArgument")


def put_deployment(az: Azure, req: Request, m: Any) -> Response:
    _endpoint(az, m)
    rid = _deployment_id(az, m)
    body = req.json_object()
    require(body, ["location", "properties", "properties.endpointComputeType"])
    lro.ensure_idle(az, rid)
    props = body["properties"]
    _check_references(az, props)
    existing = az.store.get(rid)
    if props["endpointComputeType"] == "Managed":
        defaults = MANAGED_DEFAULTS
        # the defaults are per field: a probe or request setting the client gives in part is completed
        props = {
            **props,
            **{k: {**MANAGED_DEFAULTS[k], **props[k]} for k in NESTED_DEFAULTS if isinstance(props.get(k), dict)},
        }
    else:
        defaults = {"description": None}
    stored = {
        "id": rid,
        "name": m["name"],
        "type": DEPLOYMENT_TYPE,
        "location": body["location"],
        "tags": body.get("tags") or {},
        "kind": body.get("kind") or "Managed",
        "sku": {"name": "Default", "tier": "Standard", "capacity": 1, **(body.get("sku") or {})},
        "systemData": az.system_data(existing.get("systemData") if existing else None),
        "properties": {**defaults, **props, "provisioningState": "Updating" if existing else "Creating"},
    }
    if body.get("identity"):
        stored["identity"] = body["identity"]
    az.store.put(rid, stored)
    az.store.meta_of(rid).setdefault("created", az.now())
    headers = lro.start(az, req, action="provision", resource=rid, location=False)
    return Response(200 if existing else 201, stored, headers)


def patch_deployment(az: Azure, req: Request, m: Any) -> Response:
    """PartialMinimalTrackedResourceWithSku: ``tags`` and ``sku`` (the instance count)."""
    _endpoint(az, m)
    rid = _deployment_id(az, m)
    existing = az.store.get(rid)
    if existing is None:
        raise not_found(DEPLOYMENT_TYPE, m["name"])
    lro.ensure_idle(az, rid)
    body = req.json_object()
    if "tags" in body:
        existing["tags"] = body["tags"]
    if "sku" in body:
        existing["sku"] = {**existing.get("sku", {}), **body["sku"]}
    existing["properties"]["provisioningState"] = "Updating"
    existing["systemData"] = az.system_data(existing.get("systemData"))
    az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="provision", resource=rid))


def get_deployment(az: Azure, req: Request, m: Any) -> Response:
    _endpoint(az, m)
    body = az.store.get(_deployment_id(az, m))
    if body is None:
        raise not_found(DEPLOYMENT_TYPE, m["name"])
    return Response(200, body)


def list_deployments(az: Azure, req: Request, m: Any) -> Response:
    endpoint_id, _body = _endpoint(az, m)
    return az.page(req, az.store.children(f"{endpoint_id}/deployments"))


def delete_deployment(az: Azure, req: Request, m: Any) -> Response:
    _eid, endpoint = _endpoint(az, m)
    rid = _deployment_id(az, m)
    body = az.store.get(rid)
    if body is None:
        return Response(204)
    for field in ("traffic", "mirrorTraffic"):
        share = {k.lower(): v for k, v in (endpoint["properties"].get(field) or {}).items()}.get(m["name"].lower())
        if share:
            raise bad_request(
                f"Deployment '{m['name']}' still gets {share}% of the endpoint's {field}; set it to 0 "
                "before deleting the deployment.",
                "BadArgument",
            )
    lro.ensure_idle(az, rid)
    body["properties"]["provisioningState"] = "Deleting"
    az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="delete", resource=rid))


def get_logs(az: Azure, req: Request, m: Any) -> Response:
    _endpoint(az, m)
    if az.store.get(_deployment_id(az, m)) is None:
        raise not_found(DEPLOYMENT_TYPE, m["name"])
    return Response(200, {"content": f"loopback Azure: deployment {m['name']} is serving.\n"})


# scoring ---------------------------------------------------------------------------------------------------


def score(az: Azure, req: Request, m: Any) -> Response:
    """A request to the endpoint's scoringUri, answered by the chosen deployment's scorer."""
    rid = (
        f"/subscriptions/{az.subscription_id}/resourceGroups/{m['rg']}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{m['ws']}/onlineEndpoints/{m['ep']}"
    )
    endpoint = az.store.get(rid)
    if endpoint is None:
        return Response(404, {"message": f"Endpoint '{m['ep']}' not found."})
    auth = req.headers.get("authorization", "")
    given = auth[7:].strip() if auth.startswith("Bearer ") else ""
    if endpoint["properties"]["authMode"] == "Key":
        ok = given in az.store.meta_of(rid)["keys"].values()
    else:
        ok = az.token_valid(given)
    if not ok:
        return Response(401, {"message": "Unauthorized: the key or token is not valid for this endpoint."})
    deployments = {d["name"].lower(): d for d in az.store.children(f"{rid}/deployments")}
    chosen = req.headers.get("azureml-model-deployment")
    if chosen:
        if chosen.lower() not in deployments:
            return Response(404, {"message": f"Deployment '{chosen}' not found on endpoint '{m['ep']}'."})
        name = deployments[chosen.lower()]["name"]
    else:
        split = {k: v for k, v in (endpoint["properties"].get("traffic") or {}).items() if v > 0}
        if not split:
            return Response(
                424,
                {
                    "message": "No valid deployments to route to. Please check that the endpoint has "
                    "at least one deployment with positive weight values or use a "
                    "deployment specific header to route."
                },
            )
        name = random.choices(list(split), weights=list(split.values()))[0]
    scorers = az.scorers.get(rid.lower(), {})
    scorer = scorers.get(name.lower()) or scorers.get("*")
    deployment = deployments[name.lower()]
    if scorer is None:
        try:
            parsed: Any = json.loads(req.body) if req.body else None
        except ValueError:
            parsed = req.body.decode("utf-8", "replace")
        answer: Any = {"deployment": name, "model": deployment["properties"].get("model"), "input": parsed}
    else:
        answer = scorer(req.body)
    headers = {"azureml-model-deployment": name}
    if isinstance(answer, bytes):
        return Response(200, None, {**headers, "Content-Type": "application/octet-stream"}, raw=answer)
    return Response(200, answer, headers)


def register(router: Router, az: Azure) -> None:
    def h(fn: Any) -> Any:
        return lambda r, m: fn(az, r, m)

    ep = rf"{WS}/onlineEndpoints/(?P<ep>{NAME})"
    dep = rf"{ep}/deployments/(?P<name>{NAME})"
    router.add("GET", rf"{WS}/onlineEndpoints", h(list_endpoints))
    router.add("GET", ep, h(get_endpoint))
    router.add("PUT", ep, h(put_endpoint))
    router.add("PATCH", ep, h(patch_endpoint))
    router.add("DELETE", ep, h(delete_endpoint))
    router.add("POST", rf"{ep}/listKeys", h(list_keys))
    router.add("POST", rf"{ep}/regenerateKeys", h(regenerate_keys))
    router.add("POST", rf"{ep}/token", h(get_token))
    router.add("GET", rf"{ep}/deployments", h(list_deployments))
    router.add("GET", dep, h(get_deployment))
    router.add("PUT", dep, h(put_deployment))
    router.add("PATCH", dep, h(patch_deployment))
    router.add("DELETE", dep, h(delete_deployment))
    router.add("POST", rf"{dep}/getLogs", h(get_logs))
    router.add("POST", rf"/inference/(?P<rg>{NAME})/(?P<ws>{NAME})/(?P<ep>{NAME})/score", h(score), arm=False)
    az.finishers["noop"] = lambda op: None
