"""The provider contract: how the engine reads, creates, updates and deletes resources of one kind.

Providers know resources, not plans: they never see actions, diffs or rendering. They may use the
engine's neutral helpers (addresses, content hashing, errors) but nothing that plans or prints.
"""

from __future__ import annotations

import functools
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Ownership tags stamped on everything mlplan creates; used to adopt after a crash.
TAG_PROJECT = "mlplan.project"
TAG_ADDRESS = "mlplan.address"
TAG_OPERATION = "mlplan.operation"
OWNERSHIP_TAGS = (TAG_PROJECT, TAG_ADDRESS, TAG_OPERATION)


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


@dataclass(frozen=True, slots=True)
class Problem:
    """A provider's objection to a desired spec; the engine adds file, line and address."""

    path: tuple[str, ...]
    message: str
    hint: str | None = None


def check_fields(spec: dict[str, Any], rules: dict[str, Any]) -> list[Problem]:
    """Type checks for the fields a provider honours: ``{field: int | bool | (choice, ...)}``."""
    problems = []
    for name, rule in rules.items():
        if name not in spec or spec[name] is None:
            continue
        value = spec[name]
        if isinstance(rule, tuple):
            if str(value).lower() not in rule:
                problems.append(Problem((name,), f"{name}: {value!r} is not one of {', '.join(rule)}", None))
        elif rule is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(Problem((name,), f"{name}: {value!r} is not a whole number >= 0", None))
        elif rule is bool and not isinstance(value, bool):
            problems.append(Problem((name,), f"{name}: {value!r} is not true or false", None))
    return [
        Problem(p.path, p.message, "fix the value as the Azure ML CLI v2 YAML reference describes") for p in problems
    ]


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


@dataclass
class Context:
    """What a provider needs to know about where it runs."""

    project: str
    environment: str
    root: Path
    workspace: dict[str, Any]
    log: Callable[[str], None] = lambda _msg: None


class ResourceType(ABC):
    """One resource kind of one provider."""

    kind: str = ""
    versioned: bool = False  # immutable asset versions (data, environment, model)
    immutable_fields: frozenset[str] = frozenset()  # a change requires replace
    mutable_fields: frozenset[str] = frozenset()  # versioned kinds: fields a version can change in place
    sensitive_fields: frozenset[str] = frozenset()
    can_delete_versions: bool = False  # on_remove: delete is honoured
    # A run (a job): each execution is a new, immutable record. The engine runs it again ("train")
    # only when its inputs change, and never diffs it against the workspace.
    is_run: bool = False
    # Dependencies of these kinds count towards a run's inputs (None: all of them).
    input_kinds: frozenset[str] | None = None
    # How creates and updates of this kind are shown (e.g. "shift_traffic"); None: create/update.
    change_action: str | None = None
    # A setting of another resource rather than a resource of its own (an endpoint's traffic):
    # it exists with its parent, so finding it is no name collision; creating it sets it.
    attached: bool = False
    # Attributes only known once the resource exists, when it is produced by another (a model a job
    # registers): the engine carries them over from state instead of expecting them up front.
    produced_fields: frozenset[str] = frozenset()
    # > 0: refresh reads this kind with read_many, up to this many ids a call (one list call instead
    # of one request per resource, for APIs that throttle); 0: one read per resource.
    read_batch: int = 0
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

        Called under the state lock, once the engine has settled the operation (adopted or not).
        """

    def credentials(self, ctx: Context, current: Observed) -> dict[str, str]:
        """Secrets of the resource in clear (endpoint keys), only for an explicit request."""
        return {}


class Provider(ABC):
    """A family of resource types talking to one backend (the local disk, or Azure)."""

    name: str = ""

    @abstractmethod
    def resource_type(self, kind: str) -> ResourceType | None:
        """The handler for ``kind``; None when this provider does not support it."""

    def supported_kinds(self) -> Iterable[str]:
        return ()

    def preview(self, ctx: Context, creates: Sequence[Desired]) -> list[str]:
        """Plan-time notes from the backend (e.g. ARM what-if); none by default."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release clients and connections."""
