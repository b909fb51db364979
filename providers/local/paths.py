"""Where Azure ML references point in the local workspace: ``azureml:`` assets and job outputs."""

from __future__ import annotations

import re
from pathlib import Path

from mlplan.core.errors import ProviderError
from mlplan.providers.base import Context
from mlplan.providers.local.workspace import META, read_json, workspace_root

JOB_OUTPUT = re.compile(r"^azureml://jobs/([^/]+)/outputs/([^/]+)/?$")
ASSET = re.compile(r"^azureml:(?!//)([A-Za-z0-9][A-Za-z0-9_.\-]*):([A-Za-z0-9_.\-]+)$")
FOLDERS = {"data": "data", "model": "models", "environment": "environments"}


def job_output_dir(ctx: Context, run: str, output: str) -> Path:
    return workspace_root(ctx) / "jobs" / run / "outputs" / output


def asset_dir(ctx: Context, kind: str, name: str, version: str) -> Path:
    """The folder whose content an asset version holds (what AZUREML_MODEL_DIR points at for models)."""
    return workspace_root(ctx) / FOLDERS[kind] / name / version / "files" / "path"


def asset_path(ctx: Context, kind: str, name: str, version: str) -> Path:
    """The file or folder an asset version was registered from (a data input's mount point)."""
    folder = workspace_root(ctx) / FOLDERS[kind] / name / version
    meta = read_json(folder / META)
    if meta is None:
        raise ProviderError(f"{kind} {name}:{version} does not exist in the local workspace")
    stored = (meta.get("stored") or {}).get("path")
    return folder / "files" / "path" / stored if stored else folder / "files" / "path"


def resolve(ctx: Context, value: str, base_dir: Path, kind: str = "data") -> Path:
    """A path field's value as a local path: job outputs, ``azureml:name:version``, or a local path."""
    if m := JOB_OUTPUT.match(value):
        return job_output_dir(ctx, m.group(1), m.group(2))
    if m := ASSET.match(value):
        return asset_path(ctx, kind, m.group(1), m.group(2))
    if value.startswith(("azureml:", "http://", "https://", "wasbs://", "abfss://")):
        raise ProviderError(f"{value!r} is not supported by the local provider")
    return (base_dir / value).resolve()
