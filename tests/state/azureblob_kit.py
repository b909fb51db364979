"""The azureblob backend's conformance kit: a state blob of its own on Azurite (``azurite_state``, conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mlplan.state.azureblob import AzureBlobBackend
from mlplan.state.backend import Backend
from tests.state.conformance import Kit


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
