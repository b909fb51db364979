"""The provider contract: how the engine reads, creates, updates and deletes resources of one kind.

Providers know resources, not plans: they never see or name plan actions, and they answer the
engine with data (the attributes a resource would have, a ``Diff`` naming what changed and what
cannot change in place, what they observed). They build on ``mlplan.core`` alone.

Long waits honour ``Context.cancelled`` (Ctrl-C twice); a provider whose operation outlives the
call (an Azure long-running operation) journals its token with ``Context.checkpoint`` so that the
next run resumes it (``poll`` / ``wait``) instead of searching for it by ownership tags.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlplan.core.diffing import FieldChange, field_changes
from mlplan.core.errors import MlplanError, ProviderError
from mlplan.core.suggest import did_you_mean

# Ownership tags stamped on everything mlplan creates; used to adopt after a crash.
TAG_PROJECT = "mlplan.project"
TAG_ADDRESS = "mlplan.address"
TAG_OPERATION = "mlplan.operation"
# The champion of a promotion policy: the model version the governed deployments serve (engine/nodes/promotion.py)
TAG_CHAMPION = "mlplan.champion"
# A run's input hash, stamped on the run when it is submitted: a run adopted after a crash (its apply died before
# recording it) is recorded with the inputs it ran with, so the next plan does not train again
TAG_INPUTS = "mlplan.inputs"
# Tags mlplan writes itself: never a user's tags, never compared with the spec, kept by updates
OWNERSHIP_TAGS = (TAG_PROJECT, TAG_ADDRESS, TAG_OPERATION, TAG_CHAMPION, TAG_INPUTS)


@functools.lru_cache(maxsize=256)
def secret_hash(value: str, salt: str = "") -> str:
    """What state and plans keep of a secret a person chose (a password, a sensitive variable or
    output): enough to detect a change. scrypt is memory-hard and takes ~30 ms, and ``salt`` (the
    project) makes every guess specific to one project, so a weak secret cannot be looked up or
    cheaply guessed from a copy of state or a PR comment. Generated keys use ``token_hash``."""
    digest = hashlib.scrypt(value.encode(), salt=f"mlplan/1/{salt}".encode(), n=2**14, r=8, p=1, dklen=16)
    return "scrypt:" + digest.hex()


def token_hash(value: str) -> str:
    """What is kept of a generated high-entropy key (an endpoint key): fast, checked per request."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def run_name(name: str, operation: str) -> str:
    """The name of one run of the job ``name``: Azure ML job names are unique in a workspace and a job never runs
    twice, so each run (each operation) gets its own; the same in every provider, so that a crash is reconciled by
    name."""
    return f"{name}-{operation[:8]}"


@dataclass(frozen=True, slots=True)
class Problem:
    """A provider's objection to a desired spec; the engine adds file, line and address. A ``warning``
    does not stop the plan: it is shown with it (and in the PR comment)."""

    path: tuple[str, ...]
    message: str
    hint: str | None = None
    warning: bool = False


def check_fields(spec: dict[str, Any], rules: dict[str, type]) -> list[Problem]:
    """What a provider needs of the fields it honours beyond what azure-ai-ml accepts (engine/speccheck checks
    that): ``{field: int}`` a whole number >= 0 written as a number, ``{field: bool}`` true or false."""
    problems = []
    for name, rule in rules.items():
        if name not in spec or spec[name] is None:
            continue
        value = spec[name]
        if rule is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(Problem((name,), f"{name}: {value!r} is not a whole number >= 0", None))
        elif rule is bool and not isinstance(value, bool):
            problems.append(Problem((name,), f"{name}: {value!r} is not true or false", None))
    return [
        Problem(p.path, p.message, "fix the value as the Azure ML CLI v2 YAML reference describes") for p in problems
    ]


# A command's binding of a job's input or output: ${{inputs.<name>}} / ${{outputs.<name>}}
BINDING = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")


def binding_problems(spec: Mapping[str, Any]) -> list[Problem]:
    """A job's ``command`` binding an input or output the job does not declare: refused at plan time (azure-ai-ml
    refuses it only when the job is submitted, and a local run would fail), with the closest declared name."""
    command = spec.get("command")
    inputs, outputs = spec.get("inputs") or {}, spec.get("outputs") or {}
    problems = []
    for m in BINDING.finditer(command if isinstance(command, str) else ""):
        group, name = m.group(1), m.group(2)
        declared = inputs if group == "inputs" else outputs
        if name not in declared:
            problems.append(
                Problem(
                    ("command",),
                    f"command uses ${{{{{group}.{name}}}}} but {group} has no {name!r}" + did_you_mean(name, declared),
                    f"declare {name} under {group}: or fix the binding",
                )
            )
    return problems


@dataclass
class Desired:
    """What the engine wants a resource to be, with references resolved as far as known."""

    kind: str
    name: str
    spec: dict[str, Any]
    base_dir: Path
    subtype: str | None = None
    version: str | None = None  # explicit version; None lets the provider choose the next one
    content: dict[str, str] = field(default_factory=dict)  # path field -> digest of local content
    tags: dict[str, str] = field(default_factory=dict)  # ownership tags to stamp
    project: str = ""  # the mlplan project (salts secret_hash)


@dataclass
class Observed:
    """A resource as it really is. ``attributes`` are comparable with ``desired_attributes``."""

    id: str
    attributes: dict[str, Any]
    version: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # name -> token_hash/secret_hash(value)
    archived: bool = False


@dataclass(frozen=True)
class Diff:
    """A provider's answer to "how does the resource differ from what is wanted?"."""

    changes: tuple[FieldChange, ...] = ()
    replaces: frozenset[str] = frozenset()  # top-level fields among the changes that cannot change in place

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class PropertyDelta:
    """One property of a predicted modification: its dotted ``path``, how it changes (``create``, ``delete``,
    ``modify``, ``array``: its ``children`` say how; ``no_effect``), its value before and after."""

    path: str
    change: str
    before: Any = None
    after: Any = None
    children: tuple[PropertyDelta, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change": self.change,
            "before": self.before,
            "after": self.after,
            "children": [c.to_json() for c in self.children],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PropertyDelta:
        return cls(
            str(data["path"]),
            str(data["change"]),
            data.get("before"),
            data.get("after"),
            tuple(cls.from_json(c) for c in data.get("children") or ()),
        )


# What a predicted change does to one resource (Azure's what-if change types, in snake case).
PREDICTED_CHANGES = ("create", "modify", "delete", "ignore", "no_change", "deploy", "unsupported")
# Predictions that leave the resource as it is.
UNCHANGING = frozenset({"ignore", "no_change"})


@dataclass(frozen=True)
class PredictedChange:
    """What the service predicts applying a resource will do to one of the resources it manages (an ARM
    template's resources, through what-if): the change (``PREDICTED_CHANGES``), the resource's id and type, the
    property deltas of a modification, and a note (why it is unsupported, or why it stays)."""

    change: str
    resource_id: str
    resource_type: str = ""
    delta: tuple[PropertyDelta, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "resource_id": self.resource_id,
            "resource_type": self.resource_type,
            "delta": [d.to_json() for d in self.delta],
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PredictedChange:
        return cls(
            str(data["change"]),
            str(data["resource_id"]),
            str(data.get("resource_type") or ""),
            tuple(PropertyDelta.from_json(d) for d in data.get("delta") or ()),
            str(data.get("note") or ""),
        )


@dataclass(frozen=True)
class Progress:
    """Where a long-running operation stands, read from its token."""

    done: bool
    result: Observed | None = None  # once done: what it made (None: it failed or made nothing)


class Cancelled(MlplanError):
    """An operation stopped because apply was cancelled (Ctrl-C twice). What it may have started is
    recorded: the operation stays pending, and the next run reconciles it."""

    exit_code = 130


def _no_checkpoint(_token: dict[str, Any]) -> None:
    return None


@dataclass
class Context:
    """What a provider needs to know about where it runs, and the operation it is in."""

    project: str
    environment: str
    root: Path
    workspace: dict[str, Any]
    log: Callable[[str], None] = lambda _msg: None
    # set when apply is cancelled: long waits stop and raise Cancelled
    cancelled: threading.Event = field(default_factory=threading.Event)
    # journal a long-running operation's token (JSON-able) on the current operation
    checkpoint: Callable[[dict[str, Any]], None] = _no_checkpoint
    # how to reach the workspace besides its coordinates: the environment's provider-specific settings from
    # mlplan.yaml (the azure provider's ``cloud`` and ``credential``); never a secret
    connection: dict[str, Any] = field(default_factory=dict)

    def check_cancelled(self, what: str) -> None:
        if self.cancelled.is_set():
            raise Cancelled(f"cancelled while {what}")


class ResourceType(ABC):
    """One resource kind of one provider."""

    kind: str = ""
    immutable_fields: frozenset[str] = frozenset()  # a change cannot be made in place
    # when set, only these fields can change in place (an asset version's description and tags)
    mutable_fields: frozenset[str] = frozenset()
    sensitive_fields: frozenset[str] = frozenset()
    # the names of the outputs ``read`` reports (an endpoint's scoring_uri): with the attributes, the id
    # and the version, what an output of mlplan.yaml may read (``${online_endpoint.x.scoring_uri}``)
    output_fields: frozenset[str] = frozenset()
    # dotted spec fields that hold a secret in clear (a compute's admin password): the engine keeps their
    # values out of plans, state and output, and hands them to the provider only
    secret_paths: tuple[str, ...] = ()
    can_delete_versions: bool = False  # asset versions (a job's runs) can really be deleted, not only archived
    # Attributes only known once the resource exists, when it is produced by another (a model a job
    # registers): not compared before it exists.
    produced_fields: frozenset[str] = frozenset()
    # Optional attributes the service fills when the configuration leaves them out (Terraform's Optional +
    # Computed: a compute's region is the workspace's): a desired None accepts whatever the service chose.
    computed_fields: frozenset[str] = frozenset()
    # > 0: refresh reads this kind with read_many, up to this many ids a call (one list call instead
    # of one request per resource, for APIs that throttle); 0: one read per resource.
    read_batch: int = 0
    # True when ``predict`` answers (what applying it does to the resources it manages): drift asks it too
    predicts: bool = False
    # The shape of this kind's provider ids, placeholders in <>: "computes/<name>". `mlplan import`
    # checks an id against it and shows it when one does not fit.
    id_format: str = ""

    def valid_id(self, ident: str) -> bool:
        if not self.id_format:
            return True
        parts = re.split(r"<[a-z_]+>", self.id_format)
        return re.fullmatch("[^/]+".join(re.escape(p) for p in parts), ident) is not None

    def validate(self, desired: Desired) -> list[Problem]:
        """Plan-time check: refuse what this provider cannot honour (with the field path)."""
        return []

    def diff(self, desired: dict[str, Any], observed: dict[str, Any]) -> Diff:
        """How ``observed`` attributes differ from ``desired`` ones (both as ``desired_attributes`` and
        ``read`` report them), and which changed fields cannot change in place."""
        changes = [
            c
            for c in field_changes(observed, desired, self.sensitive_fields)
            if not self.left_to_service(c.path, desired)
        ]
        tops = {c.path.split(".")[0] for c in changes}
        replaces = tops - self.mutable_fields if self.mutable_fields else tops & self.immutable_fields
        return Diff(tuple(changes), frozenset(replaces))

    def left_to_service(self, path: str, desired: Mapping[str, Any]) -> bool:
        """Whether the field at ``path`` is a computed field the configuration left out (see ``computed_fields``)."""
        top = path.split(".")[0]
        return top in self.computed_fields and desired.get(top) is None

    @abstractmethod
    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        """The attributes ``read`` would report once ``desired`` is applied (server defaults filled)."""

    @abstractmethod
    def read(self, ctx: Context, ident: str) -> Observed | None:
        """The resource with this provider id, or None when it is gone."""

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        """Batched read, one result per id in order; providers with a list API override this and
        set ``read_batch`` so that refresh calls it instead of ``read``."""
        return [self.read(ctx, i) for i in idents]

    @abstractmethod
    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        """Find by name (and version, or the latest when None): for data sources and adoption."""

    def lookup_many(self, ctx: Context, keys: Sequence[tuple[str, str | None]]) -> list[Observed | None]:
        """Batched lookup of (name, version) pairs, one result per key in order (see ``read_many``)."""
        return [self.lookup(ctx, name, version) for name, version in keys]

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        """The resource an interrupted operation may have created (by its ownership tags)."""
        found = self.lookup(ctx, name, None)
        if found is not None and found.tags.get(TAG_OPERATION) == operation:
            return found
        return None

    @abstractmethod
    def create(self, ctx: Context, desired: Desired) -> Observed:
        """Create (or create a new version); all or nothing."""

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)

    @abstractmethod
    def delete(self, ctx: Context, current: Observed) -> None:
        """Delete; for versioned assets this archives unless ``can_delete_versions``."""

    def archive(self, ctx: Context, current: Observed) -> None:
        self.delete(ctx, current)

    def discard(self, ctx: Context, name: str, operation: str) -> None:  # noqa: B027 - optional hook
        """Remove what an operation that died left half-done (staged files, an unfinished run).

        Called by apply under the state lock, once the engine has settled the operation (adopted or not).
        """

    def output_names(self, desired: Desired) -> frozenset[str]:
        """The outputs ``read`` will report for ``desired`` (what mlplan.yaml's outputs may read): ``output_fields``,
        and for a kind whose outputs its files declare (an ARM template's ``outputs``), those too. Offline."""
        return self.output_fields

    def poll(self, ctx: Context, token: dict[str, Any]) -> Progress:
        """Where the long-running operation behind ``token`` (journalled with ``ctx.checkpoint``) stands;
        read-only. Only providers that checkpoint tokens are asked."""
        raise NotImplementedError(f"the {self.kind} resource type journals no operation tokens")

    def wait(self, ctx: Context, token: dict[str, Any]) -> Observed | None:
        """Wait for the operation behind ``token`` to finish (honouring ``ctx.cancelled``) and return what
        it made, or None when it failed or made nothing."""
        raise NotImplementedError(f"the {self.kind} resource type journals no operation tokens")

    def predict(
        self, ctx: Context, desired: Desired | None, current: Observed | None
    ) -> tuple[PredictedChange, ...] | None:
        """What applying ``desired`` over ``current`` (None: it does not exist yet) would do to the resources
        this one manages, as the service predicts it (ARM what-if); ``desired`` None: what removing ``current``
        does to them. Read-only: plan shows it, and apply asks again before it acts, refusing a saved plan whose
        predictions moved. None: this kind predicts nothing (the default)."""
        return None

    def credentials(self, ctx: Context, current: Observed) -> dict[str, str]:
        """Secrets of the resource in clear (endpoint keys), only for an explicit request."""
        return {}

    # -- what model evaluation needs (online endpoints, data assets) --------------------------------
    def invoke(
        self, ctx: Context, endpoint: Observed, deployment: str, body: bytes, content_type: str = "application/json"
    ) -> bytes:
        """One scoring request through the endpoint's scoring URI to ``deployment`` (the
        ``azureml-model-deployment`` header, so it reaches a deployment at 0 % traffic too), authenticated as
        the endpoint requires; returns the response body. Safe to call from several threads at once.

        A non-2xx answer raises ``ProviderError`` naming the endpoint, the deployment, the HTTP status and
        the start of the body; no key or token ever appears in a message or a log line. Honours
        ``ctx.cancelled`` before sending."""
        raise ProviderError(f"scoring requests through an endpoint are not supported by this provider ({self.kind})")

    def mark(self, ctx: Context, current: Observed, tags: Mapping[str, str | None]) -> None:
        """Set (``None``: remove) tags mlplan keeps on a resource outside its spec (``TAG_CHAMPION`` on a model
        version), leaving everything else as it is."""
        raise ProviderError(f"marking a resource is not supported by this provider ({self.kind})")

    def fetch(self, ctx: Context, current: Observed) -> Path:
        """A local path to the files of this asset version (a file for ``uri_file``, a folder for
        ``uri_folder``): the workspace's copy, or a download. Honours ``ctx.cancelled`` in long downloads."""
        raise ProviderError(f"reading an asset's files is not supported by this provider ({self.kind})")


class Provider(ABC):
    """A family of resource types talking to one backend (the local disk, or Azure)."""

    name: str = ""
    ready: bool = True  # False: it validates files, but plan and apply are refused (a provider being built)

    @abstractmethod
    def resource_type(self, kind: str) -> ResourceType | None:
        """The handler for ``kind``; None when this provider does not support it."""

    def supported_kinds(self) -> Iterable[str]:
        return ()

    def bind(self, ctx: Context) -> None:  # noqa: B027 - optional hook
        """Learn where the session works (the environment's workspace, no call to it yet): before any resource
        type is asked, so that ``desired_attributes`` can fill in what the workspace implies (its region)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release clients and connections."""
