"""The state backends by name, imported only when chosen: ``open_backend(settings, root, environment)``.

A backend is a ``Backend`` subclass; its classmethod ``from_settings(settings, root, environment)``
reads the environment's ``state:`` settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlplan.core.errors import StateError
from mlplan.state.backend import Backend

# name -> "module:Class"; the names a project may choose (see engine/schema/mlplan.schema.json)
BACKENDS: dict[str, str] = {
    "local": "mlplan.state.local:LocalBackend",
}
# named by the project schema, not implemented in this version
PLANNED = ("azureblob",)


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
