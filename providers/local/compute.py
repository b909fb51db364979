"""Local computes: an ``amlcompute`` cluster is a number of local job slots (``max_instances``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.faults import crashpoint
from mlplan.providers.base import (
    OWNERSHIP_TAGS,
    Context,
    Desired,
    Observed,
    Problem,
    ResourceType,
    check_fields,
    secret_hash,
)
from mlplan.providers.local.assets import NOT_LOCAL, user_tags
from mlplan.providers.local.workspace import read_json, remove_tree, workspace_root, write_json_atomic

# What Azure fills in when a field is left out (so that a re-plan after apply is a no_op).
DEFAULTS: dict[str, Any] = {
    "type": "amlcompute",
    "size": "STANDARD_DS3_V2",
    "tier": "dedicated",
    "min_instances": 0,
    "max_instances": 1,
    "idle_time_before_scale_down": 120,
    "ssh_public_access_enabled": False,
}
FIELDS = (
    "type",
    "description",
    "location",
    "size",
    "tier",
    "min_instances",
    "max_instances",
    "idle_time_before_scale_down",
    "ssh_public_access_enabled",
    "ssh_settings",
    "network_settings",
    "identity",
    "tags",
)


class ComputeType(ResourceType):
    kind = "compute"
    id_format = "computes/<name>"
    output_fields = frozenset({"slots", "created_at"})
    immutable_fields = frozenset(
        {
            "type",
            "size",
            "location",
            "tier",
            "network_settings",
            "ssh_settings",
            "ssh_public_access_enabled",
            "identity",
        }
    )
    sensitive_fields = frozenset({"ssh_settings"})
    secret_paths = ("ssh_settings.admin_password",)

    def validate(self, desired: Desired) -> list[Problem]:
        ctype = str(desired.spec.get("type", desired.subtype or "amlcompute")).lower()
        if ctype != "amlcompute":
            return [
                Problem(
                    ("type",),
                    f"compute type {ctype!r} is {NOT_LOCAL} (it runs amlcompute clusters as local job slots)",
                    "use type: amlcompute in the local environment, or manage this compute only on azure",
                )
            ]
        problems = check_fields(
            desired.spec,
            {
                "min_instances": int,
                "max_instances": int,
                "idle_time_before_scale_down": int,
                "ssh_public_access_enabled": bool,
            },
        )
        if problems:
            return problems
        lo, hi = desired.spec.get("min_instances", 0), desired.spec.get("max_instances", 1)
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            return [
                Problem(
                    ("min_instances",),
                    f"min_instances {lo} is more than max_instances {hi}",
                    "make min_instances <= max_instances",
                )
            ]
        return []

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        out = {f: spec.get(f, DEFAULTS.get(f)) for f in FIELDS}
        out["type"] = str(out["type"]).lower()
        out["tags"] = user_tags(spec.get("tags"))
        ssh = spec.get("ssh_settings")
        if isinstance(ssh, dict) and ssh.get("admin_password") is not None:
            ssh = {**ssh, "admin_password": secret_hash(str(ssh["admin_password"]), desired.project)}
        out["ssh_settings"] = ssh
        return out

    def _path(self, ctx: Context, name: str) -> Path:
        return workspace_root(ctx) / "computes" / f"{name}.json"

    def read(self, ctx: Context, ident: str) -> Observed | None:
        return self.lookup(ctx, ident.split("/", 1)[1], None)

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        meta = read_json(self._path(ctx, name))
        if meta is None:
            return None
        attrs = {f: meta.get(f) for f in FIELDS}
        attrs["tags"] = user_tags(meta.get("tags"))
        return Observed(
            id=f"computes/{name}",
            attributes=attrs,
            tags=dict(meta.get("tags") or {}),
            outputs={"slots": meta.get("max_instances"), "created_at": meta.get("created_at")},
        )

    def create(self, ctx: Context, desired: Desired) -> Observed:
        meta = self.desired_attributes(desired)  # never the clear password: only its hash is kept
        meta["tags"] = {**meta["tags"], **desired.tags}
        meta["name"] = desired.name
        meta["created_at"] = now_iso()
        crashpoint("mid_operation")
        write_json_atomic(self._path(ctx, desired.name), meta)
        observed = self.lookup(ctx, desired.name, None)
        assert observed is not None
        return observed

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        meta = read_json(self._path(ctx, desired.name)) or {}
        owned = {k: v for k, v in (meta.get("tags") or {}).items() if k in OWNERSHIP_TAGS}
        new = self.desired_attributes(desired)
        new["tags"] = {**new["tags"], **owned}
        meta.update(new)
        write_json_atomic(self._path(ctx, desired.name), meta)
        observed = self.lookup(ctx, desired.name, None)
        assert observed is not None
        return observed

    def delete(self, ctx: Context, current: Observed) -> None:
        path = self._path(ctx, current.id.split("/", 1)[1])
        path.unlink(missing_ok=True)
        remove_tree(path.with_name(path.stem + ".slots"))  # the job slots' lock files
