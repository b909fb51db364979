"""Command jobs (``workspaces/jobs/<run>``): each run is a new, immutable job, named after the operation that
submitted it (``run_name``), never re-run when its inputs did not change (the engine's run node decides).

mlplan fills two fields azure-ai-ml would leave to the service, so that what a run reports is what was planned:
``display_name`` (the job's name in the project) and ``experiment_name`` (the project). Server defaults (REST API
``JobInput`` / ``JobOutput`` / ``JobResourceConfiguration``): inputs mounted read-only, outputs read-write, one
instance. A named output (``name:`` / ``version:``) is registered by mlplan (the asset derived from it, its path
``azureml://jobs/<run>/outputs/<output>``), not by Azure: it is submitted without them. Local code and an inline
environment are content, their digests kept in the job's properties; a local input path is uploaded by azure-ai-ml
and compared only as being local (its files are not hashed by mlplan).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlplan.providers.azure.kinds.common import (
    CONTENT,
    INLINE,
    asset_ref,
    compute_ref,
    data_uri,
    inline_digest,
    is_local,
    load_entity,
    marked_content,
    strings,
    text,
    user_properties,
    user_tags,
)
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import TAG_OPERATION, Desired, Observed, run_name

LITERAL_TYPES = (str, int, float, bool)
LOCAL = "(local)"  # a local input path, uploaded at submission
INPUT_MODE = "ro_mount"
OUTPUT_MODE = "rw_mount"
# what azure-ai-ml adds to a job's properties when its code is in a git repository (the SDK's, not the user's)
GIT_PROPERTIES = "mlflow.source.git."


class JobMap:
    kind = "job"

    def content(self, desired: Desired) -> dict[str, str]:
        out: dict[str, str] = {}
        if is_local(desired.spec.get("code")) and "code" in desired.content:
            out["code"] = desired.content["code"]
        if isinstance(desired.spec.get("environment"), dict):
            out["environment"] = inline_digest(desired, "environment")
        return out

    def to_entity(self, desired: Desired, ws: Workspace) -> Any:
        """The job to submit: named after the operation, its display and experiment names filled, mlplan's marks
        in its tags (ownership) and properties (content)."""
        operation = desired.tags.get(TAG_OPERATION, "")
        spec = {
            **desired.spec,
            "outputs": _unnamed(desired.spec.get("outputs")),
            "name": run_name(desired.name, operation) if operation else desired.name,
            "display_name": self.display_name(desired),
            "experiment_name": self.experiment_name(desired),
        }
        entity = load_entity("load_job", spec, desired.base_dir)
        entity.tags = {**user_tags(desired.spec.get("tags")), **desired.tags}
        entity.properties = {
            **user_properties(desired.spec.get("properties")),
            **{CONTENT + k: v for k, v in self.content(desired).items()},
        }
        return entity

    @staticmethod
    def display_name(desired: Desired) -> str:
        return str(desired.spec.get("display_name") or desired.name)

    @staticmethod
    def experiment_name(desired: Desired) -> str:
        return str(desired.spec.get("experiment_name") or desired.project or "Default")

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        resources = spec.get("resources") or {}
        limits = spec.get("limits") or {}
        return {
            "type": str(spec.get("type") or "command").lower(),
            "command": spec.get("command"),
            "environment": INLINE if isinstance(spec.get("environment"), dict) else asset_ref(spec.get("environment")),
            "compute": compute_ref(spec.get("compute")),
            "code": None if spec.get("code") is None or is_local(spec.get("code")) else asset_ref(spec.get("code")),
            "content": self.content(desired),
            "inputs": {str(k): _input(v) for k, v in sorted((spec.get("inputs") or {}).items())},
            "outputs": {str(k): _output(v) for k, v in sorted((spec.get("outputs") or {}).items())},
            "environment_variables": strings(spec.get("environment_variables")),
            "resources": {
                "instance_count": resources.get("instance_count", 1),
                "instance_type": resources.get("instance_type"),
            },
            "timeout": limits.get("timeout"),
            "distribution": spec.get("distribution"),
            "display_name": self.display_name(desired),
            "experiment_name": self.experiment_name(desired),
            "description": spec.get("description"),
            "tags": user_tags(spec.get("tags")),
            "properties": user_properties(spec.get("properties")),
        }

    def observed(self, entity: Any, ws: Workspace) -> Observed:
        """A job as ``jobs.get`` returns it (azure-ai-ml gives a ``Command`` node: its inputs and outputs wrap the
        values in ``_data``)."""
        properties = dict(entity.properties or {})
        content = marked_content(properties)
        resources = entity.resources
        limits = entity.limits
        attrs = {
            "type": str(entity.type).lower(),
            "command": entity.command,
            "environment": INLINE if "environment" in content else asset_ref(_id(entity.environment)),
            "compute": compute_ref(entity.compute),
            "code": None if "code" in content or entity.code is None else asset_ref(_id(entity.code)),
            "content": content,
            "inputs": {str(k): _input(_data(v)) for k, v in sorted((entity.inputs or {}).items())},
            "outputs": {str(k): _output(_data(v)) for k, v in sorted((entity.outputs or {}).items())},
            "environment_variables": strings(entity.environment_variables),
            "resources": {
                "instance_count": getattr(resources, "instance_count", None) or 1,
                "instance_type": getattr(resources, "instance_type", None),
            },
            "timeout": getattr(limits, "timeout", None),
            "distribution": _dict(entity.distribution),
            "display_name": entity.display_name,
            "experiment_name": entity.experiment_name,
            "description": entity.description,
            "tags": user_tags(entity.tags),
            "properties": {k: v for k, v in user_properties(properties).items() if not k.startswith(GIT_PROPERTIES)},
        }
        return Observed(
            id=f"jobs/{entity.name}",
            attributes=attrs,
            tags=dict(entity.tags or {}),
            outputs={
                "run": entity.name,
                "status": text(entity.status),
                "studio_url": entity.studio_url,
                # as the local provider records them, and as a model's ``path:`` names a run's output on Azure
                "outputs": {str(k): f"azureml://jobs/{entity.name}/outputs/{k}" for k in sorted(entity.outputs or {})},
                "arm_id": entity.id,
            },
        )


def _data(value: Any) -> Any:
    """What a job's input or output holds: azure-ai-ml wraps it (``NodeInput._data``) once loaded or read."""
    return getattr(value, "_data", value)


def _id(value: Any) -> Any:
    return getattr(value, "id", None) or value


def _dict(value: Any) -> Any:
    if value is None or isinstance(value, Mapping):
        return value
    return value._to_dict() if hasattr(value, "_to_dict") else value


def _input(value: Any) -> Any:
    """A job input as compared: a literal as text (Azure keeps literals as strings); an asset or path input as
    ``{type, path, mode}``, a local path as ``(local)``."""
    if isinstance(value, LITERAL_TYPES):
        return str(value).lower() if isinstance(value, bool) else str(value)
    given = _dict(value) or {}
    if not isinstance(given, Mapping):
        return given
    return {"type": given.get("type"), "path": input_path(given.get("path")), "mode": given.get("mode") or INPUT_MODE}


def input_path(path: Any) -> Any:
    """An input's path as compared: an asset as ``azureml:<name>:<version>`` (``jobs.get`` reads it back as
    ``<name>:<version>``), a datastore URI in its short form, a local path (or what it was uploaded to) as
    ``(local)``."""
    if _uploaded(path):
        return LOCAL
    ref = data_uri(path)
    return LOCAL if ref == path and is_local(path) else ref


def _unnamed(outputs: Any) -> Any:
    """The outputs to submit, without the asset ``name`` / ``version`` to register them as: Azure ML would register a
    named output itself when the run completes, and mlplan registers it (the asset derived from the output, with
    its ownership tags and version numbering), once."""
    if not isinstance(outputs, Mapping):
        return outputs
    return {
        k: {f: v for f, v in o.items() if f not in ("name", "version")} if isinstance(o, Mapping) else o
        for k, o in outputs.items()
    }


def _output(value: Any) -> Any:
    """An output as compared (what it registers as is the derived asset's, not the job's)."""
    given = _dict(value) or {}
    if not isinstance(given, Mapping):
        return given
    return {"type": given.get("type"), "mode": given.get("mode") or OUTPUT_MODE}


def _uploaded(path: Any) -> bool:
    """A datastore path azure-ai-ml uploaded a local file or folder to."""
    return isinstance(path, str) and "/paths/LocalUpload/" in path
