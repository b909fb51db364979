"""The ``local`` state backend: a JSON file with an fsync'd journal, atomic snapshots and an OS lock."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import filelock

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
    def __init__(self, backend: LocalBackend, lock: LockInfo) -> None:
        self._backend = backend
        self._lock = lock
        backend.journal_path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(backend.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _MODE)

    def append(self, data: bytes) -> None:
        if self._backend._held is not self._lock:  # the same object while held: one comparison per record
            self._backend.check_lock(self._lock)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class LocalBackend(Backend):
    """``path`` (the snapshot) with ``.journal``, ``.backup``, ``.lock`` (the OS lock) and ``.lock.info`` beside it.

    The OS lock keeps every other process out while it is held and goes when its process dies, so the
    lock token is checked in memory: this object remembers the lock it acquired.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal_path = path.with_name(path.name + ".journal")
        self.backup_path = path.with_name(path.name + ".backup")
        self.lock_path = path.with_name(path.name + ".lock")
        self.info_path = path.with_name(path.name + ".lock.info")
        self._held: LockInfo | None = None
        self._os_lock: filelock.FileLock | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], root: Path, environment: str) -> LocalBackend:
        """``{backend: local, path?}``: ``path`` (default ``.mlplan/state/<environment>.json``) relative to ``root``."""
        path = Path(settings.get("path") or f".mlplan/state/{environment}.json")
        return cls(path if path.is_absolute() else root / path)

    def describe(self) -> str:
        return str(self.path)

    # -- storage ------------------------------------------------------------------------------
    def check_lock(self, lock: LockInfo) -> None:
        """LockError unless ``lock`` is the lock this backend holds (in memory: no I/O)."""
        held = self._held
        if held is None or held.id != lock.id:
            raise unheld_write_error(str(self.path), lock, held or self.current_lock())

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

    def write_snapshot(self, data: bytes, lock: LockInfo) -> None:
        self.check_lock(lock)
        atomic_write(self.path, data, backup=self.backup_path)

    def read_journal(self) -> bytes:
        try:
            return self.journal_path.read_bytes()
        except FileNotFoundError:
            return b""

    def open_journal(self, lock: LockInfo) -> JournalSink:
        self.check_lock(lock)
        return _FileSink(self, lock)

    def truncate_journal(self, lock: LockInfo) -> None:
        self.check_lock(lock)
        if self.journal_path.exists():
            os.truncate(self.journal_path, 0)

    # -- lock -----------------------------------------------------------------------------------
    def current_lock(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.info_path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def acquire(self, operation: str, timeout: float = 0.0) -> LockInfo:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os_lock = filelock.FileLock(str(self.lock_path), timeout=timeout, mode=_MODE)
        try:
            os_lock.acquire(timeout=timeout, poll_interval=0.1)
        except filelock.Timeout:
            raise locked_error(str(self.path), self.current_lock()) from None
        info = LockInfo.new(operation, str(self.path))
        try:
            atomic_write(self.info_path, info.to_json().encode())
        except BaseException:
            os_lock.release()
            raise
        self._held, self._os_lock = info, os_lock
        return info

    def release(self, lock: LockInfo) -> None:
        os_lock = self._os_lock
        if self._held is None or self._held.id != lock.id or os_lock is None:
            raise not_held_error(str(self.path), lock)
        self._held, self._os_lock = None, None  # no write gets through from here on
        try:
            with contextlib.suppress(FileNotFoundError):
                self.info_path.unlink()
        finally:
            os_lock.release()

    def force_unlock(self, lock_id: str) -> None:
        holder = check_force_unlock(str(self.path), self.current_lock(), lock_id)
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
