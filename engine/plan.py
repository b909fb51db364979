"""The Plan: pure data describing what apply will do, with a versioned JSON round-trip."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlplan.core.diffing import FieldChange
from mlplan.engine.address import Address

PLAN_FORMAT = 1
UNKNOWN = "(known after apply)"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    NEW_VERSION = "new_version"
    DELETE = "delete"
    ARCHIVE = "archive"
    READ = "read"
    NO_OP = "no_op"
    FORGET = "forget"  # reconcile-only: the resource vanished; drop it from state
    ADOPT = "adopt"  # reconcile-only: an interrupted operation's result is taken into state
    TRAIN = "train"
    EVALUATE = "evaluate"
    PROMOTE = "promote"
    SHIFT_TRAFFIC = "shift_traffic"

    @property
    def changes(self) -> bool:
        return self not in (Action.NO_OP, Action.READ)

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.NEW_VERSION: "+v",
    Action.DELETE: "-",
    Action.ARCHIVE: "-a",
    Action.READ: "<=",
    Action.NO_OP: " ",
    Action.FORGET: "-s",
    Action.ADOPT: "+s",
    Action.TRAIN: "*t",
    Action.EVALUATE: "*e",
    Action.PROMOTE: "*p",
    Action.SHIFT_TRAFFIC: "~t",
}


TTL_EXPIRED = "ttl expired"  # how a ttl deletion's reason starts (see ResourceChange.reaps)


@dataclass(frozen=True)
class ResourceChange:
    address: Address
    action: Action
    reason: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    changes: tuple[FieldChange, ...] = ()
    input_hash: str = ""
    depends_on: tuple[Address, ...] = ()
    prior_depends_on: tuple[Address, ...] = ()  # what it depended on when state was written
    replace_order: str = "delete_first"  # or create_first (create_before_destroy)
    adopt: bool = False  # an existing owned resource is taken into state instead of created

    @property
    def reaps(self) -> bool:
        """A deletion because the resource's ttl expired (it stays in state as reaped)."""
        return self.action is Action.DELETE and self.reason.startswith(TTL_EXPIRED)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "action": self.action.value,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "changes": [c.to_json() for c in self.changes],
            "input_hash": self.input_hash,
            "depends_on": [str(a) for a in self.depends_on],
            "prior_depends_on": [str(a) for a in self.prior_depends_on],
            "replace_order": self.replace_order,
            "adopt": self.adopt,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceChange:
        return cls(
            address=Address.parse(data["address"]),
            action=Action(data["action"]),
            reason=data["reason"],
            before=data.get("before"),
            after=data.get("after"),
            changes=tuple(FieldChange(c["path"], c["before"], c["after"]) for c in data.get("changes", [])),
            input_hash=data.get("input_hash", ""),
            depends_on=tuple(Address.parse(a) for a in data.get("depends_on", [])),
            prior_depends_on=tuple(Address.parse(a) for a in data.get("prior_depends_on", [])),
            replace_order=data.get("replace_order", "delete_first"),
            adopt=bool(data.get("adopt", False)),
        )


@dataclass(frozen=True)
class Plan:
    project: str
    environment: str
    lineage: str
    serial: int
    changes: tuple[ResourceChange, ...]
    created_at: str
    variables_hash: str = ""
    mode: str = "normal"  # normal | destroy | refresh-only
    diagnostics: tuple[str, ...] = ()  # warnings shown with the plan
    outputs: dict[str, Any] = field(default_factory=dict)
    format_version: int = PLAN_FORMAT

    @property
    def has_changes(self) -> bool:
        return any(c.action.changes for c in self.changes)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action.value] = out.get(c.action.value, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "project": self.project,
            "environment": self.environment,
            "lineage": self.lineage,
            "serial": self.serial,
            "created_at": self.created_at,
            "variables_hash": self.variables_hash,
            "mode": self.mode,
            "diagnostics": list(self.diagnostics),
            "outputs": self.outputs,
            "changes": [c.to_json() for c in self.changes],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        if int(data.get("format_version", 0)) != PLAN_FORMAT:
            raise ValueError(f"plan format {data.get('format_version')} is not {PLAN_FORMAT}; re-run mlplan plan")
        return cls(
            project=data["project"],
            environment=data["environment"],
            lineage=data["lineage"],
            serial=int(data["serial"]),
            changes=tuple(ResourceChange.from_json(c) for c in data["changes"]),
            created_at=data["created_at"],
            variables_hash=data.get("variables_hash", ""),
            mode=data.get("mode", "normal"),
            diagnostics=tuple(data.get("diagnostics", [])),
            outputs=data.get("outputs", {}),
        )
