"""The journal: a durable, thread-safe log of operations (group commit) compacted into snapshots.

The state is recovered as the last snapshot plus every journal record numbered (``seq``) after it,
so a crash at any point loses nothing whose end was reported. The serial, the number a person
compares (and a saved plan checks), moves once per run: its first record carries the new serial,
the rest of the run's records the same. Every write goes to storage under the lock the journal was
opened with.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.faults import crashpoint
from mlplan.state.base import LockInfo, Storage
from mlplan.state.model import PendingOp, ResourceState, State


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
            # A torn record (its process died mid-write): never confirmed, so nothing depended on it.
            # Records after it were appended by a later process, on a line of their own (see Journal).
            continue


def record_seq(record: dict[str, Any]) -> int:
    """A record's place in the journal (records written before ``seq`` existed were numbered by serial)."""
    return int(record.get("seq", record["serial"]))


def apply_record(state: State, record: dict[str, Any], resource: ResourceState | None = None) -> None:
    """Fold one journal record into ``state`` (``resource``: the record's resource, already built)."""
    state.serial = int(record["serial"])
    state.seq = record_seq(record)
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
        state.failures.pop(record["address"], None)
        if record.get("resource") is not None:
            res = resource if resource is not None else ResourceState.from_json(record["resource"])
            state.resources[res.address] = res
        elif record.get("removed"):
            state.resources.pop(record["address"], None)
        if record.get("promotion") is not None:
            state.promotions.append(record["promotion"])
    elif kind == "progress":
        op = state.pending.get(record["op"])
        if op is not None:
            op.token = record["token"]
    elif kind == "abort":
        op = state.pending.pop(record["op"], None)
        if record.get("error"):  # the operation failed knowingly: the next plan says so
            action = op.action if op is not None else ""
            state.failures[record["address"]] = {"action": action, "error": record["error"], "at": record["ts"]}
    elif kind == "set":
        setattr(state, record["field"], record["value"])


class Journal:
    """Durable, thread-safe log of operations with group commit and periodic compaction, under ``lock``."""

    def __init__(self, storage: Storage, state: State, lock: LockInfo) -> None:
        self.storage = storage
        self.state = state
        self.lock = lock
        self._sink = storage.open_journal(lock)
        self._lock = threading.Lock()  # guards state + appends
        self._sync_lock = threading.Lock()
        self._compact_lock = threading.Lock()  # one compaction at a time: snapshots are written in order
        self._appended = 0
        self._synced = 0
        self._since_snapshot = 0
        self._lead = "\n"  # the first record starts a line of its own, after a torn one a crash may have left
        self._serial: int | None = None  # the serial of this run's writes: the state's, plus one

    def _record(self, record: dict[str, Any], resource: ResourceState | None = None) -> None:
        body = json.dumps(record, separators=(",", ":"))[:-1]  # encoded outside the lock
        with self._lock:
            if self._serial is None:  # the first record of a run moves the serial, once
                self._serial = self.state.serial + 1
            record["serial"] = serial = self._serial
            record["seq"] = seq = self.state.seq + 1
            line = f'{self._lead}{body},"serial":{serial},"seq":{seq},"lineage":"{self.state.lineage}"}}\n'
            self._sink.append(line.encode())  # first: a refused write (lock lost) leaves the state as it was
            self._lead = ""
            apply_record(self.state, record, resource)
            self._appended += 1
            mine = self._appended
            self._since_snapshot += 1
        # Group commit: one fsync makes every record appended before it durable.
        with self._sync_lock:
            if self._synced < mine:
                target = self._appended
                self._sink.sync()
                self._synced = target
        if self._since_snapshot >= self.storage.compact_every:
            self.compact()

    def begin(self, op_id: str, address: str, action: str, name: str = "") -> None:
        self._record({"t": "begin", "op": op_id, "address": address, "action": action, "name": name, "ts": now_iso()})

    def end(
        self,
        op_id: str,
        address: str,
        resource: ResourceState | None,
        removed: bool = False,
        promotion: dict[str, Any] | None = None,
    ) -> None:
        """The operation's result; ``promotion``: a decision for the promotion history, in the same record
        (a decision is recorded exactly when its result is)."""
        record: dict[str, Any] = {
            "t": "end",
            "op": op_id,
            "address": address,
            "resource": resource.to_json() if resource is not None else None,
            "removed": removed,
            "ts": now_iso(),
        }
        if promotion is not None:
            record["promotion"] = promotion
        self._record(record, resource)

    def progress(self, op_id: str, address: str, token: dict[str, Any]) -> None:
        """A long-running operation's token, so that the next run can resume it after a crash."""
        self._record({"t": "progress", "op": op_id, "address": address, "token": token, "ts": now_iso()})

    def abort(self, op_id: str, address: str, error: str | None = None) -> None:
        """The operation ended without a result: interrupted and settled (no ``error``), or failed (``error``)."""
        record: dict[str, Any] = {"t": "abort", "op": op_id, "address": address, "ts": now_iso()}
        if error:
            record["error"] = error
        self._record(record)

    def set(self, field_name: str, value: Any) -> None:
        self._record({"t": "set", "field": field_name, "value": value, "ts": now_iso()})

    def compact(self) -> None:
        """Fold the journal into a snapshot.

        The state is encoded under the append lock, but the snapshot is written without it: operations
        go on journalling meanwhile (their records are newer than the snapshot, so recovery keeps them).
        The journal is truncated only if nothing was appended since the encoding; otherwise a later
        compaction (at the latest the one ``close`` makes) truncates it.
        """
        with self._compact_lock:
            with self._lock:
                if self._since_snapshot == 0:
                    return
                data = encode_state(self.state)
                encoded_at = self._appended
                self._since_snapshot = 0
            crashpoint("before_snapshot")
            self.storage.write_snapshot(data, self.lock)
            crashpoint("after_snapshot")  # snapshot written, journal not yet truncated
            with self._lock, self._sync_lock:
                if self._appended == encoded_at:
                    self.storage.truncate_journal(self.lock)

    def close(self) -> None:
        try:
            self.compact()
        finally:
            self._sink.close()
