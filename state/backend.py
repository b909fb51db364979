"""What every state backend shares: the lock as a context manager, recovery (snapshot + journal), writes.

A backend is ``Storage`` + ``Locker`` (see ``mlplan.state.base``); this class adds the logic on top
that no backend re-implements. The state is recovered as the last snapshot plus every journal record
numbered after it (``seq``), so a crash at any point loses nothing whose end was reported.
"""

from __future__ import annotations

import contextlib
import json
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlplan.core.errors import LockError, StateError
from mlplan.state.base import JournalSink, Locker, LockInfo, Storage
from mlplan.state.journal import Journal, apply_record, encode_state, parse_journal, record_seq
from mlplan.state.model import State

__all__ = [
    "Backend",
    "Journal",
    "JournalSink",
    "LockInfo",
    "Locker",
    "Storage",
    "apply_record",
    "encode_state",
    "parse_journal",
]


class Backend(Storage, Locker):
    """A place to keep one environment's state, with its lock."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Mapping[str, Any], root: Path, environment: str) -> Backend:
        """The backend an environment's ``state:`` settings describe (relative paths from ``root``)."""

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Hold the state lock; raises LockError naming the holder when it is taken."""
        info = self.acquire(operation, timeout)
        try:
            yield info
        except BaseException:
            with contextlib.suppress(LockError):  # the body's error says more (e.g. the lock was broken under it)
                self.release(info)
            raise
        self.release(info)

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
            if record_seq(record) > state.seq:
                apply_record(state, record)
        return state

    def write(self, state: State, lock: LockInfo) -> None:
        """Write a whole snapshot (serial + 1) under ``lock`` and clear the journal it supersedes."""
        state.serial += 1
        try:
            self.write_snapshot(encode_state(state), lock)
        except BaseException:
            state.serial -= 1  # nothing was written
            raise
        self.truncate_journal(lock)

    def journal(self, state: State, lock: LockInfo) -> Journal:
        """A journal of changes to ``state``, every write of which is made under ``lock``."""
        return Journal(self, state, lock)
