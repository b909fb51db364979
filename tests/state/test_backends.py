"""Every state backend against the conformance suite (tests/state/conformance.py)."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest

from mlplan.state.azureblob import AzureBlobBackend
from mlplan.state.backend import Backend
from mlplan.state.local import LocalBackend
from mlplan.state.memory import MemoryBackend, MemoryStore
from tests.loopback_azure.azurite import Azurite
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


class AzureBlobKit(Kit):
    """A state blob of its own on Azurite, through a connection string (as CI signs in)."""

    name = "azureblob"
    force_unlock_checks_holder = False  # a lease: force-unlock ends it, running holder or not

    def __init__(self, connection_string: str, lease_seconds: int = 60) -> None:
        self.settings = {
            "backend": "azureblob",
            "container": CONTAINER,
            "blob": f"conformance/{uuid.uuid4()}.json",
            "credential": "connection_string",
            "lease_seconds": lease_seconds,
        }
        self.environ = {"AZURE_STORAGE_CONNECTION_STRING": connection_string}

    def new(self) -> AzureBlobBackend:
        return open_azureblob(self.settings, self.environ)

    def die(self, backend: Backend) -> None:
        assert isinstance(backend, AzureBlobBackend)
        backend._stop_renewing()  # a dead process renews nothing: its lease runs on until it expires


CONTAINER = "mlplan-state"


def open_azureblob(settings: dict[str, object], environ: dict[str, str]) -> AzureBlobBackend:
    """``AzureBlobBackend.from_settings`` with ``environ`` as the process environment."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in environ.items():
            mp.setenv(name, value)
        return AzureBlobBackend.from_settings(settings, Path("."), "env")


@pytest.fixture(scope="session")
def azurite_state(azurite: Azurite) -> str:
    """Azurite's connection string, with the state container created."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    with contextlib.suppress(ResourceExistsError):
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(CONTAINER)
    return azurite.connection_string


@pytest.fixture(params=["local", "memory", "memory-lease", "azureblob"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Kit:
    if request.param == "local":
        return LocalKit(tmp_path)
    if request.param == "azureblob":
        return AzureBlobKit(request.getfixturevalue("azurite_state"))
    return MemoryKit(lease=request.param == "memory-lease")


class TestConformance(BackendConformance):
    pass
