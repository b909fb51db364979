"""Imported by Python at start-up in a child process of the tests that has this folder on its PYTHONPATH
(``tests.loopback_azure.azurite.child_env``): when azure-ai-ml's constants are imported, its blob account URL
template becomes ``$LOOPBACK_AZURE_BLOB_TEMPLATE`` (Azurite). Nothing happens without that variable, and
azure-ai-ml is not imported early (mlplan imports it lazily)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TARGET = "azure.ai.ml.constants._common"


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, template: str) -> None:
        self.template = template

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module
        template = self.template

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.STORAGE_ACCOUNT_URLS["AzureBlob"] = template

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_template = os.environ.get("LOOPBACK_AZURE_BLOB_TEMPLATE")
if _template:
    sys.meta_path.insert(0, _PatchOnImport(_template))
