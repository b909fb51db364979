"""A fake provider whose operations take a set time: the ideal a scheduler is measured against.

``SlowProvider`` keeps resources in memory and serves every kind; ``read_delay`` and ``write_delay``
(seconds, changeable between runs) are slept in ``read``/``lookup`` and ``create``/``update``/``delete``.
It also counts calls and the most operations it saw in flight at once, to check the engine's parallelism.

With ``like=<a real provider>`` it reports exactly the attributes, versions and field sets of that
provider's resource types without touching its backend: a "dry" provider, used to build a large
applied state quickly through the real engine.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.kinds import VERSIONED_KINDS
from mlplan.providers import REGISTRY
from mlplan.providers.base import Context, Desired, Observed, Problem, Provider, ResourceType

# For `load_provider("bench")`; a project file cannot name it (the schema allows only local/azure),
# so the benchmarks hand the provider object to the session instead.
REGISTRY.setdefault("bench", "bench.fakes:SlowProvider")


class _Store:
    def __init__(self, read_delay: float, write_delay: float) -> None:
        self.read_delay = read_delay
        self.write_delay = write_delay
        self.items: dict[str, Observed] = {}
        self.latest: dict[str, str] = {}  # id without version -> id of the newest version
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0

    @contextmanager
    def op(self, name: str, delay: float) -> Iterator[None]:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if delay:
                time.sleep(delay)
            yield
        finally:
            with self.lock:
                self.in_flight -= 1


class SlowType(ResourceType):
    def __init__(self, kind: str, store: _Store, like: ResourceType | None = None) -> None:
        self.kind = kind
        self.store = store
        self.like = like
        self.versioned = kind in VERSIONED_KINDS
        if like is not None:
            self.immutable_fields = like.immutable_fields
            self.mutable_fields = like.mutable_fields
            self.sensitive_fields = like.sensitive_fields
            self.can_delete_versions = like.can_delete_versions

    def _id(self, name: str, version: str | None = None) -> str:
        return f"{self.kind}/{name}" + (f"/versions/{version}" if self.versioned else "")

    def validate(self, desired: Desired) -> list[Problem]:
        return self.like.validate(desired) if self.like is not None else []

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        if self.like is not None:
            return self.like.desired_attributes(desired)
        spec = {k: v for k, v in desired.spec.items() if k != "$schema"}
        return {"spec": copy.deepcopy(spec), "content": dict(sorted(desired.content.items()))}

    def read(self, ctx: Context, ident: str) -> Observed | None:
        with self.store.op("read", self.store.read_delay):
            return self.store.items.get(ident)

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        with self.store.op("lookup", self.store.read_delay):
            ident = self._id(name, version) if version is not None else self.store.latest.get(self._id(name))
            return self.store.items.get(ident) if ident is not None else None

    def create(self, ctx: Context, desired: Desired) -> Observed:
        return self._put(ctx, desired, desired.version, "create")

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self._put(ctx, desired, desired.version or current.version, "update")

    def _put(self, ctx: Context, desired: Desired, version: str | None, op: str) -> Observed:
        with self.store.op(op, self.store.write_delay):
            if self.versioned and version is None:
                latest = self.store.latest.get(self._id(desired.name))
                version = str(int(latest.rsplit("/", 1)[1]) + 1) if latest else "1"
            ident = self._id(desired.name, version)
            observed = Observed(
                id=ident,
                attributes=self.desired_attributes(desired),
                version=version,
                tags=dict(desired.tags),
                outputs={"path": f"{ctx.root}/.mlplan/workspace/{ident}", "created_at": now_iso()},
            )
            with self.store.lock:
                self.store.items[ident] = observed
                self.store.latest[self._id(desired.name)] = ident
            return observed

    def delete(self, ctx: Context, current: Observed) -> None:
        with self.store.op("delete", self.store.write_delay):
            self.store.items.pop(current.id, None)


class SlowProvider(Provider):
    """Every kind, in memory, each operation sleeping its delay (the GIL is free while it sleeps)."""

    name = "bench"

    def __init__(self, read_delay: float = 0.0, write_delay: float = 0.0, like: Provider | None = None) -> None:
        self.store = _Store(read_delay, write_delay)
        self.like = like
        self._types: dict[str, SlowType] = {}
        if like is not None:
            self.name = like.name  # state entries then name the provider they would really come from

    def resource_type(self, kind: str) -> ResourceType | None:
        if kind not in self._types:
            like = self.like.resource_type(kind) if self.like is not None else None
            if self.like is not None and like is None:
                return None
            self._types[kind] = SlowType(kind, self.store, like)
        return self._types[kind]

    def set_delays(self, read: float | None = None, write: float | None = None) -> None:
        if read is not None:
            self.store.read_delay = read
        if write is not None:
            self.store.write_delay = write

    def reset_counters(self) -> None:
        with self.store.lock:
            self.store.calls.clear()
            self.store.max_in_flight = 0

    def clear(self) -> None:
        """Forget every resource (a fresh, empty workspace)."""
        with self.store.lock:
            self.store.items.clear()
            self.store.latest.clear()
