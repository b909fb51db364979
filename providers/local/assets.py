"""Local data assets, models and environments: immutable, numbered versions of copied files."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mlplan.core.clock import now_iso
from mlplan.core.content import hash_path, list_files
from mlplan.core.errors import ProviderError
from mlplan.core.kinds import is_remote
from mlplan.providers.base import (
    OWNERSHIP_TAGS,
    TAG_OPERATION,
    Context,
    Desired,
    Observed,
    Problem,
    ResourceType,
)
from mlplan.providers.local.packages import install_hint, unmet, wanted
from mlplan.providers.local.paths import JOB_OUTPUT, asset_path, resolve
from mlplan.providers.local.workspace import (
    META,
    Staging,
    copy_into,
    read_json,
    remove_tree,
    workspace_root,
    write_json_atomic,
)

NOT_LOCAL = "not supported by the local provider"


def user_tags(tags: dict[str, str] | None) -> dict[str, str]:
    return {k: str(v) for k, v in (tags or {}).items() if k not in OWNERSHIP_TAGS}


class AssetType(ResourceType):
    """A versioned asset stored as ``<folder>/<name>/<version>/{asset.json, files/}``."""

    can_delete_versions = True
    produced_fields = frozenset({"content"})
    output_fields = frozenset({"path", "created_at"})
    folder = ""
    mutable_fields = frozenset({"description", "tags"})
    # spec fields that name local content: field -> sub-folder under files/
    content_fields: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    fields: tuple[str, ...] = ()

    # -- desired ----------------------------------------------------------------------------
    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        out: dict[str, Any] = {}
        for f in self.fields:
            value = spec.get(f, self.defaults.get(f))
            if f == "tags":
                value = user_tags(value)
            out[f] = value
        out["content"] = {f: desired.content[f] for f in sorted(self.content_fields) if f in desired.content}
        return out

    def validate(self, desired: Desired) -> list[Problem]:
        problems = []
        for f in self.content_fields:
            value = _dotted(desired.spec, f)
            if isinstance(value, str) and is_remote(value) and not JOB_OUTPUT.match(value):
                problems.append(
                    Problem(
                        tuple(f.split(".")),
                        f"{f}: remote path {value!r} is {NOT_LOCAL}",
                        "use a local file or folder path for the local environment (remote paths work on azure)",
                    )
                )
        return problems

    # -- storage ----------------------------------------------------------------------------
    def _base(self, ctx: Context, name: str) -> Path:
        return workspace_root(ctx) / self.folder / name

    def _versions(self, ctx: Context, name: str) -> list[str]:
        base = self._base(ctx, name)
        if not base.is_dir():
            return []
        found = [p.name for p in base.iterdir() if not p.name.startswith(".") and (p / META).is_file()]
        return sorted(found, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))

    def _ident(self, name: str, version: str) -> str:
        return f"{self.folder}/{name}/versions/{version}"

    def _observe(self, ctx: Context, name: str, version: str) -> Observed | None:
        folder = self._base(ctx, name) / version
        meta = read_json(folder / META)
        if meta is None:
            return None
        attrs: dict[str, Any] = {f: meta.get(f) for f in self.fields}
        attrs["tags"] = user_tags(meta.get("tags"))
        content: dict[str, str] = {}
        for f, sub in sorted(self.content_fields.items()):
            stored = meta.get("stored", {}).get(f)
            if stored is None:
                continue
            target = folder / "files" / sub / stored
            content[f] = hash_path(target).digest if target.exists() else "(missing)"
        attrs["content"] = content
        return Observed(
            id=self._ident(name, version),
            attributes=attrs,
            version=version,
            tags=dict(meta.get("tags") or {}),
            outputs={"path": str(folder / "files"), "created_at": meta.get("created_at")},
            archived=bool(meta.get("archived")),
        )

    def read(self, ctx: Context, ident: str) -> Observed | None:
        _folder, name, _v, version = ident.split("/", 3)
        return self._observe(ctx, name, version)

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        if version is not None:
            return self._observe(ctx, name, version)
        for v in reversed(self._versions(ctx, name)):
            found = self._observe(ctx, name, v)
            if found is not None and not found.archived:
                return found
        return None

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        for v in reversed(self._versions(ctx, name)):
            found = self._observe(ctx, name, v)
            if found is not None and found.tags.get("mlplan.operation") == operation:
                return found
        return None

    def discard(self, ctx: Context, name: str, operation: str) -> None:
        Staging.discard_for(workspace_root(ctx), operation)

    def _next_version(self, ctx: Context, name: str) -> str:
        numbers = [int(v) for v in self._versions(ctx, name) if v.isdigit()]
        return str(max(numbers, default=0) + 1)

    def _write(self, ctx: Context, desired: Desired, version: str, replace: bool) -> Observed:
        root = workspace_root(ctx)
        staging = Staging(root, desired.tags.get(TAG_OPERATION, ""))
        try:
            stored: dict[str, str] = {}
            for f, sub in self.content_fields.items():
                value = _dotted(desired.spec, f)
                if not isinstance(value, str):
                    continue
                src = resolve(ctx, value, desired.base_dir)
                dest = staging.dir / "files" / sub
                if src.is_file():
                    copy_into(src, dest)
                    stored[f] = src.name
                else:
                    copy_into(src, dest / src.name, list_files(src))
                    stored[f] = src.name
            meta = dict(self.desired_attributes(desired))
            meta.pop("content", None)
            meta.update(
                name=desired.name,
                version=version,
                tags={**user_tags(desired.spec.get("tags")), **desired.tags},
                stored=stored,
                created_at=now_iso(),
                archived=False,
            )
            write_json_atomic(staging.dir / META, meta)
            staging.commit(self._base(ctx, desired.name) / version, replace=replace)
        except BaseException:
            staging.discard()
            raise
        observed = self._observe(ctx, desired.name, version)
        assert observed is not None
        return observed

    def create(self, ctx: Context, desired: Desired) -> Observed:
        version = desired.version or self._next_version(ctx, desired.name)
        existing = self._observe(ctx, desired.name, version) if desired.version else None
        # an archived version back in the configuration is written again: restored
        return self._write(ctx, desired, version, replace=existing is not None and existing.archived)

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        version = desired.version or current.version or self._next_version(ctx, desired.name)
        folder = self._base(ctx, desired.name) / version
        meta = read_json(folder / META)
        wanted = self.desired_attributes(desired)
        if meta is not None and (current.attributes.get("content") == wanted.get("content")):
            # only mutable fields changed: edit the metadata in place
            meta.update({f: wanted.get(f) for f in self.mutable_fields})
            meta["tags"] = {
                **user_tags(wanted.get("tags")),
                **{k: v for k, v in (meta.get("tags") or {}).items() if k in OWNERSHIP_TAGS},
            }
            write_json_atomic(folder / META, meta)
            observed = self._observe(ctx, desired.name, version)
            assert observed is not None
            return observed
        return self._write(ctx, desired, version, replace=True)

    def delete(self, ctx: Context, current: Observed) -> None:
        if current.version is not None:
            remove_tree(self._base(ctx, current.id.split("/")[1]) / current.version)

    def mark(self, ctx: Context, current: Observed, tags: Mapping[str, str | None]) -> None:
        folder = self._base(ctx, current.id.split("/")[1]) / str(current.version)
        meta = read_json(folder / META)
        if meta is None:
            raise ProviderError(f"{current.id} does not exist")
        kept = {k: v for k, v in (meta.get("tags") or {}).items() if k not in tags}
        meta["tags"] = {**kept, **{k: v for k, v in tags.items() if v is not None}}
        write_json_atomic(folder / META, meta)

    def archive(self, ctx: Context, current: Observed) -> None:
        name = current.id.split("/")[1]
        folder = self._base(ctx, name) / str(current.version)
        meta = read_json(folder / META)
        if meta is not None:
            meta["archived"] = True
            write_json_atomic(folder / META, meta)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=256)
def _missing_for_file(path: str, mtime_ns: int, size: int) -> list[str]:
    """What a conda file lists that this interpreter lacks; once per file version (environments share them)."""
    # libyaml's loader: the pure-Python one costs ~1 ms a file
    loaded = yaml.load(Path(path).read_text(encoding="utf-8", errors="replace"), Loader=_LOADER)
    return unmet(wanted(loaded)) if isinstance(loaded, dict) else []


def conda_problems(spec: dict[str, Any], base_dir: Path, where: tuple[str, ...]) -> list[Problem]:
    """A warning naming the packages an environment's conda file lists that the interpreter running local
    jobs and deployments lacks (``where``: the environment's path in the spec, for an inline one)."""
    conda = spec.get("conda_file")
    if isinstance(conda, str) and not is_remote(conda):
        path = base_dir / conda
        try:
            st = path.stat()
        except OSError:
            return []  # the loader reports a missing file
        missing = _missing_for_file(os.path.normpath(path), st.st_mtime_ns, st.st_size)
    else:  # an inline conda specification
        missing = unmet(wanted(conda)) if isinstance(conda, dict) else []
    if not missing:
        return []
    return [
        Problem(
            (*where, "conda_file"),
            f"the local provider runs jobs and deployments with {sys.executable}, which lacks what the conda"
            f" file asks for: {', '.join(missing)}",
            install_hint(missing),
            warning=True,
        )
    ]


def _dotted(spec: dict[str, Any], dotted: str) -> Any:
    node: Any = spec
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


class DataType(AssetType):
    kind = "data"
    folder = "data"
    id_format = "data/<name>/versions/<version>"
    content_fields = {"path": "path"}
    fields = ("type", "description", "tags", "properties")
    defaults = {"type": "uri_folder", "properties": {}}

    def fetch(self, ctx: Context, current: Observed) -> Path:
        """The workspace's copy of this version's files: no download, nothing to cancel."""
        name = current.id.split("/")[1]
        found = asset_path(ctx, "data", name, str(current.version))
        if not found.exists():
            raise ProviderError(f"data asset {name}:{current.version} has no files in the local workspace ({found})")
        return found


class ModelType(AssetType):
    kind = "model"
    folder = "models"
    id_format = "models/<name>/versions/<version>"
    content_fields = {"path": "path"}
    fields = ("type", "description", "tags", "properties", "stage", "flavors")
    defaults = {"type": "custom_model", "properties": {}}
    mutable_fields = frozenset({"description", "tags", "stage"})


class EnvironmentType(AssetType):
    kind = "environment"
    folder = "environments"
    id_format = "environments/<name>/versions/<version>"
    content_fields = {"conda_file": "conda", "build.path": "build"}
    fields = ("image", "build", "os_type", "inference_config", "description", "tags", "conda")
    defaults = {"os_type": "linux"}

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out = super().desired_attributes(desired)
        build = desired.spec.get("build")
        # the build context is content; only dockerfile_path is an attribute
        out["build"] = (
            {"dockerfile_path": build.get("dockerfile_path", "Dockerfile")} if isinstance(build, dict) else None
        )
        conda = desired.spec.get("conda_file")
        out["conda"] = conda if isinstance(conda, dict) else None  # inline conda spec
        return out

    def validate(self, desired: Desired) -> list[Problem]:
        problems = super().validate(desired) + conda_problems(desired.spec, desired.base_dir, ())
        if desired.spec.get("image") and desired.spec.get("build"):
            problems.append(
                Problem(
                    ("build",),
                    "an environment has either image or build, not both",
                    "remove image: or build:",
                )
            )
        if not desired.spec.get("image") and not desired.spec.get("build"):
            problems.append(
                Problem(
                    ("image",),
                    "an environment needs image: or build:",
                    "add image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04 (for example)",
                )
            )
        return problems

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        if name.startswith(("AzureML-", "azureml://registries/")):
            # Curated and registry environments exist for every workspace; the local provider does not
            # build images (jobs and deployments run with mlplan's interpreter), so it takes them as given.
            return Observed(id=f"curated/{name}", attributes={"curated": True}, version=version or "latest")
        return super().lookup(ctx, name, version)
