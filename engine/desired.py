"""The one way to build what a provider is asked for: a ResourceSpec's references resolved from its
dependencies' results, its local content hashed, its hashes; and, at apply, the plan's DesiredSpec
with its bindings filled and its sensitive values restored, as the provider's ``Desired``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlplan.core import kinds
from mlplan.core.clock import now_iso
from mlplan.core.content import Content, DigestCache, hash_path
from mlplan.engine.address import Address
from mlplan.engine.config import Lifecycle, ResourceSpec, get_dotted
from mlplan.engine.plan import UNKNOWN, Binding, DesiredSpec
from mlplan.engine.references import Reference
from mlplan.providers.base import TAG_ADDRESS, TAG_OPERATION, TAG_PROJECT, Desired, Observed
from mlplan.state.model import ResourceState

# A dependency's result, by which references to it are written: its version, run and id.
Result = Mapping[str, str]


class ContentCache:
    """Hashes each local path once per run."""

    def __init__(self, digests: DigestCache | None = None) -> None:
        self._cache: dict[str, Content] = {}
        self.digests = digests or DigestCache()

    def get(self, path: str | os.PathLike[str]) -> Content:
        key = os.path.normpath(path)  # strings, not resolve() or Path: this runs once per resource
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = hash_path(key, self.digests)
        return found


def content_of(res: ResourceSpec, cache: ContentCache) -> dict[str, Content]:
    out: dict[str, Content] = {}
    for dotted in kinds.PATH_FIELDS.get(res.address.kind, ()):
        value = get_dotted(res.spec, dotted)
        if isinstance(value, str) and not kinds.is_remote(value):
            out[dotted] = cache.get(os.path.join(res.base_dir, value))
    return out


# -- results ------------------------------------------------------------------------------------------------
def result_of(version: str | None, ident: str, outputs: Mapping[str, Any]) -> dict[str, str]:
    return {"version": version or "", "id": ident, "run": str(outputs.get("run") or "")}


def state_result(rs: ResourceState) -> dict[str, str]:
    return result_of(rs.version, rs.id, rs.outputs)


def observed_result(observed: Observed) -> dict[str, str]:
    return result_of(observed.version, observed.id, observed.outputs)


def token_template(kind: str) -> str:
    """How a run records a dependency it counts as an input: the part of its result that names it."""
    facts = kinds.facts(kind)
    if facts.versioned:
        return "{version}"
    return "{run}" if facts.node == "run" else "{id}"


# -- resolution ------------------------------------------------------------------------------------------------
@dataclass
class Resolution:
    """A spec with the references mlplan resolves replaced by concrete values, or UNKNOWN and a binding."""

    spec: dict[str, Any]
    bindings: list[Binding] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    substituted: bool = False  # the spec differs from the one written


def _set_path(doc: Any, path: Iterable[str], value: Any) -> None:
    parts = list(path)
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def resolve(
    res: ResourceSpec,
    refs: Iterable[Reference],
    managed: Callable[[Address], bool],
    result: Callable[[Address], Result | None],
    source_result: Callable[[Reference], Result | None],
    input_deps: Iterable[Address] = (),
) -> Resolution:
    """Resolve ``@latest`` references, references to a job's output (``azureml://jobs/<job>/outputs/<o>``
    becomes its run's) and a run's input tokens.

    ``result(address)`` is a managed dependency's result, None while this plan is still making it (the
    value is then UNKNOWN in the spec and a binding says how apply fills it in); ``source_result(ref)``
    is what a data source resolved to. Explicit versions, bare names, registry URIs and outputs of runs
    in the workspace stay as written.
    """
    out = Resolution(res.spec)
    subs: list[tuple[tuple[str, ...], Any]] = []
    for ref in refs:
        if ref.registry:
            continue
        if ref.output is not None:
            template = ref.run_template()
        elif ref.is_latest:
            template = f"azureml:{ref.target.name}:{{version}}"
        else:
            continue
        if managed(ref.target):
            found = result(ref.target)
            if found is None:
                subs.append((ref.path, UNKNOWN))
                out.bindings.append(Binding(("spec", *ref.path), ref.target, template))
                continue
        elif ref.output is not None:
            continue  # a run of the workspace: named as it is
        else:
            found = source_result(ref)
            if found is None:
                continue
        subs.append((ref.path, template.format(**found)))
    if subs:
        out.spec = copy.deepcopy(res.spec)
        out.substituted = True
        for path, value in subs:
            _set_path(out.spec, path, value)
    for dep in sorted(input_deps):
        template = token_template(dep.kind)
        found = result(dep)
        if found is None:
            out.inputs[str(dep)] = UNKNOWN
            out.bindings.append(Binding(("inputs", str(dep)), dep, template))
        else:
            out.inputs[str(dep)] = template.format(**found)
    return out


def fill(doc: dict[str, Any], bindings: Iterable[Binding], results: Mapping[Address, Result]) -> dict[str, Any]:
    """``doc`` (a DesiredSpec document) with its bindings filled from the dependencies' results."""
    bindings = list(bindings)
    if not bindings:
        return doc
    out = copy.deepcopy(doc)
    for b in bindings:
        _set_path(out, b.path, b.template.format(**results[b.source]))
    return out


# -- hashes --------------------------------------------------------------------------------------------------
def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def content_key(digests: Mapping[str, str]) -> str:
    """The digests of a resource's local content, as its hashes see them."""
    return "\0".join(f"{k}={digests[k]}" for k in sorted(digests))


_LIFECYCLE_FIELDS = tuple(f.name for f in dataclasses.fields(Lifecycle))


def lifecycle_key(lifecycle: Lifecycle) -> str:
    return "\0".join(f"{name}={getattr(lifecycle, name)!r}" for name in _LIFECYCLE_FIELDS)


def dumps(value: Any) -> str:
    """JSON as every hash of mlplan sees it."""
    return json.dumps(value, sort_keys=True, default=str)


def input_hash(spec_json: str, content: str, inputs: Mapping[str, str]) -> str:
    """What determines the resource as apply makes it: its resolved spec (as ``dumps`` writes it), its
    files (``content_key``) and the results of its inputs."""
    return _digest("input", spec_json, content, dumps(dict(inputs)) if inputs else "{}")


def document_hash(doc: Mapping[str, Any]) -> str:
    """``input_hash`` of a DesiredSpec document (apply computes it once bindings are filled)."""
    return input_hash(dumps(doc["spec"]), content_key(doc["content"]), doc["inputs"])


def config_hash(spec_json: str, content: str, lifecycle: Lifecycle) -> str:
    """What the configuration says of the resource, whatever its dependencies became: a saved plan
    is stale when this moved."""
    return _digest("config", spec_json, content, lifecycle_key(lifecycle))


def written_json(res: ResourceSpec, scrub: Callable[[Any], Any] | None) -> str:
    """The spec as written (interpolated), sensitive values as markers, as the hashes see it."""
    return dumps(scrub(res.spec) if scrub is not None else res.spec)


def config_hash_of(res: ResourceSpec, cache: ContentCache, scrub: Callable[[Any], Any] | None) -> str:
    content = {k: c.digest for k, c in content_of(res, cache).items()}
    return config_hash(written_json(res, scrub), content_key(content), res.lifecycle)


# -- the provider's Desired ------------------------------------------------------------------------------------
def ownership_tags(project: str, address: Address, op_id: str) -> dict[str, str]:
    return {TAG_PROJECT: project, TAG_ADDRESS: str(address), TAG_OPERATION: op_id}


def make_desired(
    address: Address,
    spec: dict[str, Any],
    base_dir: Path,
    subtype: str | None,
    content: Mapping[str, str],
    project: str,
    tags: dict[str, str] | None = None,
) -> Desired:
    version = spec.get("version")
    return Desired(
        kind=address.kind,
        name=address.name,
        spec=spec,
        base_dir=base_dir,
        subtype=subtype,
        version=str(version) if version is not None and address.kind in kinds.VERSIONED_KINDS else None,
        content=dict(content),
        tags=tags or {},
        project=project,
    )


MAX_FILES = 1000  # per path field: beyond that, state keeps only the digest


def desired_spec(
    res: ResourceSpec, root: Path, spec: dict[str, Any], content: Mapping[str, Content], inputs: Mapping[str, str]
) -> DesiredSpec:
    version = spec.get("version")
    return DesiredSpec(
        spec=spec,
        base_dir=os.path.relpath(res.base_dir, root),
        subtype=res.subtype,
        version=str(version) if version is not None and res.address.kind in kinds.VERSIONED_KINDS else None,
        content={k: c.digest for k, c in content.items()},
        files={k: c.files for k, c in content.items() if len(c.files) <= MAX_FILES},
        inputs=dict(inputs),
        produced=res.produced_by is not None,
    )


def from_plan(
    address: Address, ds: DesiredSpec, spec: dict[str, Any], root: Path, project: str, tags: dict[str, str]
) -> Desired:
    """The provider's Desired for a planned DesiredSpec whose spec was filled and restored."""
    return make_desired(address, spec, root / ds.base_dir, ds.subtype, ds.content, project, tags)


# -- state <-> provider ------------------------------------------------------------------------------------------
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
