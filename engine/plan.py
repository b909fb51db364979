"""The Plan: pure data describing what apply will do, with a versioned JSON round-trip.

A plan is the contract between the reviewer and apply: every value apply hands a provider is in it
(the desired spec with references resolved, what a ttl reaps, the traffic split to set, the data
source versions it pinned). Values known only once a dependency is done are ``bindings``: apply
fills them from that dependency's result, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlplan.core.diffing import FieldChange
from mlplan.core.kinds import REGISTRY
from mlplan.engine.address import Address
from mlplan.providers.base import PredictedChange

PLAN_FORMAT = 2
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
    FORGET = "forget"  # the resource vanished, or a setting is no longer managed: drop it from state
    ADOPT = "adopt"  # an existing resource owned by this project is taken into state
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

# Actions after which a resource has a new result (a new version, run or id), unknown until apply.
NEW_RESULT = frozenset({Action.CREATE, Action.NEW_VERSION, Action.REPLACE, Action.TRAIN})
REMOVALS = frozenset({Action.DELETE, Action.ARCHIVE, Action.FORGET})


@dataclass(frozen=True, slots=True)
class Binding:
    """A value known after apply: at ``path`` in the desired document, ``template`` formatted with the
    result of ``source`` (its ``version``, ``run`` or ``id``) once ``source`` is done."""

    path: tuple[str, ...]
    source: Address
    template: str

    def to_json(self) -> dict[str, Any]:
        return {"path": list(self.path), "source": str(self.source), "template": self.template}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Binding:
        return cls(tuple(data["path"]), Address.parse(data["source"]), data["template"])


@dataclass(frozen=True)
class DesiredSpec:
    """What apply hands the provider for one resource: the spec with references resolved (sensitive
    values as markers, restored at apply), the digests of its local content, and the results of the
    dependencies a run counts as inputs."""

    spec: dict[str, Any]
    base_dir: str  # relative to the project root: local paths in the spec resolve against it
    subtype: str | None = None
    version: str | None = None  # an explicit version; None lets the provider number it
    content: dict[str, str] = field(default_factory=dict)  # path field -> digest
    # path field -> {file: digest} (up to 1000 files a field): state keeps them to name changed files
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # dependency address -> its result (runs)
    produced: bool = False  # registered from what a job produced: produced_fields are not known up front

    def document(self) -> dict[str, Any]:
        """The part bindings point into, and input hashes cover."""
        return {"spec": self.spec, "content": self.content, "inputs": self.inputs}

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "base_dir": self.base_dir,
            "subtype": self.subtype,
            "version": self.version,
            "content": self.content,
            "files": self.files,
            "inputs": self.inputs,
            "produced": self.produced,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DesiredSpec:
        return cls(
            spec=data["spec"],
            base_dir=data["base_dir"],
            subtype=data.get("subtype"),
            version=data.get("version"),
            content=data.get("content", {}),
            files=data.get("files", {}),
            inputs=data.get("inputs", {}),
            produced=bool(data.get("produced", False)),
        )


@dataclass(frozen=True, slots=True)
class SourcePin:
    """What a data source resolved to when the plan was made; apply refuses the plan if it moved."""

    id: str
    version: str | None
    digest: str  # of the attributes read

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "digest": self.digest}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourcePin:
        return cls(data["id"], data.get("version"), data["digest"])


@dataclass(frozen=True)
class ResourceChange:
    address: Address
    action: Action
    reason: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    changes: tuple[FieldChange, ...] = ()
    input_hash: str = ""  # recorded in state; "" when bindings make it known only at apply
    config_hash: str = ""  # what the configuration says of it (spec, files, lifecycle): freshness
    depends_on: tuple[Address, ...] = ()
    prior_depends_on: tuple[Address, ...] = ()  # what it depended on when state was written
    replace_order: str = "delete_first"  # or create_first (create_before_destroy)
    desired: DesiredSpec | None = None  # what apply hands the provider (changes that create or update)
    bindings: tuple[Binding, ...] = ()
    reap: bool = False  # a ttl deletion: state keeps the resource as reaped
    adopt_id: str | None = None  # the existing resource an adoption takes into state
    on_remove: str = "archive"  # recorded in state, for when the resource leaves the configuration
    pin: SourcePin | None = None  # a data source's resolution
    condition: str = ""  # "if promotion.m promotes": done only if that evaluation promotes (else skipped)
    # what the provider predicts the change does to the resources this one manages (ARM what-if); None: no
    # prediction. Apply asks again before it acts and refuses the plan when the answer moved.
    predicted: tuple[PredictedChange, ...] | None = None

    @property
    def node(self) -> str:
        """The engine node kind that plans and applies this change."""
        return "source" if self.action is Action.READ else REGISTRY[self.address.kind].node

    @property
    def adopt(self) -> bool:
        return self.adopt_id is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "action": self.action.value,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "changes": [c.to_json() for c in self.changes],
            "input_hash": self.input_hash,
            "config_hash": self.config_hash,
            "depends_on": [str(a) for a in self.depends_on],
            "prior_depends_on": [str(a) for a in self.prior_depends_on],
            "replace_order": self.replace_order,
            "desired": self.desired.to_json() if self.desired is not None else None,
            "bindings": [b.to_json() for b in self.bindings],
            "reap": self.reap,
            "adopt_id": self.adopt_id,
            "on_remove": self.on_remove,
            "pin": self.pin.to_json() if self.pin is not None else None,
            "condition": self.condition,
            "predicted": [p.to_json() for p in self.predicted] if self.predicted is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceChange:
        desired, pin, predicted = data.get("desired"), data.get("pin"), data.get("predicted")
        return cls(
            address=Address.parse(data["address"]),
            action=Action(data["action"]),
            reason=data["reason"],
            before=data.get("before"),
            after=data.get("after"),
            changes=tuple(FieldChange(c["path"], c["before"], c["after"]) for c in data.get("changes", [])),
            input_hash=data.get("input_hash", ""),
            config_hash=data.get("config_hash", ""),
            depends_on=tuple(Address.parse(a) for a in data.get("depends_on", [])),
            prior_depends_on=tuple(Address.parse(a) for a in data.get("prior_depends_on", [])),
            replace_order=data.get("replace_order", "delete_first"),
            desired=DesiredSpec.from_json(desired) if desired is not None else None,
            bindings=tuple(Binding.from_json(b) for b in data.get("bindings", [])),
            reap=bool(data.get("reap", False)),
            adopt_id=data.get("adopt_id"),
            on_remove=data.get("on_remove", "archive"),
            pin=SourcePin.from_json(pin) if pin is not None else None,
            condition=data.get("condition", ""),
            # absent from plans saved before predictions existed: nothing was predicted
            predicted=tuple(PredictedChange.from_json(p) for p in predicted) if predicted is not None else None,
        )


@dataclass(frozen=True)
class Reconciliation:
    """What apply will do about an operation an interrupted run left pending (plan only shows it)."""

    op_id: str
    address: Address
    action: str  # the interrupted operation's action
    outcome: str  # adopt | retry | completed | not_done | wait
    reason: str
    name: str = ""  # provider-side name the operation worked on
    found_id: str | None = None  # adopt/wait: the resource it made
    token: dict[str, Any] | None = None  # a long-running operation's token, journalled by the provider

    def to_json(self) -> dict[str, Any]:
        return {
            "op_id": self.op_id,
            "address": str(self.address),
            "action": self.action,
            "outcome": self.outcome,
            "reason": self.reason,
            "name": self.name,
            "found_id": self.found_id,
            "token": self.token,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reconciliation:
        return cls(
            op_id=data["op_id"],
            address=Address.parse(data["address"]),
            action=data["action"],
            outcome=data["outcome"],
            reason=data["reason"],
            name=data.get("name", ""),
            found_id=data.get("found_id"),
            token=data.get("token"),
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
    reconcile: tuple[Reconciliation, ...] = ()  # done by apply before any change
    format_version: int = PLAN_FORMAT
    executable: bool = True  # False for a plan upgraded from an older format: it can be shown, not applied

    @property
    def has_changes(self) -> bool:
        return bool(self.reconcile) or any(c.action.changes for c in self.changes)

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
            "reconcile": [r.to_json() for r in self.reconcile],
            "executable": self.executable,
            "changes": [c.to_json() for c in self.changes],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        data = upgrade(data)
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
            reconcile=tuple(Reconciliation.from_json(r) for r in data.get("reconcile", [])),
            executable=bool(data.get("executable", True)),
        )


# -- upgrades of plans saved by older versions ---------------------------------------------------------
def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 plans told apply what to do but not with which values (apply re-derived them): they can be
    shown, never applied."""
    out = {**data, "format_version": 2, "executable": False, "reconcile": []}
    out["changes"] = [
        {**{k: v for k, v in c.items() if k != "adopt"}, "adopt_id": "(unknown)" if c.get("adopt") else None}
        for c in data.get("changes", [])
    ]
    return out


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: upgrade_v1}


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    version = int(data.get("format_version", 0))
    if version > PLAN_FORMAT or (version < PLAN_FORMAT and version not in UPGRADES):
        raise ValueError(f"plan format {data.get('format_version')} is not {PLAN_FORMAT}; re-run mlplan plan")
    while version < PLAN_FORMAT:
        data = UPGRADES[version](data)
        version = int(data["format_version"])
    return data
