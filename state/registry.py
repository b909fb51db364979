"""The state backends by name, imported only when chosen: ``open_backend(settings, root, environment)``.

A backend is a ``Backend`` subclass; its classmethod ``from_settings(settings, root, environment)``
reads the environment's ``state:`` settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from mlplan.core.errors import StateError
from mlplan.state.backend import Backend
from mlplan.state.base import JournalSink, LockInfo

# name -> "module:Class"; the names a project may choose (see engine/schema/mlplan.schema.json)
BACKENDS: dict[str, str] = {
    "local": "mlplan.state.local:LocalBackend",
    "azureblob": "mlplan.state.azureblob:AzureBlobBackend",
}
# named by the project schema, not implemented in this version
PLANNED: tuple[str, ...] = ()


def register(name: str, target: str) -> None:
    """Make ``"module:Class"`` the backend ``name`` (library and test use, e.g. ``mlplan.state.memory``)."""
    BACKENDS[name] = target


def backend_class(name: str) -> type[Backend]:
    target = BACKENDS.get(name)
    if target is None:
        available = ", ".join(sorted(BACKENDS))
        if name in PLANNED:
            raise StateError(
                f"state backend {name!r} is not available in this version of mlplan (available: {available})"
            )
        raise StateError(f"unknown state backend {name!r} (available: {available})")
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise StateError(f"state backend {name!r}: {target} is not a Backend")
    return cls


def open_backend(settings: Mapping[str, Any], root: Path, environment: str) -> Backend:
    """The backend ``settings["backend"]`` (default ``local``) of ``environment``, paths relative to ``root``."""
    return backend_class(str(settings.get("backend", "local"))).from_settings(settings, root, environment)


class Unavailable(Backend):
    """A backend that cannot be opened (one this version names but has not built): every use raises its
    error. Commands that never touch state (``validate``) work with it."""

    def __init__(self, error: StateError) -> None:
        self.error = error

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], root: Path, environment: str) -> Unavailable:
        raise StateError("an unavailable backend is not opened from settings")

    def describe(self) -> str:
        return "(unavailable)"

    def _fail(self) -> NoReturn:
        raise self.error

    def read_snapshot(self) -> bytes | None:
        self._fail()

    def read_backup(self) -> bytes | None:
        self._fail()

    def read_journal(self) -> bytes:
        self._fail()

    def write_snapshot(self, data: bytes, lock: LockInfo) -> None:
        self._fail()

    def open_journal(self, lock: LockInfo) -> JournalSink:
        self._fail()

    def truncate_journal(self, lock: LockInfo) -> None:
        self._fail()

    def acquire(self, operation: str, timeout: float = 0.0) -> LockInfo:
        self._fail()

    def release(self, lock: LockInfo) -> None:
        self._fail()

    def current_lock(self) -> LockInfo | None:
        self._fail()

    def force_unlock(self, lock_id: str) -> None:
        self._fail()

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        self._fail()
        yield  # pragma: no cover - unreachable, keeps this a generator
