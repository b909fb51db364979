"""Jobs: a command job PUT starts a run that is Running, then Completed after ``Azure.job_seconds``.

Shapes: Microsoft.MachineLearningServices stable 2024-04-01, mfe.json: JobBase (``properties.jobType``
required), CommandJob (``command`` and ``environmentId`` required; ``status``, ``parameters`` read-only;
``experimentName`` Default), JobService (``services``: the Studio link), Jobs_CreateOrUpdate (200/201, not
long-running), Jobs_Get, Jobs_List (``jobType``, ``tag``, ``listViewType``), Jobs_Delete and Jobs_Cancel
(202 + Location); examples/Job/CommandJob/createOrUpdate.json and get.json.

When a run completes, an output with ``assetName`` is registered as that asset (a model for the model output
types, data otherwise), version ``assetVersion`` or the next one, as Azure ML does for named outputs.
A job's definition (``jobType``, ``command``, ``environmentId``, ``codeId``) cannot change once submitted: 409.

Why a run failed is not part of the job resource (JobBase has no error): it is in run history, the data-plane
service the workspace's discovery document names ``history`` (data-plane runHistory.json, 2019-08-01:
``GET /history/v1.0{WS}/runs/{runId}`` -> Run, ``error``: ErrorResponse ``{"error": {"code", "message"}}``),
which ``az ml job stream`` reads. A Failed run's error is kept in the store's server-side facts and served there.
"""

from __future__ import annotations

import copy
from typing import Any

from . import lro
from .assets import KINDS, container_view, store_version
from .core import Azure
from .wire import NAME, WS, ApiError, Request, Response, Router, bad_request, not_found, require

TYPE = "Microsoft.MachineLearningServices/workspaces/jobs"
TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding")
DEFINITION = ("jobType", "command", "environmentId", "codeId")
MODEL_OUTPUTS = {"custom_model": "CustomModel", "mlflow_model": "MLFlowModel", "triton_model": "TritonModel"}
PENDING = "pending_jobs"  # store.facts: ids of jobs not yet in a terminal status


def _id(az: Azure, m: Any) -> str:
    return f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/jobs/{m['name']}"


def _check_references(az: Azure, props: dict[str, Any]) -> None:
    for field in ("environmentId", "codeId", "computeId"):
        ref = props.get(field)
        if isinstance(ref, str) and ref.lower().startswith("/subscriptions/") and az.store.get(ref) is None:
            raise bad_request(f"The job's {field} '{ref}' does not exist in the workspace.", "BadArgument")


def put_job(az: Azure, req: Request, m: Any) -> Response:
    rid = _id(az, m)
    body = req.json_object()
    require(body, ["properties", "properties.jobType"])
    props = body["properties"]
    if props["jobType"] == "Command":
        require(body, ["properties.command", "properties.environmentId"])
    _check_references(az, props)
    existing = az.store.get(rid)
    if existing is not None:
        old = existing["properties"]
        changed = [f for f in DEFINITION if f in props and props.get(f) != old.get(f)]
        if changed:
            raise ApiError(
                409,
                "Conflict",
                f"Job '{m['name']}' already exists; its {', '.join(changed)} cannot "
                "change. Submit a job with a new name.",
            )
        for field in ("description", "tags", "properties", "displayName", "isArchived"):
            if field in props:
                old[field] = props[field]
        existing["systemData"] = az.system_data(existing.get("systemData"))
        az.store.dirty = True
        return Response(200, existing)
    ws_id = az.ws_id(m["sub"], m["rg"], m["ws"])
    studio = f"https://ml.azure.com/runs/{m['name']}?wsid={ws_id}&tid={az.tenant}"
    stored = {
        "id": rid,
        "name": m["name"],
        "type": TYPE,
        "systemData": az.system_data(),
        "properties": {
            "description": None,
            "tags": {},
            "properties": {},
            "displayName": m["name"],
            "experimentName": "Default",
            "isArchived": False,
            "computeId": None,
            "identity": None,
            "inputs": {},
            "outputs": {},
            "environmentVariables": {},
            **props,
            "status": "NotStarted",
            "services": {
                "Tracking": {
                    "jobServiceType": "Tracking",
                    "endpoint": f"azureml://{az.location}.api.azureml.ms/mlflow/v1.0{ws_id}",
                },
                "Studio": {"jobServiceType": "Studio", "endpoint": studio},
            },
        },
    }
    if props["jobType"] == "Command":
        stored["properties"].setdefault("resources", {"instanceCount": 1, "properties": {}})
        stored["properties"]["parameters"] = {
            k: v.get("value")
            for k, v in (props.get("inputs") or {}).items()
            if isinstance(v, dict) and v.get("jobInputType") == "literal"
        }
    az.store.put(rid, stored)
    meta = az.store.meta_of(rid)
    meta.update({"created": az.now(), "final_at": az.now() + az.job_seconds, "outcome": "Completed"})
    az.store.facts.setdefault(PENDING, []).append(rid)
    response = copy.deepcopy(stored)
    stored["properties"]["status"] = "Running"  # what a GET after the submission sees
    return Response(201, response)


def finish_due_jobs(az: Azure) -> None:
    """Move every run whose time is up to its outcome (registering its named outputs)."""
    pending = az.store.facts.get(PENDING) or []
    if not pending:
        return
    now = az.now()
    still = []
    for rid in pending:
        body = az.store.get(rid)
        meta = az.store.meta_of(rid)
        if body is None or body["properties"]["status"] in TERMINAL:
            continue
        waiting = meta.get("final_at", 0.0) > now or body["properties"]["status"] == "CancelRequested"
        if waiting and "forced" not in meta:
            still.append(rid)
            continue
        finish(az, rid, meta.pop("forced", None) or meta.get("outcome", "Completed"))
    if still != pending:
        az.store.facts[PENDING] = still
        az.store.dirty = True


def finish(az: Azure, rid: str, status: str) -> None:
    body = az.store.get(rid)
    if body is None or body["properties"]["status"] in TERMINAL:
        return
    props = body["properties"]
    props["status"] = status
    if status == "Failed":
        meta = az.store.meta_of(rid)
        meta.setdefault("error", {"code": "UserError", "message": "The loopback Azure failed this run."})
    if status != "Completed":
        return
    ws_id = rid.split("/jobs/")[0]
    for output_name, output in (props.get("outputs") or {}).items():
        if not isinstance(output, dict):
            continue
        uri = output.get("uri") or (
            f"azureml://datastores/workspaceartifactstore/paths/ExperimentRun/dcid.{body['name']}/{output_name}/"
        )
        output["uri"] = uri
        asset = output.get("assetName")
        if not asset:
            continue
        output_type = output.get("jobOutputType", "uri_folder")
        kind = KINDS["models" if output_type in MODEL_OUTPUTS else "data"]
        container = az.store.get(f"{ws_id}/{kind.segment}/{asset}")
        version = output.get("assetVersion") or (
            container_view(az, container)["properties"]["nextVersion"] if container else "1"
        )
        if output_type in MODEL_OUTPUTS:
            asset_props = {"modelUri": uri, "modelType": MODEL_OUTPUTS[output_type], "jobName": body["name"]}
        else:
            asset_props = {"dataUri": uri, "dataType": output_type}
        store_version(az, kind, ws_id, asset, version, asset_props)


def get_job(az: Azure, req: Request, m: Any) -> Response:
    body = az.store.get(_id(az, m))
    if body is None:
        raise not_found(TYPE, m["name"])
    return Response(200, body)


def list_jobs(az: Azure, req: Request, m: Any) -> Response:
    items = az.store.children(f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/jobs")
    view = req.query.get("listViewType", "ActiveOnly").lower()
    if view != "all":
        items = [b for b in items if bool(b["properties"].get("isArchived")) == (view == "archivedonly")]
    if "jobType" in req.query:
        items = [b for b in items if b["properties"]["jobType"].lower() == req.query["jobType"].lower()]
    if "tag" in req.query:
        items = [b for b in items if req.query["tag"] in (b["properties"].get("tags") or {})]
    return az.page(req, items)


def cancel_job(az: Azure, req: Request, m: Any) -> Response:
    rid = _id(az, m)
    body = az.store.get(rid)
    if body is None:
        raise not_found(TYPE, m["name"])
    if body["properties"]["status"] not in TERMINAL:
        body["properties"]["status"] = "CancelRequested"
        az.store.dirty = True
    return Response(202, None, lro.start(az, req, action="cancel_job", resource=rid))


def delete_job(az: Azure, req: Request, m: Any) -> Response:
    rid = _id(az, m)
    if az.store.get(rid) is None:
        return Response(204)
    return Response(202, None, lro.start(az, req, action="delete", resource=rid))


def get_run(az: Azure, req: Request, m: Any) -> Response:
    """Run history's view of a job: its status, and why it failed."""
    az.check_bearer(req)
    rid = _id(az, m)
    body = az.store.get(rid)
    if body is None:
        raise ApiError(404, "UserError", f"Run {m['name']} was not found")
    props = body["properties"]
    run = {
        "runId": body["name"],
        "name": body["name"],
        "displayName": props.get("displayName"),
        "status": props["status"],
        "experimentId": props.get("experimentName"),
        "tags": props.get("tags") or {},
        "properties": props.get("properties") or {},
        "error": {"error": az.store.meta_of(rid)["error"]} if "error" in az.store.meta_of(rid) else None,
    }
    return Response(200, run)


def register(router: Router, az: Azure) -> None:
    def h(fn: Any) -> Any:
        return lambda r, m: fn(az, r, m)

    one = rf"{WS}/jobs/(?P<name>{NAME})"
    router.add("GET", rf"{WS}/jobs", h(list_jobs))
    router.add("GET", one, h(get_job))
    router.add("PUT", one, h(put_job))
    router.add("DELETE", one, h(delete_job))
    router.add("POST", rf"{one}/cancel", h(cancel_job))
    router.add("GET", rf"/history/v1\.0{WS}/runs/(?P<name>{NAME})", h(get_run), arm=False)
    az.finishers["cancel_job"] = lambda op: finish(az, op["resource"], "Canceled")
    az.tickers.append(lambda: finish_due_jobs(az))
