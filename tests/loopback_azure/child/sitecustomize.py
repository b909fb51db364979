"""Imported by Python at start-up in a child process of the tests that has this folder on its PYTHONPATH
(``tests.loopback_azure.azurite.child_env``, ``retry_time_scale_env``). Nothing happens without the variables below,
and nothing is imported early (mlplan imports azure-ai-ml, and its own azure modules, lazily):

- ``LOOPBACK_AZURE_BLOB_TEMPLATE``: when azure-ai-ml's constants are imported, its blob account URL template becomes
  this one (Azurite).
- ``LOOPBACK_AZURE_RETRY_TIME_SCALE``: when ``mlplan.providers.azure.clients`` is imported, each of its durations
  (the ``*_S`` constants: back-off, ceiling on Retry-After, call budget, timeouts) is multiplied by this factor and
  ``DEAD_SERVICE_BOUND_S`` follows; the numbers of retries stay. A dead service then fails in seconds, through the
  same policy, for a test that must not wait the real bound.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

DURATIONS = (
    "CONNECT_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "CALL_BUDGET_S",
    "MAX_WAIT_S",
    "BACKOFF_FACTOR_S",
    "BACKOFF_MAX_S",
)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Run ``patch`` on the module ``target`` once it has been executed (the first import of it)."""

    def __init__(self, target: str, patch: Callable[[ModuleType], None]) -> None:
        self.target = target
        self.patch = patch

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name != self.target:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module
        patch = self.patch

        def exec_module(module: ModuleType) -> None:
            run(module)
            patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _blob_template(template: str) -> Callable[[ModuleType], None]:
    def patch(module: ModuleType) -> None:
        module.STORAGE_ACCOUNT_URLS["AzureBlob"] = template

    return patch


def _retry_time_scale(scale: float) -> Callable[[ModuleType], None]:
    def patch(module: ModuleType) -> None:
        for name in DURATIONS:
            setattr(module, name, getattr(module, name) * scale)
        bound = module.CALL_BUDGET_S + module.CONNECT_TIMEOUT_S + module.READ_TIMEOUT_S + module.MAX_WAIT_S
        setattr(module, "DEAD_SERVICE_BOUND_S", bound)  # noqa: B010 (the clients module is not imported here)

    return patch


_template = os.environ.get("LOOPBACK_AZURE_BLOB_TEMPLATE")
if _template:
    sys.meta_path.insert(0, _PatchOnImport("azure.ai.ml.constants._common", _blob_template(_template)))
_scale = os.environ.get("LOOPBACK_AZURE_RETRY_TIME_SCALE")
if _scale:
    sys.meta_path.insert(0, _PatchOnImport("mlplan.providers.azure.clients", _retry_time_scale(float(_scale))))
