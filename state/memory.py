"""The ``memory`` state backend: the backend contract kept in memory, for tests and library use.

Several ``MemoryBackend`` objects over one ``MemoryStore`` are several processes sharing one state:
the lock is exclusive between them (with a timeout), writes carry the lock token, and
``MemoryBackend.crash()`` is the death of a process. By default the lock behaves like the local
backend's OS lock: a dead holder's lock is let go at once (its lock information stays until the next
holder or a force-unlock), and force-unlock refuses while the holder runs. ``MemoryStore(lease=True)``
behaves like a blob lease instead: the lock outlives its holder until force-unlock breaks it, and
force-unlock cannot tell a running holder from a dead one, so it breaks either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlplan.core.errors import LockError, StateError
from mlplan.state.backend import Backend
from mlplan.state.base import (
    JournalSink,
    LockInfo,
    check_force_unlock,
    locked_error,
    not_held_error,
    unheld_write_error,
)


@dataclass(eq=False)
class MemoryStore:
    """What a state backend keeps (snapshot, backup, journal, lock), shareable between backends."""

    name: str = "state"
    snapshot: bytes | None = None
    backup: bytes | None = None
    journal: bytearray = field(default_factory=bytearray)
    lock: LockInfo | None = None  # the lock information on record (a dead holder's stays)
    holder: object | None = None  # the backend holding the lock; None: free
    lease: bool = False  # the lock outlives its holder until broken (a blob lease), see the module docstring
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)


class _MemorySink(JournalSink):
    def __init__(self, backend: MemoryBackend, lock: LockInfo) -> None:
        self._backend = backend
        self._lock = lock

    def append(self, data: bytes) -> None:
        store = self._backend.store
        with store.cond:
            self._backend.check_lock(self._lock)
            store.journal += data

    def sync(self) -> None:
        return None  # appends are as durable as memory gets at once

    def close(self) -> None:
        return None


class MemoryBackend(Backend):
    """One process's view of a ``MemoryStore`` (a new store when none is given)."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], root: Path, environment: str) -> MemoryBackend:
        """``{backend: memory, store?}``: ``store``, a ``MemoryStore`` to share (default: a new one)."""
        store = settings.get("store")
        if store is not None and not isinstance(store, MemoryStore):
            raise StateError(f"state backend 'memory': store must be a MemoryStore, not {type(store).__name__}")
        return cls(store if store is not None else MemoryStore(name=environment))

    def describe(self) -> str:
        return f"memory:{self.store.name}"

    # -- storage ------------------------------------------------------------------------------
    def check_lock(self, lock: LockInfo) -> None:
        """LockError unless ``lock`` is the lock held on the store (the caller holds ``store.cond``)."""
        held = self.store.lock if self.store.holder is not None else None
        if held is None or held.id != lock.id:
            raise unheld_write_error(self.describe(), lock, held)

    def read_snapshot(self) -> bytes | None:
        return self.store.snapshot

    def read_backup(self) -> bytes | None:
        return self.store.backup

    def read_journal(self) -> bytes:
        with self.store.cond:
            return bytes(self.store.journal)

    def write_snapshot(self, data: bytes, lock: LockInfo) -> None:
        with self.store.cond:
            self.check_lock(lock)
            if self.store.snapshot is not None:
                self.store.backup = self.store.snapshot
            self.store.snapshot = bytes(data)

    def open_journal(self, lock: LockInfo) -> JournalSink:
        with self.store.cond:
            self.check_lock(lock)
        return _MemorySink(self, lock)

    def truncate_journal(self, lock: LockInfo) -> None:
        with self.store.cond:
            self.check_lock(lock)
            self.store.journal.clear()

    # -- lock -----------------------------------------------------------------------------------
    def current_lock(self) -> LockInfo | None:
        return self.store.lock

    def acquire(self, operation: str, timeout: float = 0.0) -> LockInfo:
        deadline = time.monotonic() + timeout
        with self.store.cond:
            while self.store.holder is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise locked_error(self.describe(), self.store.lock)
                self.store.cond.wait(left)
            info = LockInfo.new(operation, self.describe())
            self.store.holder, self.store.lock = self, info
            return info

    def release(self, lock: LockInfo) -> None:
        with self.store.cond:
            if self.store.holder is not self or self.store.lock is None or self.store.lock.id != lock.id:
                raise not_held_error(self.describe(), lock)
            self.store.holder, self.store.lock = None, None
            self.store.cond.notify_all()

    def force_unlock(self, lock_id: str) -> None:
        with self.store.cond:
            holder = check_force_unlock(self.describe(), self.store.lock, lock_id)
            if self.store.holder is not None and not self.store.lease:
                raise LockError(
                    f"the lock holder is still running (pid {holder.pid}, {holder.who}); stop it first:"
                    " its lock is released when it exits"
                )
            self.store.holder, self.store.lock = None, None  # a lease is broken: its holder's writes are refused
            self.store.cond.notify_all()

    def crash(self) -> None:
        """This process dies: the lock it holds is let go (a lease stays), its lock information stays on record."""
        with self.store.cond:
            if self.store.holder is self and not self.store.lease:
                self.store.holder = None
                self.store.cond.notify_all()
