"""Long-running operations as ARM does them.

A PUT answers 201 with ``Azure-AsyncOperation`` (the status to poll: ``{"status": "InProgress"}`` until
``Succeeded``/``Failed``); a DELETE or a POST action answers 202 with ``Location`` (202 while running, then
the result) and ``Azure-AsyncOperation``. Every answer carries ``retry-after-ms`` (``Azure.lro_poll_ms``):
azure-core ignores ``Retry-After: 0`` and would then wait 30 s between polls.
Shapes: ARM's asynchronous operations (Azure/azure-resource-manager-rpc, async-api-reference.md) and the
``x-ms-long-running-operation`` responses of mfe.json 2024-04-01 (201 + Azure-AsyncOperation for PUT,
202 + Location for DELETE) and Microsoft.Resources deployments.json 2025-04-01 (whatIf: 202 + Location).

An operation completes lazily: before each request, ``settle`` runs the finisher of every operation whose
time (``Azure.lro_seconds``) is up. Nothing runs in the background, and a persisted store resumes them.
"""

from __future__ import annotations

from typing import Any

from .core import Azure
from .wire import NAME, SUB_RG, ApiError, Request, Response, Router

ML = "Microsoft.MachineLearningServices"
RESOURCES = "Microsoft.Resources"


def start(
    az: Azure,
    req: Request,
    *,
    action: str,
    resource: str,
    provider: str = ML,
    location: bool = True,
    status_path: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Record a running operation; the headers that tell the client where to poll."""
    op_id = az.new_id()
    now = az.now()
    failure = _take_failure(az, req.path)
    az.store.running.add(op_id)
    az.store.operations[op_id] = {
        "id": op_id,
        "action": action,
        "resource": resource,
        "provider": provider,
        "status": "InProgress",
        "start": now,
        "done_at": now + _seconds(az, req),
        "error": failure,
        "data": data or {},
    }
    az.store.dirty = True
    base = f"/subscriptions/{az.subscription_id}/providers/{provider}/locations/{az.location}"
    api = {"api-version": req.query.get("api-version", "2024-04-01")}
    ml = provider == ML
    kind = "mfeOperationsStatus" if ml else "operationStatuses"
    status = f"{status_path}/{op_id}" if status_path else f"{base}/{kind}/{op_id}"
    headers = {"Azure-AsyncOperation": req.url(status, api), "retry-after-ms": str(az.lro_poll_ms)}
    if location:
        headers["Location"] = req.url(f"{base}/{'mfeOperationResults' if ml else 'operationResults'}/{op_id}", api)
    return headers


def _seconds(az: Azure, req: Request) -> float:
    """How long an operation started by ``req`` runs: the last matching ``operation_seconds``, else ``lro_seconds``."""
    for method, contains, seconds in reversed(az.operation_seconds):
        if (method is None or method == req.method) and contains.lower() in req.path.lower():
            return seconds
    return az.lro_seconds


def _take_failure(az: Azure, path: str) -> dict[str, Any] | None:
    for entry in az.operation_failures:
        contains, code, message, remaining = entry
        if remaining != 0 and (contains is None or contains.lower() in path.lower()):
            entry[3] = remaining - 1 if remaining is not None else None
            return {"code": code, "message": message}
    return None


def settle(az: Azure) -> None:
    """Complete every operation whose time is up (its finisher updates the resources)."""
    now = az.now()
    for op_id in sorted(az.store.running, key=lambda i: az.store.operations[i]["start"]):
        op = az.store.operations[op_id]
        if op["done_at"] <= now:
            az.store.running.discard(op_id)
            op["status"] = "Failed" if op["error"] else "Succeeded"
            op["end"] = now
            az.finishers[op["action"]](op)
            az.store.dirty = True


def _operation(az: Azure, op_id: str) -> dict[str, Any]:
    op = az.store.operations.get(op_id)
    if op is None:
        raise ApiError(404, "OperationNotFound", f"The operation '{op_id}' was not found.")
    return op


def status(az: Azure, req: Request, m: Any) -> Response:
    """The Azure-AsyncOperation resource: ``{"id", "name", "status", "startTime", "endTime", "error"}``."""
    op = _operation(az, m["op"])
    body: dict[str, Any] = {"id": req.path, "name": op["id"], "status": op["status"], "startTime": az.iso(op["start"])}
    if "end" in op:
        body["endTime"] = az.iso(op["end"])
    if op["error"]:
        body["error"] = op["error"]
    headers = {"retry-after-ms": str(az.lro_poll_ms)} if op["status"] == "InProgress" else {}
    return Response(200, body, headers)


def result(az: Azure, req: Request, m: Any) -> Response:
    """The Location resource: 202 while running; then the result (a body, or 200/204 with none)."""
    op = _operation(az, m["op"])
    if op["status"] == "InProgress":
        return Response(202, None, {"Location": req.url(req.path, req.query), "retry-after-ms": str(az.lro_poll_ms)})
    if op["error"]:
        return Response(400, {"error": op["error"]})
    if "result" in op["data"]:
        return Response(200, op["data"]["result"])
    body = az.store.get(op["resource"])
    return Response(200, body) if body is not None and op["action"] != "delete" else Response(204)


def register(router: Router, az: Azure) -> None:
    loc = rf"/subscriptions/{NAME}/providers/{NAME}/locations/{NAME}"
    router.add("GET", rf"{loc}/(?:mfeOperationsStatus|operationStatuses)/(?P<op>{NAME})", lambda r, m: status(az, r, m))
    router.add("GET", rf"{loc}/(?:mfeOperationResults|operationResults)/(?P<op>{NAME})", lambda r, m: result(az, r, m))
    router.add(
        "GET",
        rf"{SUB_RG}/providers/Microsoft\.Resources/deployments/{NAME}/operationStatuses/(?P<op>{NAME})",
        lambda r, m: status(az, r, m),
    )


def ensure_idle(az: Azure, rid: str) -> None:
    """ARM's 409 for a write while another operation on the same resource still runs."""
    key = rid.lower()
    for op in (az.store.operations[i] for i in az.store.running):
        if op["resource"].lower() == key:
            raise ApiError(
                409,
                "Conflict",
                f"There is already an operation ({op['action']}) in progress on '{rid}'; retry when it is done.",
            )


def finish_provision(az: Azure, op: dict[str, Any]) -> None:
    """A create or update is done: ``provisioningState`` Succeeded, or Failed with the operation's error."""
    body = az.store.get(op["resource"])
    if body is None:
        return
    props = body.setdefault("properties", {})
    props["provisioningState"] = "Failed" if op["error"] else "Succeeded"
    if op["error"] and "provisioningErrors" in props:
        props["provisioningErrors"] = [{"error": op["error"]}]
    az.store.dirty = True


def finish_delete(az: Azure, op: dict[str, Any]) -> None:
    if not op["error"]:
        az.store.delete(op["resource"])
    else:
        finish_provision(az, op)
