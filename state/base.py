"""The two halves of a state backend: ``Storage`` (bytes kept durably) and ``Locker`` (one writer at a time).

Modelled on Terraform's statemgr (Full = Storage + Locker). Every storage write names the lock it is
made under (``LockInfo``, whose ``id`` is the lock token); a backend refuses a write whose lock is not
the one currently held on that state and writes nothing. A local backend compares the token in memory;
a remote one sends it with the write (an Azure Blob lease id on every Put Blob / Append Block), so the
service refuses it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

from mlplan.core.clock import now_iso
from mlplan.core.errors import LockError


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock, for what, since when; ``id`` is the lock token every write carries."""

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


class Locker(ABC):
    """The state lock: exclusive, with a timeout; its token is ``LockInfo.id``."""

    @abstractmethod
    def acquire(self, operation: str, timeout: float = 0.0) -> LockInfo:
        """Take the lock, waiting up to ``timeout`` seconds; LockError (``locked_error``) naming the holder."""

    @abstractmethod
    def release(self, lock: LockInfo) -> None:
        """Give back ``lock``; LockError if it is not the lock held (released, or force-unlocked)."""

    @abstractmethod
    def current_lock(self) -> LockInfo | None:
        """The lock information on record, if any (its holder may be gone)."""

    @abstractmethod
    def force_unlock(self, lock_id: str) -> None:
        """Remove the lock ``lock_id`` a dead holder left; LockError if none is held, the id differs,
        or (where the backend can tell) its holder is still running."""


class JournalSink(ABC):
    """An open journal, bound to the lock it was opened under."""

    @abstractmethod
    def append(self, data: bytes) -> None:
        """Write bytes at the end; not yet durable. LockError, appending nothing, once the lock is not held."""

    @abstractmethod
    def sync(self) -> None:
        """Make everything appended so far durable."""

    @abstractmethod
    def close(self) -> None: ...


class Storage(ABC):
    """One environment's state as bytes: a snapshot (with the previous one as backup) and a journal."""

    compact_every = 256  # journal records between snapshots

    @abstractmethod
    def describe(self) -> str:
        """Where the state lives, for messages."""

    @abstractmethod
    def read_snapshot(self) -> bytes | None: ...

    @abstractmethod
    def read_backup(self) -> bytes | None:
        """The snapshot the last ``write_snapshot`` replaced."""

    @abstractmethod
    def read_journal(self) -> bytes: ...

    @abstractmethod
    def write_snapshot(self, data: bytes, lock: LockInfo) -> None:
        """Atomically replace the snapshot, keeping the previous one as the backup."""

    @abstractmethod
    def open_journal(self, lock: LockInfo) -> JournalSink:
        """Open the journal for appending under ``lock``."""

    @abstractmethod
    def truncate_journal(self, lock: LockInfo) -> None: ...


# -- the messages every backend gives ------------------------------------------------------------
def locked_error(where: str, holder: LockInfo | None) -> LockError:
    detail = holder.describe() if holder else "  (the holder left no lock information)"
    return LockError(
        f"the state is locked: {where}\n{detail}\n"
        "Another mlplan is running against this environment. Wait for it, retry with"
        " --lock-timeout 5m, or, if its process is dead, run: mlplan force-unlock LOCK_ID"
    )


def unheld_write_error(where: str, lock: LockInfo, held: LockInfo | None) -> LockError:
    """A write under ``lock`` while ``held`` (or nothing) is the lock on the state."""
    now = f"The lock held now:\n{held.describe()}" if held else "No lock is held now."
    return LockError(
        f"refused: the state at {where} would be written without holding the state lock (lock {lock.id},"
        f" taken for {lock.operation!r} at {lock.created}, is not the lock held); nothing was written.\n{now}\n"
        "The lock was released or force-unlocked while this mlplan was still writing: run the command again"
        " (the next plan reconciles any operation it left pending)."
    )


def not_held_error(where: str, lock: LockInfo) -> LockError:
    return LockError(f"lock {lock.id} is not held on {where} (released or force-unlocked): nothing to release")


def check_force_unlock(where: str, holder: LockInfo | None, lock_id: str) -> LockInfo:
    """The rules force-unlock shares: a lock must be held, and it must be ``lock_id``."""
    if holder is None:
        raise LockError(f"no lock is held on {where}")
    if holder.id != lock_id:
        raise LockError(f"lock ID {lock_id} does not match the lock held ({holder.id})\n{holder.describe()}")
    return holder
