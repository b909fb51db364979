"""``mlplan validate``'s second opinion: run the azure-ai-ml loaders on every resource file."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from mlplan.engine.config import Config
from mlplan.engine.errors import Diagnostic

_LOADERS = {
    "data": "load_data",
    "environment": "load_environment",
    "model": "load_model",
    "compute": "load_compute",
    "online_endpoint": "load_online_endpoint",
    "online_deployment": "load_online_deployment",
    "job": "load_job",
}


def sdk_diagnostics(config: Config) -> list[Diagnostic]:
    """One Diagnostic per file the azure-ai-ml loaders reject (imported lazily: it is slow)."""
    import azure.ai.ml as aml

    out: list[Diagnostic] = []
    for res in config.resources.values():
        loader_name = _LOADERS.get(res.address.kind)
        if loader_name is None:
            continue
        loader: Any = getattr(aml, loader_name)
        spec = {k: v for k, v in res.spec.items() if k != "$schema"}
        sink = io.StringIO()
        try:
            with redirect_stdout(sink), redirect_stderr(sink):
                entity = loader(source=str(config.root / res.file), params_override=[spec])
                entity._to_rest_object()
        except Exception as exc:  # the SDK raises many unrelated types
            message = _clean(str(exc))
            field = _field(message)
            out.append(
                res.diag(
                    f"azure-ai-ml rejects this {res.address.kind}: {message}",
                    (field,) if field else (),
                    hint="fix the field as the Azure ML CLI v2 YAML reference describes",
                )
            )
    return out


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text[:400]


def _field(message: str) -> str | None:
    m = re.search(r'"([A-Za-z_]+)": \[', message)
    return m.group(1) if m else None
