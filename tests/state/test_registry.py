"""The backend registry: a backend by name from an environment's ``state:`` settings, imported lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlplan.core.errors import StateError
from mlplan.engine import session as session_mod
from mlplan.state import registry
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


def test_azureblob_is_named_but_not_available_yet(tmp_path: Path) -> None:
    with pytest.raises(StateError) as exc:
        open_backend({"backend": "azureblob", "account_url": "https://x", "container": "c", "blob": "b"}, tmp_path, "p")
    assert "'azureblob' is not available in this version of mlplan" in str(exc.value)
    assert "available: local" in str(exc.value)


def test_an_unknown_backend_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(StateError) as exc:
        open_backend({"backend": "s3"}, tmp_path, "dev")
    assert "unknown state backend 's3'" in str(exc.value)
    assert "(available: local)" in str(exc.value)


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
