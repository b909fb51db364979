"""Immutable asset versions: data assets, models, environments (``workspaces/{data,models,environments}/<name>/
versions/<version>``).

A version never changes on Azure but for its description, tags and (models) stage; what a local path held is
compared by mlplan's digest, kept in the version's properties (``mlplan.content.<field>``), since Azure reports
the uploaded copy's storage URI. A remote path (``azureml://datastores/...``, ``https://...``) is compared as
written, in the short datastore form. Server defaults: a data asset's type ``uri_folder`` and a model's
``custom_model`` (azure-ai-ml's), an environment's ``osType`` Linux and a build's ``dockerfilePath`` Dockerfile
(REST API ``EnvironmentVersion``, ``BuildContext``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlplan.providers.azure.kinds.common import (
    content_marks,
    data_uri,
    desired_content,
    is_local,
    load_entity,
    marked_content,
    text,
    user_properties,
    user_tags,
)
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import Desired, Observed


class AssetMap:
    """What data assets, models and environments share."""

    kind = ""
    folder = ""  # the REST collection: data, models, environments
    loader = ""
    content_fields: tuple[str, ...] = ()  # path fields whose local content is compared by digest

    def to_entity(self, desired: Desired, ws: Workspace) -> Any:
        """The version to register: the spec as azure-ai-ml loads it (local paths resolved against the resource
        file, uploaded by the SDK on create), mlplan's content digests in its properties, its tags marked."""
        spec = {**desired.spec, "name": desired.name}
        if desired.version is not None:
            spec["version"] = desired.version
        entity = load_entity(self.loader, spec, desired.base_dir)
        entity.tags = {**user_tags(desired.spec.get("tags")), **desired.tags}
        entity.properties = {
            **user_properties(desired.spec.get("properties")),
            **content_marks(desired, self.content_fields),
        }
        return entity

    def base_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        return {
            "description": spec.get("description"),
            "tags": user_tags(spec.get("tags")),
            "properties": user_properties(spec.get("properties")),
            "content": desired_content(desired, self.content_fields),
        }

    def base_observed(self, entity: Any) -> dict[str, Any]:
        return {
            "description": entity.description,
            "tags": user_tags(entity.tags),
            "properties": user_properties(entity.properties),
            "content": marked_content(entity.properties),
        }

    def observe(self, entity: Any, attributes: dict[str, Any], archived: bool) -> Observed:
        """``archived``: azure-ai-ml's entities drop ``isArchived``; the caller knows it from how it listed."""
        return Observed(
            id=f"{self.folder}/{entity.name}/versions/{entity.version}",
            attributes=attributes,
            version=str(entity.version),
            tags=dict(entity.tags or {}),
            outputs={"arm_id": entity.id, "path": getattr(entity, "path", None)},
            archived=archived,
        )


def _remote(value: Any) -> Any:
    """A path as compared: a remote one in its short form; a local one is content (None here)."""
    return None if value is None or is_local(value) else data_uri(value)


class DataMap(AssetMap):
    kind = "data"
    folder = "data"
    loader = "load_data"
    content_fields = ("path",)

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        return {
            "type": str(spec.get("type") or "uri_folder"),
            "path": _remote(spec.get("path")),
            **self.base_attributes(desired),
        }

    def observed(self, entity: Any, ws: Workspace, archived: bool = False) -> Observed:
        content = marked_content(entity.properties)
        attrs = {
            "type": str(entity.type),
            "path": None if "path" in content else data_uri(entity.path),
            **self.base_observed(entity),
        }
        return self.observe(entity, attrs, archived)


class ModelMap(AssetMap):
    kind = "model"
    folder = "models"
    loader = "load_model"
    content_fields = ("path",)

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        return {
            "type": str(spec.get("type") or "custom_model"),
            "path": _remote(spec.get("path")),
            "stage": spec.get("stage"),
            **self.base_attributes(desired),
        }

    def observed(self, entity: Any, ws: Workspace, archived: bool = False) -> Observed:
        content = marked_content(entity.properties)
        attrs = {
            "type": str(entity.type),
            "path": None if "path" in content else data_uri(entity.path),
            "stage": entity.stage,
            **self.base_observed(entity),
        }
        return self.observe(entity, attrs, archived)


class EnvironmentMap(AssetMap):
    """An environment's conda specification is kept by Azure in the version itself: it is compared as parsed
    YAML (a changed dependency shows as itself); a build context is uploaded, compared by digest."""

    kind = "environment"
    folder = "environments"
    loader = "load_environment"
    content_fields = ("build.path",)

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        spec = desired.spec
        build = spec.get("build") if isinstance(spec.get("build"), dict) else None
        return {
            "image": spec.get("image"),
            "conda": _conda(spec.get("conda_file"), desired.base_dir),
            "build": _build(build.get("path"), build.get("dockerfile_path")) if build else None,
            "os_type": str(spec.get("os_type") or "linux").lower(),
            "inference_config": spec.get("inference_config"),
            **self.base_attributes(desired),
        }

    def observed(self, entity: Any, ws: Workspace, archived: bool = False) -> Observed:
        content = marked_content(entity.properties)
        build = entity.build
        conda = entity.conda_file
        attrs = {
            "image": entity.image,
            "conda": yaml.safe_load(conda) if isinstance(conda, str) else conda,
            "build": (
                _build(None if "build.path" in content else build.path, build.dockerfile_path)
                if build is not None
                else None
            ),
            "os_type": str(text(entity.os_type) or "linux").lower(),
            "inference_config": _inference_config(entity.inference_config),
            **self.base_observed(entity),
        }
        return self.observe(entity, attrs, archived)


def _build(path: Any, dockerfile: Any) -> dict[str, Any]:
    """A build as compared: its remote context (a local one is content) and its Dockerfile, ``Dockerfile`` when
    left out (REST API ``BuildContext.dockerfilePath``'s default)."""
    return {"path": _remote(path), "dockerfile_path": dockerfile or "Dockerfile"}


def _conda(value: Any, base_dir: Path) -> Any:
    """A conda specification: inline, or the file's content parsed (what azure-ai-ml reads and sends)."""
    if isinstance(value, dict) or value is None:
        return value
    if not isinstance(value, str) or not is_local(value):
        return value
    try:
        return yaml.safe_load((base_dir / value).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return value  # validation reports a missing or broken file; compared as written meanwhile


def _inference_config(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    to_dict = getattr(value, "_to_dict", None) or getattr(value, "as_dict", None)
    return to_dict() if to_dict is not None else value
