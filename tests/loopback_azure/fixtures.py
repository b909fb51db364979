"""pytest fixtures for the loopback Azure (a plugin: tests/conftest.py lists it in ``pytest_plugins``).

- ``loopback_azure``: a fresh server for one test (state under ``tmp_path``), with the environment the SDKs need
  (``LoopbackAzure.env()``: REQUESTS_CA_BUNDLE, AZURE_* service principal) set for the test and restored after,
  and ``AZUREML_CURRENT_CLOUD`` (which MLClient sets process-wide) cleared.
- ``loopback_azure_module``: one server for a module (in memory); tests that share it call ``reset()`` as needed.
- ``azurite``: Azurite for the session (per xdist worker), on a free port, stopped at the end.
- ``loopback_azure_storage``: ``loopback_azure`` with its datastores on ``azurite`` and azure-ai-ml's uploads
  pointed there, in this process and (through ``env()``: PYTHONPATH + LOOPBACK_AZURE_BLOB_TEMPLATE) in the
  ``mlplan`` processes a test starts with ``run_mlplan``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .azurite import Azurite, run_azurite, sdk_uploads_to
from .server import LoopbackAzure


def _set_env(mp: pytest.MonkeyPatch, server: LoopbackAzure) -> None:
    # set, then removed: monkeypatch records only a variable it changes, and an MLClient made in this process sets
    # it during the test (an ``mlplan`` run later in the same worker then inherited an unknown cloud's name)
    mp.setenv("AZUREML_CURRENT_CLOUD", "")
    mp.delenv("AZUREML_CURRENT_CLOUD")
    for name, value in server.env().items():
        mp.setenv(name, value)


@pytest.fixture
def loopback_azure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackAzure]:
    """A fresh loopback Azure for this test, with the SDKs' environment set (and restored after)."""
    with LoopbackAzure(tmp_path / "loopback-azure") as server:
        _set_env(monkeypatch, server)
        yield server


@pytest.fixture(scope="module")
def loopback_azure_module() -> Iterator[LoopbackAzure]:
    """One loopback Azure (in memory) for the module's tests; ``reset()`` empties it."""
    with LoopbackAzure() as server, pytest.MonkeyPatch.context() as mp:
        _set_env(mp, server)
        yield server


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service for the session (per worker), killed at the end."""
    with run_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


@pytest.fixture
def loopback_azure_storage(
    loopback_azure: LoopbackAzure, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoopbackAzure]:
    """``loopback_azure`` whose datastores and code uploads are on Azurite, with azure-ai-ml pointed there."""
    loopback_azure.attach_storage(azurite.blob_url)
    _set_env(monkeypatch, loopback_azure)
    with sdk_uploads_to(azurite.url_template):
        yield loopback_azure
