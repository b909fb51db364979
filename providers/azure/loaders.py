"""``mlplan validate``'s second opinion: run the azure-ai-ml loaders on resource files.

Lives in providers/ because it imports the Azure SDK (lazily: it is slow); the engine never does.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from mlplan.providers.base import Problem

_LOADERS = {
    "data": "load_data",
    "environment": "load_environment",
    "model": "load_model",
    "compute": "load_compute",
    "online_endpoint": "load_online_endpoint",
    "online_deployment": "load_online_deployment",
    "job": "load_job",
}


def loader_problems(kind: str, path: Path, spec: dict[str, Any]) -> list[Problem]:
    """What azure-ai-ml's loader for ``kind`` says of the file (with interpolated values)."""
    loader_name = _LOADERS.get(kind)
    if loader_name is None:
        return []
    override = {k: v for k, v in spec.items() if k != "$schema"}
    sink = io.StringIO()
    try:
        # the SDK prints notices (experimental classes, progress) on import and load: keep them quiet
        with redirect_stdout(sink), redirect_stderr(sink), _quiet_logging():
            import azure.ai.ml as aml

            loader: Any = getattr(aml, loader_name)
            entity = loader(source=str(path), params_override=[override])
            if kind not in _NO_REST_CHECK:
                entity._to_rest_object()
    except Exception as exc:  # the SDK raises many unrelated types
        message = _clean(str(exc))
        field = _field(message)
        return [
            Problem(
                (field,) if field else (),
                f"azure-ai-ml rejects this {kind}: {message}",
                "fix the field as the Azure ML CLI v2 YAML reference describes",
            )
        ]
    return []


# Endpoints and deployments only become REST bodies with a workspace location: the loader's checks suffice.
_NO_REST_CHECK = frozenset({"online_endpoint", "online_deployment"})


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:400]


def _field(message: str) -> str | None:
    m = re.search(r'"([A-Za-z_]+)": \[', message)
    return m.group(1) if m else None
