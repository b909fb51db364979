"""Turning a ResourceSpec into the provider's Desired: references resolved, local content hashed."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlplan.core import kinds
from mlplan.core.clock import now_iso
from mlplan.core.content import Content, DigestCache, hash_path
from mlplan.engine.address import Address
from mlplan.engine.config import RUN_PLACEHOLDER, ResourceSpec, get_dotted
from mlplan.engine.plan import UNKNOWN
from mlplan.engine.references import Reference
from mlplan.providers.base import TAG_ADDRESS, TAG_OPERATION, TAG_PROJECT, Desired, Observed
from mlplan.state.model import ResourceState


class ContentCache:
    """Hashes each local path once per run."""

    def __init__(self, digests: DigestCache | None = None) -> None:
        self._cache: dict[str, Content] = {}
        self.digests = digests or DigestCache()

    def get(self, path: Path) -> Content:
        key = os.path.normpath(path)  # not resolve(): this runs once per resource
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = hash_path(Path(key), self.digests)
        return found


def content_of(res: ResourceSpec, cache: ContentCache) -> dict[str, Content]:
    out: dict[str, Content] = {}
    for dotted in kinds.PATH_FIELDS.get(res.address.kind, ()):
        value = get_dotted(res.spec, dotted)
        if isinstance(value, str) and not kinds.is_remote(value):
            out[dotted] = cache.get(Path(os.path.join(res.base_dir, value)))
    return out


def _set_path(spec: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = spec
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def resolve_references(
    spec: dict[str, Any], refs: list[Reference], versions: Mapping[Address, str | None]
) -> dict[str, Any]:
    """Replace ``@latest`` (and versions of managed assets) by concrete ones; UNKNOWN when not known yet.

    ``versions`` maps a referenced address to its concrete version (None: not known until apply).
    References whose target is not in ``versions`` are left as written.
    """
    if not any(ref.is_latest and ref.target in versions and not ref.registry for ref in refs):
        return spec  # nothing to substitute: no copy
    out = copy.deepcopy(spec)
    for ref in refs:
        if ref.target not in versions or ref.version is None or ref.registry:
            continue
        version = versions[ref.target]
        if not ref.is_latest:
            continue  # an explicit version stays what the user wrote
        value = UNKNOWN if version is None else f"azureml:{ref.target.name}:{version}"
        _set_path(out, ref.path, value)
    return out


def resolve_run(spec: dict[str, Any], producer: Address, state: Any) -> dict[str, Any]:
    """A produced asset's path names the producing job's run (``azureml://jobs/<run>/outputs/<o>``)."""
    rs = state.resources.get(str(producer))
    run = rs.outputs.get("run") if rs is not None else None
    placeholder = RUN_PLACEHOLDER % producer
    path = spec.get("path")
    if not isinstance(path, str) or placeholder not in path:
        return spec
    return {**spec, "path": path.replace(placeholder, str(run) if run else UNKNOWN)}


def observed_of(rs: ResourceState) -> Observed:
    """What state last saw of a resource, in the provider's terms."""
    return Observed(rs.id, rs.attributes, rs.version, rs.tags, rs.outputs, rs.secrets)


def state_of(address: Address, provider: str, observed: Observed, **extra: Any) -> ResourceState:
    """A state entry for what a provider reports; ``extra`` sets the engine's own fields."""
    now = now_iso()
    fields: dict[str, Any] = {"created_at": now, "updated_at": now, **extra}
    return ResourceState(
        address=str(address),
        kind=address.kind,
        id=observed.id,
        provider=provider,
        version=observed.version,
        attributes=observed.attributes,
        outputs=observed.outputs,
        secrets=observed.secrets,
        tags=observed.tags,
        **fields,
    )


def ownership_tags(project: str, address: Address, op_id: str) -> dict[str, str]:
    return {TAG_PROJECT: project, TAG_ADDRESS: str(address), TAG_OPERATION: op_id}


def make_desired(
    res: ResourceSpec,
    spec: dict[str, Any],
    content: Mapping[str, Content],
    tags: dict[str, str] | None = None,
    project: str = "",
) -> Desired:
    version = spec.get("version")
    return Desired(
        kind=res.address.kind,
        name=res.address.name,
        spec=spec,
        base_dir=res.base_dir,
        subtype=res.subtype,
        version=str(version) if version is not None and res.address.kind in kinds.VERSIONED_KINDS else None,
        content={k: c.digest for k, c in content.items()},
        tags=tags or {},
        project=project,
    )


def input_hash(res: ResourceSpec, content: Mapping[str, Content], dep_hashes: list[str]) -> str:
    """Everything that determines the resource: its written spec, its files, its dependencies' inputs."""
    h = hashlib.sha256()
    h.update(json.dumps(res.spec, sort_keys=True, default=str).encode())
    for k in sorted(content):
        h.update(f"\0{k}={content[k].digest}".encode())
    for d in sorted(dep_hashes):
        h.update(f"\0dep={d}".encode())
    return h.hexdigest()[:32]
