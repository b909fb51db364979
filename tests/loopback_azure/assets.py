"""Versioned assets: data, environments, models and codes (containers and their versions).

Shapes: Microsoft.MachineLearningServices stable 2024-04-01, mfe.json: ``*ContainerResource`` /
``*VersionResource`` (DataVersionBase requires ``dataType`` and ``dataUri``; DataContainer requires ``dataType``;
EnvironmentVersion's ``autoRebuild`` defaults to Disabled and ``osType`` to Linux, ``environmentType`` is read-only;
AssetBase's ``isAnonymous`` and ``isArchived`` default to false; AssetContainer's ``latestVersion`` and
``nextVersion`` are read-only), the ``*ArmPaginatedResult`` lists (``$orderBy``, ``$top``, ``$skipToken``,
``listViewType``; CodeVersions_List's ``hash`` / ``hashVersion``), CodeVersions_CreateOrGetStartPendingUpload
(examples/Workspace/CodeVersion/createOrGetStartPendingUpload.json) and examples/Workspace/*Version/*.json.
A model version also always has ``flavors`` (``{}`` when none): azure-ai-ml reads it.

Versions are immutable: a PUT that changes anything but ``description``, ``tags``, ``isArchived`` or ``stage`` of an
existing version is refused with 409 Conflict (azure-ai-ml expects ResourceExistsError there); archiving is a PUT
with ``isArchived: true``. A container is made with its first version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .core import Azure
from .wire import NAME, WS, ApiError, Request, Response, Router, bad_request, not_found, require

MUTABLE = frozenset({"description", "tags", "isArchived", "stage"})
READ_ONLY = frozenset({"provisioningState", "environmentType"})
ASSET_BASE: dict[str, Any] = {
    "description": None,
    "tags": {},
    "properties": {},
    "isAnonymous": False,
    "isArchived": False,
}


@dataclass(frozen=True)
class AssetKind:
    segment: str  # in the path: {WS}/<segment>/{name}/versions/{version}
    required: tuple[str, ...] = ()  # of a version's properties
    container_fields: tuple[str, ...] = ()  # copied from the first version into its container
    defaults: dict[str, Any] = field(default_factory=dict)  # server-filled version properties
    provisioning: bool = True  # versions and containers have a read-only provisioningState

    @property
    def type(self) -> str:
        return f"Microsoft.MachineLearningServices/workspaces/{self.segment}"


KINDS = {
    "data": AssetKind("data", ("dataType", "dataUri"), ("dataType",), provisioning=False),
    "environments": AssetKind(
        "environments", defaults={"autoRebuild": "Disabled", "osType": "Linux", "environmentType": "UserCreated"}
    ),
    "models": AssetKind("models", defaults={"flavors": {}}),
    "codes": AssetKind("codes"),
}


def _collection(az: Azure, m: Any, kind: AssetKind) -> str:
    return f"{az.ws_id(m['sub'], m['rg'], m['ws'])}/{kind.segment}"


def _kind(m: Any) -> AssetKind:
    return KINDS[m["kind"].lower()]


def _visible(body: dict[str, Any], req: Request) -> bool:
    view = req.query.get("listViewType", "ActiveOnly").lower()
    archived = bool(body["properties"].get("isArchived"))
    return view == "all" or (view == "archivedonly") == archived


def _numeric(version: str) -> int | None:
    return int(version) if re.fullmatch(r"\d+", version) else None


def container_view(az: Azure, body: dict[str, Any]) -> dict[str, Any]:
    """A container with its read-only ``latestVersion`` and ``nextVersion`` as Azure computes them."""
    versions = az.store.children(f"{body['id']}/versions")
    numbers = [n for n in (_numeric(v["name"]) for v in versions) if n is not None]
    props = dict(body["properties"])
    props["latestVersion"] = versions[-1]["name"] if versions else None
    props["nextVersion"] = str(max(numbers) + 1) if numbers else "1"
    return {**body, "properties": props}


# containers ------------------------------------------------------------------------------------------------


def list_containers(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    items = [container_view(az, b) for b in az.store.children(_collection(az, m, kind)) if _visible(b, req)]
    return az.page(req, items)


def get_container(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    body = az.store.get(f"{_collection(az, m, kind)}/{m['name']}")
    if body is None:
        raise not_found(kind.type, m["name"])
    return Response(200, container_view(az, body))


def put_container(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    rid = f"{_collection(az, m, kind)}/{m['name']}"
    body = req.json_object()
    require(body, ["properties", *(f"properties.{f}" for f in kind.container_fields)])
    existing = az.store.get(rid)
    stored = _container(az, kind, rid, m["name"], body["properties"], existing)
    az.store.put(rid, stored)
    return Response(200 if existing else 201, container_view(az, stored))


def _container(
    az: Azure, kind: AssetKind, rid: str, name: str, props: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    base = existing["properties"] if existing else {"description": None, "tags": {}, "properties": {}}
    merged = {**base, **{k: v for k, v in props.items() if k not in ("latestVersion", "nextVersion")}}
    merged.setdefault("isArchived", False)
    if kind.provisioning:
        merged["provisioningState"] = "Succeeded"
    if existing is None:
        az.store.meta_of(rid)["created"] = az.now()
    return {
        "id": rid,
        "name": name,
        "type": kind.type,
        "systemData": az.system_data(existing.get("systemData") if existing else None),
        "properties": merged,
    }


def delete_container(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    rid = f"{_collection(az, m, kind)}/{m['name']}"
    if az.store.get(rid) is None:
        return Response(204)
    az.store.delete(rid)
    return Response(200)


# versions --------------------------------------------------------------------------------------------------


def _version_id(az: Azure, m: Any, kind: AssetKind) -> str:
    return f"{_collection(az, m, kind)}/{m['name']}/versions/{m['version']}"


def list_versions(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    items = [b for b in az.store.children(f"{_collection(az, m, kind)}/{m['name']}/versions") if _visible(b, req)]
    if "hash" in req.query:  # CodeVersions_List: the version whose content has this hash
        items = [
            b
            for b in items
            if b["properties"].get("properties", {}).get("hash_sha256") == req.query["hash"]
            and (
                "hashVersion" not in req.query
                or b["properties"].get("properties", {}).get("hash_version") == req.query["hashVersion"]
            )
        ]
    if "tags" in req.query:
        for cond in filter(None, req.query["tags"].split(",")):
            key, _, value = cond.partition("=")
            items = [
                b
                for b in items
                if key in b["properties"]["tags"] and (not value or b["properties"]["tags"][key] == value)
            ]
    order = req.query.get("$orderBy", "").lower().replace("  ", " ")
    if order.startswith("createdtime"):
        items = sorted(
            items, key=lambda b: az.store.meta_of(b["id"]).get("created", 0.0), reverse=order.endswith(" desc")
        )
    if "$top" in req.query:
        try:
            items = items[: int(req.query["$top"])]
        except ValueError as e:
            raise bad_request("$top must be a whole number.") from e
    return az.page(req, items)


def get_version(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    body = az.store.get(_version_id(az, m, kind))
    if body is None:
        raise not_found(f"{kind.type}/versions", f"{m['name']}/{m['version']}")
    return Response(200, body)


def version_body(az: Azure, kind: AssetKind, rid: str, name: str, props: dict[str, Any]) -> dict[str, Any]:
    """A new version as Azure stores it: defaults filled, read-only fields set."""
    full = {**ASSET_BASE, **kind.defaults, **props}
    # ResourceBase.properties is a map of strings: what a client sends as a number comes back as text
    full["properties"] = {k: v if v is None else str(v) for k, v in (full.get("properties") or {}).items()}
    if "environmentType" in kind.defaults:
        full["environmentType"] = kind.defaults["environmentType"]  # read-only: what a client sends is ignored
    if kind.provisioning:
        full["provisioningState"] = "Succeeded"
    return {
        "id": rid,
        "name": name,
        "type": f"{kind.type}/versions",
        "systemData": az.system_data(),
        "properties": full,
    }


def store_version(
    az: Azure, kind: AssetKind, ws_id: str, name: str, version: str, props: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Create or (mutable fields only) update a version, and its container; ``(body, created)``.
    ApiError 409 when an existing version's content would change."""
    container_id = f"{ws_id}/{kind.segment}/{name}"
    rid = f"{container_id}/versions/{version}"
    new = version_body(az, kind, rid, version, props)
    existing = az.store.get(rid)
    if existing is not None:
        old_p, new_p = existing["properties"], new["properties"]
        changed = sorted(
            k for k in set(old_p) | set(new_p) if k not in MUTABLE | READ_ONLY and old_p.get(k) != new_p.get(k)
        )
        if changed:
            raise ApiError(
                409,
                "Conflict",
                f"A {kind.segment} version with name '{name}' and version '{version}' already exists and is "
                f"immutable: {', '.join(changed)} cannot be changed. Only description, tags, isArchived and stage "
                "can be updated; register a new version instead.",
            )
        merged = {**old_p, **{k: new_p[k] for k in MUTABLE if k in props}}
        stored = {**existing, "properties": merged, "systemData": az.system_data(existing.get("systemData"))}
        az.store.put(rid, stored)
        return stored, False
    if az.store.get(container_id) is None:
        first = {f: props[f] for f in kind.container_fields if f in props}
        az.store.put(container_id, _container(az, kind, container_id, name, first, None))
    az.store.put(rid, new)
    az.store.meta_of(rid)["created"] = az.now()
    return new, True


def put_version(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    body = req.json_object()
    require(body, ["properties", *(f"properties.{f}" for f in kind.required)])
    if not isinstance(body["properties"], dict):
        raise bad_request("properties must be an object.", "UserError")
    ws_id = az.ws_id(m["sub"], m["rg"], m["ws"])
    stored, created = store_version(az, kind, ws_id, m["name"], m["version"], body["properties"])
    return Response(201 if created else 200, stored)


def delete_version(az: Azure, req: Request, m: Any) -> Response:
    kind = _kind(m)
    rid = _version_id(az, m, kind)
    if az.store.get(rid) is None:
        return Response(204)
    az.store.delete(rid)
    return Response(200)


def start_pending_upload(az: Azure, req: Request, m: Any) -> Response:
    """Where to upload a code version's files: a fresh container of the attached storage, with a SAS."""
    az.ws_id(m["sub"], m["rg"], m["ws"])
    if az.storage is None:
        raise ApiError(400, "UserError", "The loopback Azure has no blob storage attached (attach Azurite first).")
    container = az.new_id()
    az.storage.create_container(container)
    blob_uri = f"{az.storage.blob_url}/{container}"
    return Response(
        200,
        {
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": f"/subscriptions/{az.subscription_id}/resourceGroups/{m['rg']}/providers/"
                f"Microsoft.Storage/storageAccounts/{az.storage.account}",
                "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?{az.storage.container_sas(container)}"},
            },
            "pendingUploadId": az.new_id(),
            "pendingUploadType": "TemporaryBlobReference",
        },
    )


def register(router: Router, az: Azure) -> None:
    def h(fn: Any) -> Any:
        return lambda r, m: fn(az, r, m)

    kinds = "|".join(KINDS)
    base = rf"{WS}/(?P<kind>{kinds})"
    router.add("GET", base, h(list_containers))
    router.add("GET", rf"{base}/(?P<name>{NAME})", h(get_container))
    router.add("PUT", rf"{base}/(?P<name>{NAME})", h(put_container))
    router.add("DELETE", rf"{base}/(?P<name>{NAME})", h(delete_container))
    router.add("GET", rf"{base}/(?P<name>{NAME})/versions", h(list_versions))
    router.add("GET", rf"{base}/(?P<name>{NAME})/versions/(?P<version>{NAME})", h(get_version))
    router.add("PUT", rf"{base}/(?P<name>{NAME})/versions/(?P<version>{NAME})", h(put_version))
    router.add("DELETE", rf"{base}/(?P<name>{NAME})/versions/(?P<version>{NAME})", h(delete_version))
    router.add(
        "POST",
        rf"{WS}/codes/(?P<name>{NAME})/versions/(?P<version>{NAME})/startPendingUpload",
        h(start_pending_upload),
    )
