"""Finding references between resources in Azure ML YAML (``azureml:`` short forms and URIs, a job's output
as ``azureml://jobs/<job>/outputs/<output>``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlplan.core import kinds
from mlplan.engine.address import Address

# Field names whose reference kind is known from the field itself.
FIELD_KINDS = {"compute": "compute", "environment": "environment", "model": "model", "evaluation_data": "data"}
# Kinds for which Azure accepts a bare `azureml:<name>` (no version, no label).
BARE_OK = frozenset({"compute", "online_endpoint", "environment"})

_SHORT = re.compile(r"^azureml:(?!//)([A-Za-z0-9][A-Za-z0-9_.\-]*)(?::([A-Za-z0-9_.\-]+)|@([A-Za-z0-9_\-]+))?$")
_URI_ASSET = re.compile(
    r"^azureml://(?:.*/)?(data|models|environments|computes|onlineEndpoints)/([A-Za-z0-9][A-Za-z0-9_.\-]*)"
    r"(?:/versions/([A-Za-z0-9_.\-]+)|/labels/([A-Za-z0-9_\-]+))?/?$"
)
# A job's output. <job> is a run in the workspace, or a job of the project (then: its run, once it has run).
_URI_JOB_OUTPUT = re.compile(r"^azureml://jobs/([A-Za-z0-9][A-Za-z0-9_.\-]*)/outputs/([A-Za-z0-9_.\-]+)(/.*)?$")
_URI_KINDS = {
    "data": "data",
    "models": "model",
    "environments": "environment",
    "computes": "compute",
    "onlineEndpoints": "online_endpoint",
}


@dataclass(frozen=True, slots=True)
class Reference:
    """A value in a resource's spec that points at another resource."""

    path: tuple[str, ...]
    target: Address
    version: str | None  # "3", "latest", or None (bare)
    raw: str
    registry: bool = False  # azureml://registries/...: never managed by the project
    output: str | None = None  # the job output an azureml://jobs/<job>/outputs/<output> URI names

    @property
    def is_latest(self) -> bool:
        return self.version == "latest"

    def run_template(self) -> str:
        """The URI with its job's run as ``{run}`` (a template for ``str.format``)."""
        prefix = f"azureml://jobs/{self.target.name}/"
        tail = self.raw.removeprefix(prefix).replace("{", "{{").replace("}", "}}")
        return "azureml://jobs/{run}/" + tail


@dataclass(frozen=True, slots=True)
class BadReference:
    path: tuple[str, ...]
    raw: str
    message: str
    hint: str


def _kind_for(path: tuple[str, ...]) -> str | None:
    for part in reversed(path):
        if part in FIELD_KINDS:
            return FIELD_KINDS[part]
        if part.isdigit():
            continue
        if part in ("path", "type", "mode"):
            continue
        break
    if "inputs" in path:
        return "data"
    return None


def parse(value: str, path: tuple[str, ...], typed: str | None = None) -> Reference | BadReference | None:
    """The reference ``value`` makes at ``path``, if any; ``typed``: the kind its sibling ``type:`` says."""
    if not value.startswith("azureml:"):
        return None
    if value.startswith("azureml://jobs/"):
        job = _URI_JOB_OUTPUT.match(value)
        return Reference(path, Address("job", job.group(1)), None, value, output=job.group(2)) if job else None
    if value.startswith("azureml://"):
        m = _URI_ASSET.match(value)
        if not m:
            return None  # datastore paths and other URIs are not resources mlplan manages
        uri_kind = _URI_KINDS[m.group(1)]
        uri_version: str | None = m.group(3) or m.group(4)
        return Reference(path, Address(uri_kind, m.group(2)), uri_version, value, registry="/registries/" in value)
    short = _SHORT.match(value)
    kind = typed or _kind_for(path)
    if not short or kind is None:
        return None
    name: str = short.group(1)
    version: str | None = short.group(2)
    label: str | None = short.group(3)
    if label is not None and label != "latest":
        return BadReference(path, value, f"unsupported label @{label}", "use @latest or an explicit :<version>")
    version = version if version is not None else label
    if version is None and kind not in BARE_OK:
        return BadReference(
            path,
            value,
            f"{value!r} names {kinds.a(kind)} without a version",
            f"write azureml:{name}:<version> or azureml:{name}@latest",
        )
    return Reference(path, Address(kind, name), version, value)


def find(spec: Any, path: tuple[str, ...] = (), typed: str | None = None) -> Iterator[Reference | BadReference]:
    """Every reference in a spec, depth first, in document order (a job input's ``path:`` is of the kind
    its ``type:`` names: a model for ``custom_model``)."""
    found: list[Reference | BadReference] = []
    _collect(spec, path, typed, found)
    return iter(found)


def _collect(spec: Any, path: tuple[str, ...], typed: str | None, out: list[Reference | BadReference]) -> None:
    # Every value of every resource file passes here: only nested values and `azureml:` strings get a key path.
    if isinstance(spec, str):
        ref = parse(spec, path, typed)
        if ref is not None:
            out.append(ref)
    elif isinstance(spec, _NESTED):
        pairs: Iterable[tuple[Any, Any]]
        if isinstance(spec, dict):
            kind = kinds.TYPE_KINDS.get(str(spec.get("type")).lower()) if "inputs" in path else None
            pairs = spec.items()
        else:
            kind, pairs = None, enumerate(spec)
        for k, v in pairs:
            if isinstance(v, _NESTED) or (isinstance(v, str) and v.startswith("azureml:")):
                _collect(v, (*path, str(k)), kind if k == "path" else None, out)


_NESTED = (dict, list)
