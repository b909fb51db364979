"""The ``local`` state backend: a JSON file with an fsync'd journal, atomic snapshots and an OS lock."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from mlplan.core.errors import LockError, StateError
from mlplan.state.backend import Backend, JournalSink, LockInfo

_MODE = 0o600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, backup: Path | None = None) -> None:
    """temp file + fsync + rename; the previous file (if any) becomes ``backup``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if backup is not None and path.exists():
            link = backup.with_name(backup.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            os.link(path, link)  # the old inode stays reachable: no moment without a state file
            os.replace(link, backup)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class _FileSink(JournalSink):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _MODE)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class LocalBackend(Backend):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal_path = path.with_name(path.name + ".journal")
        self.backup_path = path.with_name(path.name + ".backup")
        self.lock_path = path.with_name(path.name + ".lock")
        self.info_path = path.with_name(path.name + ".lock.info")

    def describe(self) -> str:
        return str(self.path)

    def read_snapshot(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state {self.path}: {exc.strerror}") from exc

    def read_backup(self) -> bytes | None:
        try:
            return self.backup_path.read_bytes()
        except FileNotFoundError:
            return None

    def write_snapshot(self, data: bytes) -> None:
        atomic_write(self.path, data, backup=self.backup_path)

    def read_journal(self) -> bytes:
        try:
            return self.journal_path.read_bytes()
        except FileNotFoundError:
            return b""

    def open_journal(self) -> JournalSink:
        return _FileSink(self.journal_path)

    def truncate_journal(self) -> None:
        if self.journal_path.exists():
            os.truncate(self.journal_path, 0)

    def current_lock(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.info_path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os_lock = filelock.FileLock(str(self.lock_path), timeout=timeout, mode=_MODE)
        try:
            os_lock.acquire(timeout=timeout, poll_interval=0.1)
        except filelock.Timeout:
            holder = self.current_lock()
            detail = holder.describe() if holder else "  (the holder left no lock information)"
            raise LockError(
                f"the state is locked: {self.path}\n{detail}\n"
                "Another mlplan is running against this environment. Wait for it, retry with"
                " --lock-timeout 5m, or, if its process is dead, run: mlplan force-unlock LOCK_ID"
            ) from None
        info = LockInfo.new(operation, str(self.path))
        try:
            atomic_write(self.info_path, info.to_json().encode())
            yield info
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.info_path.unlink()
            os_lock.release()

    def force_unlock(self, lock_id: str) -> None:
        holder = self.current_lock()
        if holder is None:
            raise LockError(f"no lock is held on {self.path}")
        if holder.id != lock_id:
            raise LockError(f"lock ID {lock_id} does not match the lock held ({holder.id})\n{holder.describe()}")
        probe = filelock.FileLock(str(self.lock_path), timeout=0, mode=_MODE)
        try:
            probe.acquire(timeout=0)
        except filelock.Timeout:
            raise LockError(
                f"the lock holder is still running (pid {holder.pid}, {holder.who}); stop it first:"
                " the OS releases its lock when it exits"
            ) from None
        try:
            with contextlib.suppress(FileNotFoundError):
                self.info_path.unlink()
        finally:
            probe.release()
