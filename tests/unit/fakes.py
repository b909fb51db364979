"""A recording fake provider and a project harness for pure engine tests.

The fake keeps resources in a dict, records every call as ``(op, kind, name, version)``, numbers
versions of versioned kinds like Azure ML (immutable, next = max + 1, ownership tags), and can be
told to fail, to be slow, or to return attributes other than the ones asked for.
"""

from __future__ import annotations

import copy
import itertools
import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlplan.core.errors import ProviderError
from mlplan.core.kinds import KINDS, VERSIONED_KINDS
from mlplan.engine import graph as graph_mod
from mlplan.engine import workflow
from mlplan.engine.apply import ApplyOptions, ApplyResult
from mlplan.engine.config import Config, load
from mlplan.engine.graph import Graph
from mlplan.engine.plan import Action, Plan, ResourceChange
from mlplan.engine.planner import PlanOptions
from mlplan.engine.session import Session
from mlplan.providers.base import (
    OWNERSHIP_TAGS,
    TAG_OPERATION,
    Context,
    Desired,
    Observed,
    PredictedChange,
    Progress,
    Provider,
    ResourceType,
)
from mlplan.state.backend import LockInfo
from mlplan.state.local import LocalBackend
from mlplan.state.model import State

SCHEMA = "https://azuremlschemas.azureedge.net/latest/{}.schema.json"
# Spec keys that are identity, not attributes.
_IDENTITY = frozenset({"$schema", "name", "version"})
MUTATING = frozenset({"create", "update", "delete", "archive"})

# Per kind: fields whose change forces a replacement (non-versioned kinds only).
IMMUTABLE: dict[str, frozenset[str]] = {
    "compute": frozenset({"type", "size", "location"}),
    "online_endpoint": frozenset({"auth_mode"}),
    "online_deployment": frozenset({"instance_type"}),
    "job": frozenset({"type"}),
    "arm_deployment": frozenset(),
}


class InjectedFailure(RuntimeError):
    """Raised by the fake when told to fail an operation."""


@dataclass(frozen=True)
class Call:
    """One provider call. ``spec`` is the Desired.spec seen (create/update), not part of equality."""

    op: str
    kind: str
    name: str
    version: str | None = None
    spec: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class _Stored:
    id: str
    kind: str
    name: str
    version: str | None
    attributes: dict[str, Any]
    tags: dict[str, str]
    archived: bool = False
    provisioning: bool = False  # a long-running create still in flight

    def observed(self) -> Observed:
        outputs = {"id": self.id}
        if self.kind == "job":  # each run has a name of its own, as Azure ML jobs do
            outputs["run"] = self.id.split("/", 1)[1].replace("#", "-")
        return Observed(
            id=self.id,
            attributes=copy.deepcopy(self.attributes),
            version=self.version,
            tags=dict(self.tags),
            outputs=outputs,
            archived=self.archived,
        )


class FakeType(ResourceType):
    def __init__(self, provider: FakeProvider, kind: str, can_delete_versions: bool) -> None:
        self.provider = provider
        self.kind = kind
        self.versioned = kind in VERSIONED_KINDS
        self.immutable_fields = IMMUTABLE.get(kind, frozenset())
        self.mutable_fields = frozenset({"description", "tags"}) if self.versioned else frozenset()
        self.sensitive_fields = frozenset({"secret"})
        self.can_delete_versions = can_delete_versions
        self.predicts = True  # answers for the names in provider.predictions

    # -- what the engine compares ------------------------------------------------------
    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        attrs = {k: copy.deepcopy(v) for k, v in desired.spec.items() if k not in _IDENTITY}
        if desired.content:
            attrs["content"] = dict(sorted(desired.content.items()))
        return attrs

    # -- reads -------------------------------------------------------------------------
    def read(self, ctx: Context, ident: str) -> Observed | None:
        p = self.provider
        p.record("read", self.kind, ident)
        with p.lock:
            found = p.store.get(ident)
            return found.observed() if found is not None else None

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        p = self.provider
        p.record("read_many", self.kind, ",".join(idents))
        with p.lock:
            found = [p.store.get(i) for i in idents]
        return [s.observed() if s is not None else None for s in found]

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        p = self.provider
        p.record("lookup", self.kind, name, version)
        with p.lock:
            items = p.named(self.kind, name)
            if version is not None:
                items = [s for s in items if s.version == version]
            else:
                items = [s for s in items if not s.archived]
            return items[-1].observed() if items else None

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        p = self.provider
        p.record("find_owned", self.kind, name)
        with p.lock:
            for s in reversed(p.named(self.kind, name)):
                if s.tags.get(TAG_OPERATION) == operation:
                    return s.observed()
        return None

    # -- writes ------------------------------------------------------------------------
    def create(self, ctx: Context, desired: Desired) -> Observed:
        p = self.provider
        with p.lock:
            if self.versioned:
                existing = [s.version for s in p.named(self.kind, desired.name)]
                if desired.version is not None:
                    version: str | None = desired.version
                    if version in existing:
                        raise InjectedFailure(f"{self.kind} {desired.name} version {version} already exists")
                else:
                    version = str(max((int(v) for v in existing if v and v.isdigit()), default=0) + 1)
            else:
                version = None
        with p.operation("create", self.kind, desired.name, version, desired.spec, ctx):
            attrs = p.tampered(desired.name, self.desired_attributes(desired))
            tags = {**{k: str(v) for k, v in (desired.spec.get("tags") or {}).items()}, **desired.tags}
            with p.lock:
                if self.versioned:
                    ident = f"{self.kind}/{desired.name}/versions/{version}"
                else:
                    ident = f"{self.kind}/{desired.name}#{next(p.generation)}"
                stored = _Stored(ident, self.kind, desired.name, version, attrs, tags)
                stored.provisioning = desired.name in p.long_running
                p.store[ident] = stored
            if stored.provisioning:
                ctx.checkpoint({"id": ident})  # the operation outlives this call: journal its token
            if ("create", desired.name) in p.lose_response:
                raise InjectedFailure(f"connection lost after creating {ident}")
            stored.provisioning = False
            return stored.observed()

    def discard(self, ctx: Context, name: str, operation: str) -> None:
        self.provider.record("discard", self.kind, name)

    def predict(
        self, ctx: Context, desired: Desired | None, current: Observed | None
    ) -> tuple[PredictedChange, ...] | None:
        """What ``provider.predictions`` says for the name (as ARM what-if would); None for names it lacks."""
        p = self.provider
        name = desired.name if desired is not None else p.name_of(current.id) if current is not None else ""
        p.record("predict", self.kind, name)
        with p.lock:
            found = p.predictions.get(name)
        return tuple(found) if found is not None else None

    def mark(self, ctx: Context, current: Observed, tags: Mapping[str, str | None]) -> None:
        p = self.provider
        p.record("mark", self.kind, p.name_of(current.id), current.version)
        with p.lock:
            stored = p.store[current.id]
            stored.tags = {**{k: v for k, v in stored.tags.items() if k not in tags}}
            stored.tags.update({k: v for k, v in tags.items() if v is not None})

    # -- scoring (promotion) -------------------------------------------------------------
    def fetch(self, ctx: Context, current: Observed) -> Path:
        """A data asset's files: what the test put in ``provider.data_files`` for its name."""
        return self.provider.data_files[self.provider.name_of(current.id)]

    def invoke(
        self, ctx: Context, endpoint: Observed, deployment: str, body: bytes, content_type: str = "application/json"
    ) -> bytes:
        """A deployment of the endpoint answers with ``provider.predict[<model version it serves>](rows)``."""
        p = self.provider
        name = f"{p.name_of(endpoint.id)}/{deployment}"
        p.record("invoke", self.kind, name)
        with p.lock:
            [served] = [s for s in p.live("online_deployment", name)]
        version = str(served.attributes["model"]).rsplit(":", 1)[1]
        rows = json.loads(body)["data"]
        return json.dumps(p.predict[version](rows)).encode()

    def poll(self, ctx: Context, token: dict[str, Any]) -> Progress:
        p = self.provider
        p.record("poll", self.kind, token["id"])
        with p.lock:
            stored = p.store.get(token["id"])
            if stored is None:
                return Progress(done=True)
            if stored.provisioning and token["id"] not in p.finished:
                return Progress(done=False)
            stored.provisioning = False
            return Progress(done=True, result=stored.observed())

    def wait(self, ctx: Context, token: dict[str, Any]) -> Observed | None:
        p = self.provider
        p.record("wait", self.kind, token["id"])
        with p.lock:
            stored = p.store.get(token["id"])
            if stored is None:
                return None
            stored.provisioning = False
            return stored.observed()

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        p = self.provider
        with p.operation("update", self.kind, desired.name, current.version, desired.spec, ctx), p.lock:
            stored = p.store.get(current.id)
            if stored is None:
                raise InjectedFailure(f"{current.id} does not exist")
            wanted = self.desired_attributes(desired)
            if self.versioned:
                changed = {k for k in set(wanted) | set(stored.attributes) if wanted.get(k) != stored.attributes.get(k)}
                if not changed <= self.mutable_fields:
                    raise InjectedFailure(f"{current.id}: immutable fields changed: {sorted(changed)}")
            stored.attributes = p.tampered(desired.name, wanted)
            owned = {k: v for k, v in stored.tags.items() if k in OWNERSHIP_TAGS}
            stored.tags = {**{k: str(v) for k, v in (desired.spec.get("tags") or {}).items()}, **owned}
            return stored.observed()

    def delete(self, ctx: Context, current: Observed) -> None:
        p = self.provider
        name = p.name_of(current.id)
        with p.operation("delete", self.kind, name, current.version, None, ctx), p.lock:
            if p.store.pop(current.id, None) is None:
                raise InjectedFailure(f"{current.id} does not exist")

    def archive(self, ctx: Context, current: Observed) -> None:
        p = self.provider
        name = p.name_of(current.id)
        with p.operation("archive", self.kind, name, current.version, None, ctx), p.lock:
            stored = p.store.get(current.id)
            if stored is None:
                raise InjectedFailure(f"{current.id} does not exist")
            stored.archived = True


class FakeProvider(Provider):
    """Every kind, in memory, recording calls. Thread safe (apply and refresh run in threads)."""

    name = "fake"

    def __init__(self, can_delete_versions: bool = True) -> None:
        self.lock = threading.RLock()
        self.store: dict[str, _Stored] = {}
        self.calls: list[Call] = []
        self.generation = itertools.count(1)
        self.fail: set[tuple[str, str]] = set()  # (op, name) to raise on, before doing anything
        self.refuse: set[tuple[str, str]] = set()  # (op, name) the provider fails knowingly (ProviderError)
        self.lose_response: set[tuple[str, str]] = set()  # (op, name) done, but the caller gets an error
        self.delays: dict[str, float] = {}  # op -> seconds
        self.name_delays: dict[str, float] = {}  # name -> seconds (added to the op delay)
        self.tamper: dict[str, dict[str, Any]] = {}  # name -> attributes to report instead
        self.long_running: set[str] = set()  # names whose create journals a token and finishes later
        self.finished: set[str] = set()  # ids of long-running creates that finished in the background
        self.timeline: list[tuple[str, str, str, str]] = []  # (start|end, op, kind, name) of mutating ops
        self.active = 0
        self.max_active = 0
        self.data_files: dict[str, Path] = {}  # data asset name -> its files (fetch)
        self.predict: dict[str, Callable[[list[Any]], list[Any]]] = {}  # model version -> its predictions
        # name -> what ``predict`` answers for it (what-if of the resources it manages); names not here: None
        self.predictions: dict[str, list[PredictedChange]] = {}
        self._types = {k: FakeType(self, k, can_delete_versions) for k in KINDS}

    # -- Provider ---------------------------------------------------------------------
    def resource_type(self, kind: str) -> ResourceType | None:
        return self._types.get(kind)

    def supported_kinds(self) -> list[str]:
        return sorted(self._types)

    def type(self, kind: str) -> FakeType:
        return self._types[kind]

    # -- configuration ------------------------------------------------------------------
    def fail_on(self, op: str, name: str) -> None:
        self.fail.add((op, name))

    def preload(
        self, kind: str, name: str, attributes: dict[str, Any] | None = None, version: str | None = None
    ) -> Observed:
        """A resource that exists in the workspace but is not managed by the project."""
        with self.lock:
            ident = f"{kind}/{name}/versions/{version}" if version else f"{kind}/{name}#{next(self.generation)}"
            stored = _Stored(ident, kind, name, version, dict(attributes or {}), {})
            self.store[ident] = stored
            return stored.observed()

    # -- inspection -------------------------------------------------------------------
    def ops(self, *ops: str) -> list[Call]:
        """Recorded calls of the given ops (default: the mutating ones), in call order."""
        wanted = set(ops) or MUTATING
        with self.lock:
            return [c for c in self.calls if c.op in wanted]

    def reset(self) -> None:
        """Forget recorded calls, the timeline and the concurrency high-water mark (not the resources)."""
        with self.lock:
            self.calls.clear()
            self.timeline.clear()
            self.max_active = 0

    def ended_before_started(self, first: str, then: str) -> bool:
        """Every mutating op on ``first`` (a name) ended before the first op on ``then`` started."""
        with self.lock:
            events = list(self.timeline)
        ends = [i for i, (what, _op, _k, n) in enumerate(events) if what == "end" and n == first]
        starts = [i for i, (what, _op, _k, n) in enumerate(events) if what == "start" and n == then]
        return bool(ends) and bool(starts) and max(ends) < min(starts)

    def live(self, kind: str, name: str) -> list[_Stored]:
        with self.lock:
            return self.named(kind, name)

    # -- internals ----------------------------------------------------------------------
    def named(self, kind: str, name: str) -> list[_Stored]:
        items = [s for s in self.store.values() if s.kind == kind and s.name == name]
        return sorted(items, key=_order_key)

    def name_of(self, ident: str) -> str:
        with self.lock:
            stored = self.store.get(ident)
        if stored is not None:
            return stored.name
        return ident.split("/", 1)[1].split("#")[0].split("/versions/")[0]

    def record(self, op: str, kind: str, name: str, version: str | None = None, spec: Any = None) -> None:
        with self.lock:
            self.calls.append(Call(op, kind, name, version, copy.deepcopy(spec)))

    def tampered(self, name: str, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, **copy.deepcopy(self.tamper.get(name, {}))}

    def operation(
        self, op: str, kind: str, name: str, version: str | None, spec: Any = None, ctx: Context | None = None
    ) -> _Op:
        return _Op(self, op, kind, name, version, spec, ctx)


class _Op:
    """Records the call, counts concurrency, sleeps the configured delay, raises injected failures."""

    def __init__(
        self, p: FakeProvider, op: str, kind: str, name: str, version: str | None, spec: Any, ctx: Context | None
    ) -> None:
        self.p, self.op, self.kind, self.name, self.version, self.spec = p, op, kind, name, version, spec
        self.ctx = ctx

    def __enter__(self) -> None:
        p = self.p
        p.record(self.op, self.kind, self.name, self.version, self.spec)
        with p.lock:
            p.timeline.append(("start", self.op, self.kind, self.name))
            p.active += 1
            p.max_active = max(p.max_active, p.active)
        delay = p.delays.get(self.op, 0.0) + p.name_delays.get(self.name, 0.0)
        try:
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:  # a long operation that honours cancellation
                if self.ctx is not None:
                    self.ctx.check_cancelled(f"{self.op} of {self.kind} {self.name}")
                time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
            if (self.op, self.name) in p.fail:
                raise InjectedFailure(f"injected failure: {self.op} {self.kind} {self.name}")
            if (self.op, self.name) in p.refuse:
                raise ProviderError(f"refused: {self.op} {self.kind} {self.name}", provider=p.name)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        with self.p.lock:
            self.p.active -= 1
            self.p.timeline.append(("end", self.op, self.kind, self.name))


def _order_key(s: _Stored) -> tuple[int, str]:
    if s.version is not None and s.version.isdigit():
        return (int(s.version), "")
    return (int(s.id.rsplit("#", 1)[1]) if "#" in s.id else 0, s.version or "")


# -- project harness --------------------------------------------------------------------------


def res(schema: str, **fields: Any) -> str:
    """A resource file for the Azure ML schema ``schema`` (e.g. ``amlCompute``) with these fields."""
    return yaml.safe_dump({"$schema": SCHEMA.format(schema), **fields}, sort_keys=False)


def compute(name: str = "cpu", **fields: Any) -> str:
    return res("amlCompute", name=name, **{"type": "amlcompute", "size": "small", "max_instances": 1, **fields})


def environment(name: str = "env", **fields: Any) -> str:
    return res("environment", name=name, **{"image": "python:3.11", "conda_file": "../files/conda.yml", **fields})


def data(name: str = "iris", **fields: Any) -> str:
    return res("data", name=name, **{"type": "uri_file", "path": "../files/iris.csv", **fields})


def model(name: str = "clf", **fields: Any) -> str:
    return res("model", name=name, **{"path": "../files/model", **fields})


def endpoint(name: str = "web", **fields: Any) -> str:
    return res("managedOnlineEndpoint", name=name, **{"auth_mode": "key", **fields})


def deployment(name: str = "blue", endpoint_name: str = "web", **fields: Any) -> str:
    defaults = {"instance_type": "small", "instance_count": 1}
    return res("managedOnlineDeployment", name=name, endpoint_name=endpoint_name, **{**defaults, **fields})


def job(name: str = "train", **fields: Any) -> str:
    # an inline environment: azure-ai-ml requires one, and an inline one adds no edge to the graph
    defaults = {"command": "python train.py", "environment": {"image": "python:3.11"}}
    return res("commandJob", name=name, **{**defaults, **fields})


PROJECT = 'project: demo\nresources: ["res/*.yml"]\n'

# Content files the builders above point at.
FILES = {
    "files/conda.yml": "name: env\ndependencies: [python=3.11]\n",
    "files/iris.csv": "a,b\n1,2\n",
    "files/model/weights.txt": "w1\n",
}


class Harness:
    """A project in a temp dir, loaded by the real loader, planned/applied against a FakeProvider."""

    def __init__(self, root: Path, provider: FakeProvider | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.provider = provider or FakeProvider()
        self.backend = LocalBackend(root.parent / "state" / "local.json")
        self.write({"mlplan.yaml": PROJECT, **FILES})

    # -- files --------------------------------------------------------------------------
    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            p = self.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text).lstrip("\n"))

    def remove(self, *rels: str) -> None:
        for rel in rels:
            (self.root / rel).unlink()

    # -- engine -------------------------------------------------------------------------
    def load(
        self, env: str | None = None, cli_vars: dict[str, str] | None = None, environ: dict[str, str] | None = None
    ) -> tuple[Config, Graph]:
        config = load(self.root, env, cli_vars, environ if environ is not None else {})
        return config, graph_mod.build(config)

    def session(self, **kw: Any) -> Session:
        config, graph = self.load(**kw)
        ctx = Context(config.project, config.environment.name, config.root, config.environment.workspace)
        return Session(config, graph, self.backend, self.provider, ctx)

    def state(self) -> State:
        return self.backend.read()

    @contextmanager
    def locked(self, sess: Session, operation: str = "apply") -> Iterator[LockInfo]:
        """Hold the state lock for ``sess`` (what session.locked_state does, without its read and gc.freeze)."""
        with sess.backend.lock(operation) as lock:
            sess.lock = lock
            try:
                yield lock
            finally:
                sess.lock = None

    def plan(self, options: PlanOptions | None = None, **kw: Any) -> Plan:
        sess = self.session(**kw)
        with self.locked(sess, "plan"):
            return workflow.plan(sess, self.state(), options or PlanOptions())

    def apply(
        self, plan: Plan | None = None, options: ApplyOptions | None = None, plan_options: PlanOptions | None = None
    ) -> ApplyResult:
        sess = self.session()
        with self.locked(sess, "apply"):
            state = self.state()
            the_plan = plan or workflow.plan(sess, state, plan_options or PlanOptions())
            return workflow.apply_plan(sess, state, the_plan, options or ApplyOptions())

    def apply_ok(self, plan: Plan | None = None, **kw: Any) -> ApplyResult:
        result = self.apply(plan, **kw)
        assert result.ok, result.failed
        return result


def by_address(plan: Plan) -> dict[str, ResourceChange]:
    return {str(c.address): c for c in plan.changes}


def actions(plan: Plan) -> dict[str, Action]:
    return {str(c.address): c.action for c in plan.changes}
