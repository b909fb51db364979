"""What every kind's mapping shares: what mlplan writes on a resource besides the user's spec, references as
mlplan compares them, and building an azure-ai-ml entity the way ``az ml <kind> create -f`` does.

mlplan's own marks on a resource (all under the ``mlplan.`` prefix, never a user's tag or property, never
compared as one):

- the ownership tags (``providers.base``: project, address, operation; the champion) in the resource's tags;
- ``mlplan.content.<field>``: the digest of the local files a field names (``path``, ``code``, ...) as mlplan
  hashed them before the SDK uploaded them: in the properties of an immutable asset version or job (where Azure
  keeps them with the version), in the tags of a resource that changes in place (an online deployment, an ARM
  deployment). Azure reports uploaded content by its storage URI, which says nothing comparable.
- ``mlplan.secret.<field>``: ``secret_hash`` of a secret the spec holds (a compute's admin password), which Azure
  never returns: enough to see that it changed, useless to anyone reading the tags.
- ``mlplan.inline.<field>``: the asset an inline model or environment of a deployment was registered as; while the
  deployment still uses it, ``read`` reports the field as ``(inline)``, as ``desired_attributes`` does.

Keys azure-ai-ml or the service write under ``azureml.`` are the service's, not the user's, and are left out too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import Desired, Problem

MLPLAN = "mlplan."
SERVICE = "azureml."
CONTENT = "mlplan.content."
SECRET = "mlplan.secret."
INLINE_MARK = "mlplan.inline."
INLINE = "(inline)"  # what an inline model or environment of a deployment or job compares as
KNOWN_LATER = "(known after apply)"  # the engine's placeholder (engine.plan.UNKNOWN) for a value only apply knows


def user_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """The user's tags: without mlplan's marks (ownership, content, secrets) and the service's."""
    return {str(k): str(v) for k, v in (tags or {}).items() if not str(k).startswith((MLPLAN, SERVICE))}


user_properties = user_tags


def reserved_problems(spec: Mapping[str, Any]) -> list[Problem]:
    """A user's tag or property under mlplan's prefix would be taken for one of mlplan's marks (and rewritten)."""
    problems = []
    for field in ("tags", "properties"):
        values = spec.get(field)
        for key in values if isinstance(values, Mapping) else ():
            if str(key).startswith(MLPLAN):
                problems.append(
                    Problem(
                        (field, str(key)),
                        f"{field}: {key!r} is under {MLPLAN}, which mlplan keeps for its own marks (ownership,"
                        " content digests) on what it creates",
                        f"rename the {field[:-1] if field == 'tags' else 'property'} (any prefix but {MLPLAN})",
                    )
                )
    return problems


def content_marks(desired: Desired, fields: Iterable[str] | None = None) -> dict[str, str]:
    """``mlplan.content.<field>: digest`` for the local content ``desired`` has (of ``fields``, else all)."""
    wanted = set(fields) if fields is not None else None
    return {CONTENT + f: d for f, d in sorted(desired.content.items()) if wanted is None or f in wanted}


def marked_content(marks: Mapping[str, Any] | None) -> dict[str, str]:
    """The content digests among a resource's tags or properties (``content_marks`` read back)."""
    return {str(k)[len(CONTENT) :]: str(v) for k, v in sorted((marks or {}).items()) if str(k).startswith(CONTENT)}


def desired_content(desired: Desired, fields: Iterable[str] | None = None) -> dict[str, str]:
    wanted = set(fields) if fields is not None else None
    return {f: d for f, d in sorted(desired.content.items()) if wanted is None or f in wanted}


def inline_digest(desired: Desired, field: str) -> str:
    """One digest for an inline model or environment: its spec and the files it names."""
    files = {k: v for k, v in sorted(desired.content.items()) if k.startswith(field + ".")}
    text = json.dumps({"spec": desired.spec.get(field), "files": files}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def is_local(path: Any) -> bool:
    """A path azure-ai-ml uploads from the machine (not a URI, not an asset reference, not a value the plan leaves
    to apply: a reference to what the same apply makes)."""
    return isinstance(path, str) and "://" not in path and not path.startswith("azureml:") and path != KNOWN_LATER


# -- references ----------------------------------------------------------------------------------------------------
_ARM_ASSET = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
    r"/(?P<folder>models|data|environments|codes|components)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$",
    re.IGNORECASE,
)
_ARM_COMPUTE = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
    r"/computes/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
# azure-ai-ml's data-plane form of a workspace asset
_LOCATION_ASSET = re.compile(
    r"^azureml://locations/[^/]+/workspaces/[^/]+/(?P<folder>models|data|environments)/(?P<name>[^/]+)"
    r"/versions/(?P<version>[^/]+)$",
    re.IGNORECASE,
)
_LONG_DATASTORE = re.compile(
    r"^azureml://subscriptions/[^/]+/resourcegroups/[^/]+/(?:providers/Microsoft\.MachineLearningServices/)?"
    r"workspaces/[^/]+/datastores/(?P<rest>.+)$",
    re.IGNORECASE,
)
_SHORT_ASSET = re.compile(r"^(?:azureml:)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*):(?P<version>[^:/@]+)$")


def asset_ref(value: Any) -> Any:
    """A workspace asset reference as mlplan compares it, ``azureml:<name>:<version>``, whatever form Azure or
    azure-ai-ml wrote it in (an ARM id, ``name:version``, the data-plane ``azureml://locations/...`` form).
    Registry URIs, ``@latest`` (resolved before a provider sees it), other values and ``(known after apply)`` pass
    unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith("azureml:/subscriptions/"):  # how azure-ai-ml writes a job input's asset
        value = value.removeprefix("azureml:")
    for pattern in (_ARM_ASSET, _LOCATION_ASSET, _SHORT_ASSET):
        m = pattern.match(value)
        if m is not None:
            return f"azureml:{m.group('name')}:{m.group('version')}"
    return value


def compute_ref(value: Any) -> Any:
    """A compute as mlplan compares it: its name (``azureml:cpu``, an ARM id and ``cpu`` are all ``cpu``)."""
    if not isinstance(value, str):
        return value
    m = _ARM_COMPUTE.match(value)
    if m is not None:
        return m.group("name")
    return value.removeprefix("azureml:")


def data_uri(value: Any) -> Any:
    """A datastore URI in its short form (``azureml://datastores/<ds>/paths/<p>``): the service answers with the
    long form that names the subscription, resource group and workspace."""
    if not isinstance(value, str):
        return value
    m = _LONG_DATASTORE.match(value)
    return f"azureml://datastores/{m.group('rest')}" if m is not None else asset_ref(value)


def subnet_id(network: Mapping[str, Any] | None, ws: Workspace) -> str | None:
    """A compute's subnet as an ARM id, lower case (ARM ids are case-insensitive and Azure does not always keep
    the case it was given): ``{vnet_name, subnet}`` is in the workspace's resource group, as azure-ai-ml makes it."""
    if not network:
        return None
    subnet, vnet = network.get("subnet"), network.get("vnet_name")
    if not subnet:
        return None
    if vnet and not str(subnet).startswith("/"):
        subnet = (
            f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
            f"/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}"
        )
    return str(subnet).lower()


def identity(value: Any) -> dict[str, Any] | None:
    """A managed identity as mlplan compares it: its type (snake case) and the user-assigned identities' ids
    (sorted, lower case); the principal and tenant ids Azure fills in are not configuration."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        value = value._to_dict() if hasattr(value, "_to_dict") else vars(value)
    kind = snake(str(value.get("type") or "")) or None
    users = value.get("user_assigned_identities") or []
    ids: list[str] = []
    for u in users if isinstance(users, list) else [{"resource_id": k} for k in users]:
        rid = u.get("resource_id") if isinstance(u, Mapping) else getattr(u, "resource_id", None)
        if rid:
            ids.append(str(rid).lower())
    return {"type": kind, "user_assigned_identities": sorted(ids)}


def snake(text: str) -> str:
    """``SystemAssigned`` / ``system_assigned`` -> ``system_assigned``; ``LowPriority`` -> ``low_priority``;
    ``SystemAssigned, UserAssigned`` -> ``system_assigned,user_assigned``."""
    parts = (re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", p.strip()).lower() for p in text.split(","))
    return ",".join(p for p in parts if p)


def text(value: Any) -> Any:
    """An SDK enum's value (``PublicNetworkAccessType.ENABLED`` -> ``Enabled``), other values unchanged."""
    return getattr(value, "value", value)


def strings(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted((mapping or {}).items())}


# -- entities ---------------------------------------------------------------------------------------------------
_REDIRECT_LOCK = threading.Lock()


def load_entity(loader_name: str, spec: Mapping[str, Any], base_dir: Path) -> Any:
    """An azure-ai-ml entity from a resolved spec, through the loader ``az ml <kind> create -f`` uses (local paths
    relative to the resource file's folder, as azure-ai-ml resolves them); the SDK's notices are kept quiet."""
    import yaml

    text = yaml.safe_dump({k: v for k, v in spec.items() if k != "$schema"}, sort_keys=False)
    sink = io.StringIO()
    # redirect_stdout swaps the process's sys.stdout: two threads interleaving it would leave it on a sink
    with _REDIRECT_LOCK, redirect_stdout(sink), redirect_stderr(sink), quiet_sdk():
        import azure.ai.ml as aml

        loader = getattr(aml, loader_name)
        try:
            return loader(source=io.StringIO(text), relative_origin=str(base_dir / "mlplan-desired.yml"))
        except Exception as exc:  # the loaders raise marshmallow, validation and OS errors alike
            raise ProviderError(f"azure-ai-ml cannot load this spec: {exc}", provider="azure") from None


class _Quiet:
    """What ``quiet_sdk`` silences is process-wide (``logging.disable``, the warning filters) while its callers are
    threads of one refresh or apply that overlap: so it is counted. The first caller in silences, the last one out
    restores; nesting and overlapping calls cost a counter (``logging.disable`` walks every logger's cache, about
    a millisecond with azure's loggers, once per call otherwise), and no thread restores the state another one saved
    while a third is still inside (which left logging disabled for good)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.previous = 0
        self.filters: Any = None

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.previous = logging.root.manager.disable
                logging.disable(logging.WARNING)
                self.filters = warnings.catch_warnings()
                self.filters.__enter__()
                warnings.simplefilter("ignore")
            self.depth += 1

    def exit(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                self.filters.__exit__(None, None, None)
                logging.disable(self.previous)


_QUIET = _Quiet()


@contextlib.contextmanager
def quiet_sdk() -> Iterator[None]:
    """Without azure-ai-ml's warnings and log lines (experimental classes, deprecations); thread-safe (``_Quiet``)."""
    _QUIET.enter()
    try:
        yield
    finally:
        _QUIET.exit()
