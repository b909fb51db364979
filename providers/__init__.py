"""Providers: the backends that make resources real (``local`` on disk, ``azure`` in a workspace).

The engine finds a provider by name through ``REGISTRY`` and imports it only when used, so
``mlplan --help`` never pays for an SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

REGISTRY: dict[str, str] = {
    "local": "mlplan.providers.local:LocalProvider",
    "azure": "mlplan.providers.azure:AzureProvider",  # validates offline; plan and apply not yet
}


def load_provider(name: str, **kwargs: Any) -> Any:
    """Instantiate the provider registered under ``name``; KeyError when unknown."""
    module_name, _, attr = REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(**kwargs)
