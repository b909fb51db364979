"""Every state backend against the conformance suite (tests/state/conformance.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlplan.state.backend import Backend
from mlplan.state.local import LocalBackend
from mlplan.state.memory import MemoryBackend, MemoryStore
from tests.state.azureblob_kit import AzureBlobKit
from tests.state.conformance import BackendConformance, Kit


class LocalKit(Kit):
    name = "local"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "state" / "env.json"

    def new(self) -> Backend:
        return LocalBackend(self.path)

    def die(self, backend: Backend) -> None:
        assert isinstance(backend, LocalBackend)
        os_lock = backend._os_lock
        if os_lock is not None:  # the OS lets go of a dead process's file lock; its .lock.info file stays
            os_lock.release(force=True)


class MemoryKit(Kit):
    name = "memory"

    def __init__(self, lease: bool = False) -> None:
        self.store = MemoryStore(lease=lease)
        self.force_unlock_checks_holder = not lease

    def new(self) -> Backend:
        return MemoryBackend(self.store)

    def die(self, backend: Backend) -> None:
        assert isinstance(backend, MemoryBackend)
        backend.crash()


@pytest.fixture(params=["local", "memory", "memory-lease", "azureblob"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Kit:
    if request.param == "local":
        return LocalKit(tmp_path)
    if request.param == "azureblob":
        return AzureBlobKit(request.getfixturevalue("azurite_state"))
    return MemoryKit(lease=request.param == "memory-lease")


class TestConformance(BackendConformance):
    pass
