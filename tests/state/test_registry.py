"""The backend registry: a backend by name from an environment's ``state:`` settings, imported lazily."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from mlplan.core.errors import StateError
from mlplan.engine import session as session_mod
from mlplan.state import registry
from mlplan.state.azureblob import AzureBlobBackend
from mlplan.state.local import LocalBackend
from mlplan.state.memory import MemoryBackend, MemoryStore
from mlplan.state.registry import BACKENDS, open_backend
from tests.unit.fakes import Harness


def test_local_defaults_to_a_file_per_environment_under_the_root(tmp_path: Path) -> None:
    backend = open_backend({"backend": "local"}, tmp_path, "dev")
    assert isinstance(backend, LocalBackend)
    assert backend.path == tmp_path / ".mlplan/state/dev.json"
    assert isinstance(open_backend({}, tmp_path, "qa"), LocalBackend)  # local is the default


def test_local_path_is_relative_to_the_root_unless_absolute(tmp_path: Path) -> None:
    relative = open_backend({"backend": "local", "path": "st/x.json"}, tmp_path, "dev")
    assert isinstance(relative, LocalBackend) and relative.path == tmp_path / "st/x.json"
    absolute = open_backend({"backend": "local", "path": str(tmp_path / "abs.json")}, tmp_path / "elsewhere", "dev")
    assert isinstance(absolute, LocalBackend) and absolute.path == tmp_path / "abs.json"


AZUREBLOB = {"backend": "azureblob", "container": "c", "blob": "env/dev.json"}
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


def test_azureblob_opens_from_a_connection_string_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", AZURITE)
    backend = open_backend({**AZUREBLOB, "credential": "connection_string"}, tmp_path, "dev")
    assert isinstance(backend, AzureBlobBackend)
    assert backend.describe() == "http://127.0.0.1:10000/devstoreaccount1/c/env/dev.json"
    assert backend.lease_seconds == 60
    assert "a2V5" not in backend.describe()


@pytest.mark.parametrize(
    ("settings", "environ", "message"),
    [
        ({"credential": "connection_string"}, {}, "credential connection_string needs AZURE_STORAGE_CONNECTION_STRING"),
        ({"credential": "sas", "account_url": "https://a.blob.core.windows.net"}, {}, "needs AZURE_STORAGE_SAS_TOKEN"),
        ({"credential": "connection_string"}, {"AZURE_STORAGE_CONNECTION_STRING": "nope"}, "is not a storage"),
        (
            {"credential": "connection_string", "account_url": "https://other.blob.core.windows.net"},
            {"AZURE_STORAGE_CONNECTION_STRING": AZURITE},
            "is not the blob endpoint of the connection string in AZURE_STORAGE_CONNECTION_STRING",
        ),
        ({"credential": "azure_cli"}, {}, "needs account_url (with credential azure_cli)"),
        ({"account_url": "https://a.blob.core.windows.net?sv=2024&sig=c2VjcmV0"}, {}, "a SAS goes in AZURE_"),
        ({"account_url": "https://a", "credential": "password"}, {}, "unknown credential 'password' (known: default,"),
        ({"account_url": "https://a", "lease_seconds": 10}, {}, "lease_seconds must be a whole number"),
        ({"account_url": "https://a", "lease_seconds": -1}, {}, "from 15 to 60 (what Azure allows of a lease), not -1"),
        ({"account_url": "https://a", "container": ""}, {}, "needs container"),
        ({"account_url": "https://a"}, {}, "credential default needs an azure-identity credential factory"),
    ],
)
def test_azureblob_settings_errors_say_what_is_wrong_and_never_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, object], environ: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_SAS_TOKEN", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StateError) as exc:
        open_backend({**AZUREBLOB, **settings}, tmp_path, "dev")
    assert message in str(exc.value)
    assert "a2V5" not in str(exc.value) and "c2VjcmV0" not in str(exc.value)


def test_the_session_gives_azureblob_the_environments_credential_made_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Azure state backend signs in like the azure provider (its credential is the default), and not before
    the state is used: opening it (``validate`` does) makes no credential."""
    config, _graph = Harness(tmp_path / "proj").load()
    made: list[tuple[str, object]] = []

    def make_credential(kind: str, cloud: object, verify: object = True) -> object:
        made.append((kind, cloud))
        raise StateError(f"made {kind}")

    import mlplan.providers.azure.cloud as cloud_mod
    import mlplan.providers.azure.credentials as credentials_mod

    monkeypatch.setattr(credentials_mod, "make_credential", make_credential)
    monkeypatch.setattr(cloud_mod, "cloud_of", lambda setting: f"cloud:{setting}")
    env = dataclasses.replace(
        config.environment,
        state={**AZUREBLOB, "account_url": "https://a.blob.core.windows.net"},
        connection={"cloud": "AzureChinaCloud", "credential": "azure_cli"},
    )
    backend = session_mod.open_backend(dataclasses.replace(config, environment=env))
    assert isinstance(backend, AzureBlobBackend) and made == []
    with pytest.raises(StateError, match="made azure_cli"):
        backend.read_snapshot()
    assert made == [("azure_cli", "cloud:AzureChinaCloud")]


def test_an_unknown_backend_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(StateError) as exc:
        open_backend({"backend": "s3"}, tmp_path, "dev")
    assert "unknown state backend 's3'" in str(exc.value)
    assert "(available: azureblob, local)" in str(exc.value)


def test_a_registered_backend_opens_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "memory", "mlplan.state.memory:MemoryBackend")
    store = MemoryStore()
    one = open_backend({"backend": "memory", "store": store}, tmp_path, "dev")
    two = open_backend({"backend": "memory", "store": store}, tmp_path, "dev")
    assert isinstance(one, MemoryBackend) and isinstance(two, MemoryBackend)
    assert one.store is two.store is store
    with one.lock("apply") as lock:
        one.write(one.read(), lock)
    assert two.read().serial == 1
    with pytest.raises(StateError, match="store must be a MemoryStore"):
        open_backend({"backend": "memory", "store": "nope"}, tmp_path, "dev")


def test_register_refuses_what_is_not_a_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BACKENDS", {**BACKENDS})
    registry.register("odd", "mlplan.state.model:State")
    with pytest.raises(StateError, match="is not a Backend"):
        open_backend({"backend": "odd"}, tmp_path, "dev")


def test_backends_are_imported_only_when_chosen() -> None:
    code = (
        "import sys, mlplan.state.registry\n"
        "assert 'mlplan.state.local' not in sys.modules and 'filelock' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_session_opens_the_environments_backend(tmp_path: Path) -> None:
    config, _graph = Harness(tmp_path / "proj").load()
    backend = session_mod.open_backend(config)
    assert isinstance(backend, LocalBackend)
    assert backend.path == config.root / f".mlplan/state/{config.environment.name}.json"
