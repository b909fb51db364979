"""What every state backend shares: snapshot + journal recovery, the journal writer, lock information.

A backend provides storage primitives (read/write a snapshot atomically, append to a journal
durably, lock). The state is recovered as the last snapshot plus every journal record whose serial
is newer, so a crash at any point loses nothing whose end was reported.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.errors import StateError
from mlplan.core.faults import crashpoint
from mlplan.state.model import PendingOp, ResourceState, State


@dataclass(frozen=True)
class LockInfo:
    id: str
    operation: str
    who: str
    pid: int
    created: str
    path: str = ""

    @classmethod
    def new(cls, operation: str, path: str = "") -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            who=f"{getpass.getuser()}@{socket.gethostname()}",
            pid=os.getpid(),
            created=now_iso(),
            path=path,
        )

    def describe(self) -> str:
        return (
            f"  Lock ID:   {self.id}\n  Path:      {self.path}\n  Operation: {self.operation}\n"
            f"  Who:       {self.who} (pid {self.pid})\n  Since:     {self.created}"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class Backend(ABC):
    """A place to keep one environment's state."""

    compact_every = 256  # journal records between snapshots

    @abstractmethod
    def describe(self) -> str:
        """Where the state lives, for messages."""

    # -- storage primitives -------------------------------------------------------------
    @abstractmethod
    def read_snapshot(self) -> bytes | None: ...

    @abstractmethod
    def write_snapshot(self, data: bytes) -> None:
        """Atomically replace the snapshot, keeping the previous one as a backup."""

    @abstractmethod
    def read_journal(self) -> bytes: ...

    @abstractmethod
    def open_journal(self) -> JournalSink: ...

    @abstractmethod
    def truncate_journal(self) -> None: ...

    @abstractmethod
    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Hold the state lock; raises LockError naming the holder when it is taken."""

    @abstractmethod
    def force_unlock(self, lock_id: str) -> None: ...

    @abstractmethod
    def read_backup(self) -> bytes | None: ...

    # -- shared logic ---------------------------------------------------------------------
    def read(self) -> State:
        """The last snapshot plus every newer journal record; a new State when there is none."""
        raw = self.read_snapshot()
        try:
            state = State.from_json(json.loads(raw)) if raw else State()
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(
                f"state at {self.describe()} is corrupt ({exc}); a backup is kept beside it"
                " (mlplan state push BACKUP --force restores it)"
            ) from exc
        records = list(parse_journal(self.read_journal()))
        if not raw and records and records[0].get("lineage"):
            state.lineage = records[0]["lineage"]  # the first apply crashed before any snapshot
        for record in records:
            if record.get("lineage") not in (None, state.lineage):
                continue
            if int(record["serial"]) > state.serial:
                apply_record(state, record)
        return state

    def write(self, state: State) -> None:
        """Write a whole snapshot (serial + 1) and clear the journal it supersedes."""
        state.serial += 1
        self.write_snapshot(encode_state(state))
        self.truncate_journal()

    def journal(self, state: State) -> Journal:
        return Journal(self, state)


def encode_state(state: State) -> bytes:
    # compact separators keep json on its C encoder: snapshots are written while operations wait
    return json.dumps(state.to_json(), separators=(",", ":")).encode() + b"\n"


def parse_journal(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError:
            # A torn last line: its write was never confirmed, so nothing depended on it.
            return


def apply_record(state: State, record: dict[str, Any], resource: ResourceState | None = None) -> None:
    """Fold one journal record into ``state`` (``resource``: the record's resource, already built)."""
    state.serial = int(record["serial"])
    kind = record["t"]
    if kind == "begin":
        state.pending[record["op"]] = PendingOp(
            op_id=record["op"],
            address=record["address"],
            action=record["action"],
            started_at=record["ts"],
            name=record.get("name", ""),
        )
    elif kind == "end":
        state.pending.pop(record["op"], None)
        if record.get("resource") is not None:
            res = resource if resource is not None else ResourceState.from_json(record["resource"])
            state.resources[res.address] = res
        elif record.get("removed"):
            state.resources.pop(record["address"], None)
    elif kind == "progress":
        op = state.pending.get(record["op"])
        if op is not None:
            op.token = record["token"]
    elif kind == "abort":
        state.pending.pop(record["op"], None)
    elif kind == "set":
        setattr(state, record["field"], record["value"])


class JournalSink(ABC):
    @abstractmethod
    def append(self, data: bytes) -> None:
        """Write bytes at the end; not yet durable."""

    @abstractmethod
    def sync(self) -> None:
        """Make everything appended so far durable."""

    @abstractmethod
    def close(self) -> None: ...


class Journal:
    """Durable, thread-safe log of operations with group commit and periodic compaction."""

    def __init__(self, backend: Backend, state: State) -> None:
        self.backend = backend
        self.state = state
        self._sink = backend.open_journal()
        self._lock = threading.Lock()  # guards state + appends
        self._sync_lock = threading.Lock()
        self._appended = 0
        self._synced = 0
        self._since_snapshot = 0

    def _record(self, record: dict[str, Any], resource: ResourceState | None = None) -> None:
        body = json.dumps(record, separators=(",", ":"))[:-1]  # encoded outside the lock
        with self._lock:
            record["serial"] = serial = self.state.serial + 1
            apply_record(self.state, record, resource)
            line = f'{body},"serial":{serial},"lineage":"{self.state.lineage}"}}\n'
            self._sink.append(line.encode())
            self._appended += 1
            mine = self._appended
            self._since_snapshot += 1
        # Group commit: one fsync makes every record appended before it durable.
        with self._sync_lock:
            if self._synced < mine:
                target = self._appended
                self._sink.sync()
                self._synced = target
        if self._since_snapshot >= self.backend.compact_every:
            self.compact()

    def begin(self, op_id: str, address: str, action: str, name: str = "") -> None:
        self._record({"t": "begin", "op": op_id, "address": address, "action": action, "name": name, "ts": now_iso()})

    def end(self, op_id: str, address: str, resource: ResourceState | None, removed: bool = False) -> None:
        self._record(
            {
                "t": "end",
                "op": op_id,
                "address": address,
                "resource": resource.to_json() if resource is not None else None,
                "removed": removed,
                "ts": now_iso(),
            },
            resource,
        )

    def progress(self, op_id: str, address: str, token: dict[str, Any]) -> None:
        """A long-running operation's token, so that the next run can resume it after a crash."""
        self._record({"t": "progress", "op": op_id, "address": address, "token": token, "ts": now_iso()})

    def abort(self, op_id: str, address: str) -> None:
        self._record({"t": "abort", "op": op_id, "address": address, "ts": now_iso()})

    def set(self, field_name: str, value: Any) -> None:
        self._record({"t": "set", "field": field_name, "value": value, "ts": now_iso()})

    def compact(self) -> None:
        """Fold the journal into a snapshot."""
        with self._lock, self._sync_lock:
            if self._since_snapshot == 0:
                return
            crashpoint("before_snapshot")
            self.backend.write_snapshot(encode_state(self.state))
            self.backend.truncate_journal()
            self._since_snapshot = 0

    def close(self) -> None:
        self.compact()
        self._sink.close()
