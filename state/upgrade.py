"""Upgrades of older state documents, one function per format version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlplan.core.errors import StateError

CURRENT = 1


def upgrade_v0(data: dict[str, Any]) -> dict[str, Any]:
    """v0 (pre-release) kept resources as a list; v1 keys them by address."""
    out = dict(data)
    out["resources"] = {r["address"]: r for r in data.get("resources", [])}
    out["format_version"] = 1
    return out


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: upgrade_v0}


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
