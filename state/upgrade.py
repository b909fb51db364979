"""Upgrades of older state documents, one function per format version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlplan.core.errors import StateError

CURRENT = 2


def upgrade_v0(data: dict[str, Any]) -> dict[str, Any]:
    """v0 (pre-release) kept resources as a list; v1 keys them by address."""
    out = dict(data)
    out["resources"] = {r["address"]: r for r in data.get("resources", [])}
    out["format_version"] = 1
    return out


LEGACY_HASH = "v1:"  # marks an input hash written by format 1 (the engine compares it the old way)


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 input hashes chained the hashes of a resource's dependencies; v2 hashes a resource's resolved spec
    (the versions and runs it uses). Old hashes are kept, marked, so that nothing runs again for the change
    of formula; the next change of the resource writes a v2 hash."""
    out = dict(data)
    out["resources"] = {
        addr: {**rs, "input_hash": LEGACY_HASH + rs["input_hash"]} if rs.get("input_hash") else rs
        for addr, rs in data.get("resources", {}).items()
    }
    out["format_version"] = 2
    return out


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: upgrade_v0, 1: upgrade_v1}


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    version = int(data.get("format_version", 0))
    if version > CURRENT:
        raise StateError(
            f"state format_version {version} is newer than this mlplan understands ({CURRENT}): upgrade mlplan"
        )
    while version < CURRENT:
        data = UPGRADES[version](data)
        version = int(data["format_version"])
    return data
