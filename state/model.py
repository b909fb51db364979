"""The state document: what mlplan last knew of each managed resource, in a versioned JSON format."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FORMAT_VERSION = 2


@dataclass
class ResourceState:
    address: str
    kind: str
    id: str
    provider: str
    version: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # hashes only, never values
    tags: dict[str, str] = field(default_factory=dict)
    input_hash: str = ""
    content: dict[str, dict[str, str]] = field(default_factory=dict)  # path field -> {file: digest}
    dependencies: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    expires_at: str | None = None
    status: str = "live"  # live | reaped (ttl) | archived
    on_remove: str = "archive"  # remembered, so that removing the resource's settings with it is fine

    def to_json(self) -> dict[str, Any]:
        # shallow: the values are only encoded, never changed through this dict
        return {name: getattr(self, name) for name in _RESOURCE_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        return cls(**data)


_RESOURCE_FIELDS = tuple(f.name for f in fields(ResourceState))


@dataclass
class PendingOp:
    """An operation whose start is on disk but whose end is not: reconciled by the next run."""

    op_id: str
    address: str
    action: str
    started_at: str
    name: str = ""  # provider-side name used to look for what it may have created
    token: dict[str, Any] | None = None  # a long-running operation's token the provider journalled

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class State:
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0  # moves once per write of the state: a snapshot written, or a run's first journal record
    seq: int = 0  # of the last journal record folded in (records are numbered one by one)
    format_version: int = FORMAT_VERSION
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    promotions: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, PendingOp] = field(default_factory=dict)
    # address -> the last attempt that failed knowingly ({action, error, at}), until one succeeds
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "seq": self.seq,
            "resources": {k: v.to_json() for k, v in sorted(self.resources.items())},
            "outputs": self.outputs,
            "promotions": self.promotions,
            "approvals": self.approvals,
            "pending": {k: v.to_json() for k, v in self.pending.items()},
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        from mlplan.state.upgrade import upgrade

        data = upgrade(data)
        return cls(
            lineage=data["lineage"],
            serial=int(data["serial"]),
            seq=int(data.get("seq", data["serial"])),  # before seq, records were numbered by the serial
            format_version=int(data["format_version"]),
            resources={k: ResourceState.from_json(v) for k, v in data.get("resources", {}).items()},
            outputs=data.get("outputs", {}),
            promotions=data.get("promotions", []),
            approvals=data.get("approvals", []),
            pending={k: PendingOp(**v) for k, v in data.get("pending", {}).items()},
            failures=data.get("failures", {}),
        )
