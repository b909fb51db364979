"""Data assets, models and environments on Azure ML: immutable versions (``<folder>/<name>/versions/<v>``).

Local paths are uploaded by azure-ai-ml's own upload code to the workspace's default datastore when a version is
registered. A version is never deleted: removing it archives it, and registering it again (same version, same
content) restores it. Description, tags and a model's stage change in place; anything else makes a new version.
Refresh reads versions through one paged list per asset name (``read_many`` / ``lookup_many``), a few names per
batch so that the engine's parallelism, and nothing else, bounds the lists in flight.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.azure.clients import calling
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.assets import DataMap, EnvironmentMap, ModelMap
from mlplan.providers.azure.kinds.common import desired_content, quiet_sdk, reserved_problems
from mlplan.providers.base import OWNERSHIP_TAGS, Context, Desired, Observed, Problem, ResourceType


def _version_key(version: str) -> tuple[bool, int, str]:
    return (version.isdigit(), int(version) if version.isdigit() else 0, version)


class AzureAssetType(ResourceType):
    """What data assets, models and environments share; ``collection`` is ``MLClient``'s attribute."""

    map: Any  # the kind's AssetMap (DataMap, ModelMap, EnvironmentMap)
    collection = ""
    mutable_fields = frozenset({"description", "tags"})
    produced_fields = frozenset({"content"})
    output_fields = frozenset({"arm_id", "path"})
    # a batch's names are listed one after another: small batches spread the lists over the engine's parallel
    # reads (its parallelism bounds the calls in flight), and the versions of one name usually share a batch
    read_batch = 4

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.kind = self.map.kind
        self.id_format = f"{self.map.folder}/<name>/versions/<version>"

    def _ops(self, ctx: Context) -> Any:
        return getattr(self.conn.ml(ctx), self.collection)

    def _what(self, name: str, version: str | None = None) -> str:
        return f"{self.kind} '{name}" + (f":{version}'" if version is not None else "'")

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    def validate(self, desired: Desired) -> list[Problem]:
        return reserved_problems(desired.spec)

    def _observe(self, entity: Any, archived: bool = False) -> Observed:
        observed: Observed = self.map.observed(entity, self.conn.ws(), archived)
        return observed

    # -- reading ----------------------------------------------------------------------------------------------
    def _get(self, ctx: Context, name: str, version: str) -> Any | None:
        ops = self._ops(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling(f"{self.collection}.get", self._what(name, version)), quiet_sdk():
                return ops.get(name=name, version=version)
        except ResourceNotFoundError:
            return None

    def _list(self, ctx: Context, name: str, view: str = "ActiveOnly") -> list[Any]:
        """Every version of ``name`` in ``view`` (ActiveOnly, ArchivedOnly, All): one paged list call."""
        ops = self._ops(ctx)
        from azure.ai.ml.constants import ListViewType
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling(f"{self.collection}.list", self._what(name)), quiet_sdk():
                return list(ops.list(name=name, list_view_type=ListViewType(view)))
        except ResourceNotFoundError:
            return []

    def _version(self, ctx: Context, name: str, version: str) -> Observed | None:
        entity = self._get(ctx, name, version)
        if entity is None:
            return None
        # azure-ai-ml's entities drop isArchived: an existing version the active list lacks is archived
        active = {str(e.version) for e in self._list(ctx, name)}
        return self._observe(entity, archived=str(entity.version) not in active)

    def read(self, ctx: Context, ident: str) -> Observed | None:
        _folder, name, _v, version = ident.split("/", 3)
        return self._version(ctx, name, version)

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self.lookup_many(ctx, [(name, version)])[0]

    def lookup_many(self, ctx: Context, keys: Sequence[tuple[str, str | None]]) -> list[Observed | None]:
        """One paged list of the active versions per asset name; a version that list lacks (archived, or gone) is
        read on its own."""
        listed = {name: self._list(ctx, name) for name in dict.fromkeys(name for name, _ in keys)}
        out: list[Observed | None] = []
        for name, version in keys:
            versions = {str(e.version): e for e in listed[name]}
            if version is None:
                latest = max(versions, key=_version_key, default=None)
                out.append(self._observe(versions[latest]) if latest is not None else None)
            elif version in versions:
                out.append(self._observe(versions[version]))
            else:
                entity = self._get(ctx, name, version)
                out.append(self._observe(entity, archived=True) if entity is not None else None)
        return out

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        keys: list[tuple[str, str | None]] = []
        for ident in idents:
            _folder, name, _v, version = ident.split("/", 3)
            keys.append((name, version))
        return self.lookup_many(ctx, keys)

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        from mlplan.providers.base import TAG_OPERATION

        for entity in sorted(self._list(ctx, name, "All"), key=lambda e: _version_key(str(e.version)), reverse=True):
            if (entity.tags or {}).get(TAG_OPERATION) == operation:
                return self._version(ctx, name, str(entity.version))
        return None

    # -- writing ----------------------------------------------------------------------------------------------
    def _next_version(self, ctx: Context, name: str) -> str:
        numbers = [int(str(e.version)) for e in self._list(ctx, name, "All") if str(e.version).isdigit()]
        return str(max(numbers, default=0) + 1)

    def create(self, ctx: Context, desired: Desired) -> Observed:
        ops = self._ops(ctx)
        version = desired.version or self._next_version(ctx, desired.name)
        existing = self._version(ctx, desired.name, version) if desired.version else None
        if existing is not None and existing.archived:
            # the same version back in the configuration: restore it (a version cannot be registered twice)
            with calling(f"{self.collection}.restore", self._what(desired.name, version)), quiet_sdk():
                self._ops(ctx).restore(name=desired.name, version=version)
            current = self._version(ctx, desired.name, version)
            assert current is not None
            return self.update(ctx, desired, current)
        entity = self.map.to_entity(Desired(**{**vars(desired), "version": version}), self.conn.ws())
        ctx.check_cancelled(f"registering {self._what(desired.name, version)}")
        with (
            self.conn.uploading(desired_content(desired, self.map.content_fields).values()),
            calling(f"{self.collection}.create_or_update", self._what(desired.name, version)),
            quiet_sdk(),
        ):
            made = ops.create_or_update(entity)
        return self._observe(made)

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        """Only what changes in place (the engine makes a new version for anything else): description, tags,
        stage; mlplan's own tags kept."""
        name, version = current.id.split("/")[1], str(current.version)
        wanted = self.desired_attributes(desired)
        entity = self._get(ctx, name, version)
        if entity is None:
            raise ProviderError(f"{self._what(name, version)} is gone", provider="azure")
        entity.description = wanted.get("description")
        kept = {k: v for k, v in (entity.tags or {}).items() if k in OWNERSHIP_TAGS}
        entity.tags = {**dict(wanted.get("tags") or {}), **kept}
        if "stage" in self.mutable_fields:
            entity.stage = wanted.get("stage")
        with calling(f"{self.collection}.create_or_update", self._what(name, version)), quiet_sdk():
            made = self._ops(ctx).create_or_update(entity)
        return self._observe(made)

    def delete(self, ctx: Context, current: Observed) -> None:
        self.archive(ctx, current)

    def archive(self, ctx: Context, current: Observed) -> None:
        ops = self._ops(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        name, version = current.id.split("/")[1], str(current.version)
        try:
            with calling(f"{self.collection}.archive", self._what(name, version)), quiet_sdk():
                ops.archive(name=name, version=version)
        except ResourceNotFoundError:
            return  # already gone: nothing to archive

    def mark(self, ctx: Context, current: Observed, tags: Mapping[str, str | None]) -> None:
        name, version = current.id.split("/")[1], str(current.version)
        entity = self._get(ctx, name, version)
        if entity is None:
            raise ProviderError(f"{self._what(name, version)} does not exist", provider="azure")
        kept = {k: v for k, v in (entity.tags or {}).items() if k not in tags}
        entity.tags = {**kept, **{k: v for k, v in tags.items() if v is not None}}
        with calling(f"{self.collection}.create_or_update", self._what(name, version)), quiet_sdk():
            self._ops(ctx).create_or_update(entity)


class DataType(AzureAssetType):
    map = DataMap()
    collection = "data"

    def fetch(self, ctx: Context, current: Observed) -> Path:
        """The version's files, downloaded once from its datastore by azure-ai-ml's download code into
        ``.mlplan/cache/azure/data/<name>/<version>`` (a version never changes, so the copy stays right)."""
        name, version = current.id.split("/")[1], str(current.version)
        entity = self._get(ctx, name, version)
        if entity is None:
            raise ProviderError(f"{self._what(name, version)} does not exist", provider="azure")
        ml = self.conn.ml(ctx)
        from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri
        from azure.ai.ml._utils._storage_utils import AzureMLDatastorePathUri

        uri = str(entity.path)
        if not uri.startswith("azureml://"):
            raise ProviderError(
                f"{self._what(name, version)}: only files on a datastore can be read (its path is {uri})",
                provider="azure",
            )
        cache = ctx.root / ".mlplan" / "cache" / "azure" / "data" / name / version
        # azure-ai-ml writes a file under its own name, a folder's files relative to the folder
        remote = AzureMLDatastorePathUri(uri).path.strip("/")
        target = cache / PurePosixPath(remote).name if str(entity.type) == "uri_file" else cache
        if not cache.exists():
            partial = cache.with_name(f"{version}.partial-{threading.get_ident()}")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            ctx.check_cancelled(f"downloading {self._what(name, version)}")
            with calling("datastore download", self._what(name, version)), quiet_sdk():
                download_artifact_from_aml_uri(uri, str(partial), ml.datastores)
            try:
                partial.rename(cache)  # whole or not at all
            except OSError:
                if not cache.exists():
                    raise
                shutil.rmtree(partial, ignore_errors=True)  # another thread's download landed first
        return target


class ModelType(AzureAssetType):
    map = ModelMap()
    collection = "models"
    mutable_fields = frozenset({"description", "tags", "stage"})


class EnvironmentType(AzureAssetType):
    map = EnvironmentMap()
    collection = "environments"
