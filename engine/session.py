"""The workflows behind the CLI: open a project, plan, apply, reconcile, import; under the state lock.

Each function is a library call (no printing, no prompting); the CLI renders what they return.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.errors import (
    Diagnostic,
    LockError,
    MlplanError,
    ProviderError,
    StalePlanError,
    StateError,
    UsageError,
    ValidationFailed,
)
from mlplan.engine import gates
from mlplan.engine import graph as graph_mod
from mlplan.engine.address import Address
from mlplan.engine.apply import Applier, ApplyOptions, ApplyResult
from mlplan.engine.config import Config, load
from mlplan.engine.desired import observed_of, state_of
from mlplan.engine.graph import Graph
from mlplan.engine.plan import Action, Plan
from mlplan.engine.planner import PlanOptions, make_plan, resource_type, validate
from mlplan.engine.redact import RedactingProvider, Redactor
from mlplan.providers import REGISTRY, load_provider
from mlplan.providers.base import Context, Provider, secret_hash
from mlplan.state import registry
from mlplan.state.backend import Backend, Journal, LockInfo
from mlplan.state.model import ResourceState, State

Event = Callable[[str, dict[str, Any]], None]


def _quiet(_kind: str, _data: dict[str, Any]) -> None:
    return None


@dataclass
class Session:
    config: Config
    graph: Graph
    backend: Backend
    provider: Provider
    ctx: Context
    lock_timeout: float = 0.0
    lock: LockInfo | None = None  # the state lock while locked_state holds it; every write is made under it


def open_backend(config: Config) -> Backend:
    return registry.open_backend(config.environment.state, config.root, config.environment.name)


def open_provider(config: Config) -> Provider:
    name = config.environment.provider
    if name not in REGISTRY:
        raise MlplanError(
            f"provider {name!r} of environment {config.environment.name!r} is not available in this version"
            f" (available: {', '.join(sorted(REGISTRY))})"
        )
    provider: Provider = load_provider(name)
    secrets = [str(config.variables[v]) for v in config.sensitive_variables if config.variables.get(v) is not None]
    redactor = Redactor(secrets, config.project)
    return RedactingProvider(provider, redactor) if redactor else provider


def open_session(
    root: Path,
    env: str | None,
    cli_vars: Mapping[str, str] | None = None,
    lock_timeout: float = 0.0,
    log: Callable[[str], None] = lambda _m: None,
) -> Session:
    config, graph, provider = _load_all(root, env, cli_vars)
    # What was just loaded lives as long as the command: keep the cyclic GC from walking it again
    # and again (a fifth of a large plan's time otherwise).
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)  # and collect rarely: a command lives seconds, not days
    ctx = Context(config.project, config.environment.name, config.root, config.environment.workspace, log)
    return Session(config, graph, open_backend(config), provider, ctx, lock_timeout)


def _load_all(root: Path, env: str | None, cli_vars: Mapping[str, str] | None) -> tuple[Config, Graph, Provider]:
    """Load, build the graph and ask the provider; every problem of every step reported at once."""
    problems: list[Diagnostic] = []
    try:
        config = load(root, env, cli_vars)
    except ValidationFailed as exc:
        if not isinstance(exc.partial, Config):
            raise
        config, problems = exc.partial, list(exc.diagnostics)
    graph: Graph | None = None
    try:
        graph = graph_mod.build(config)
    except ValidationFailed as exc:
        problems += exc.diagnostics
    provider = open_provider(config)
    try:
        validate(config, provider)
    except ValidationFailed as exc:
        problems += exc.diagnostics
    if problems or graph is None:
        raise ValidationFailed(problems, partial=config)
    return config, graph, provider


@contextmanager
def locked_state(session: Session, operation: str) -> Iterator[State]:
    with session.backend.lock(operation, session.lock_timeout) as lock:
        session.lock = lock
        try:
            state = session.backend.read()
            gc.freeze()
            yield state
        finally:
            session.lock = None


def held_lock(session: Session) -> LockInfo:
    """The state lock the session holds (``locked_state``): what every state write is made under."""
    if session.lock is None:
        raise LockError(
            f"the state at {session.backend.describe()} would be written without holding the state lock:"
            " write only inside locked_state(session, ...)"
        )
    return session.lock


# -- reconciliation of interrupted operations -------------------------------------------------
def reconcile(session: Session, state: State, emit: Event = _quiet) -> int:
    """Settle every operation that started but never ended (a crash): adopt or forget its result."""
    if not state.pending:
        return 0
    journal = session.backend.journal(state, held_lock(session))
    settled = 0
    try:
        for op in list(state.pending.values()):
            kind = op.address.split(".", 1)[0]
            rt = resource_type(session.provider, kind, op.address)
            rs = state.resources.get(op.address)
            if op.action in (Action.DELETE.value, Action.ARCHIVE.value, Action.FORGET.value):
                current = rt.read(session.ctx, rs.id) if rs else None
                if current is None or current.archived:
                    journal.end(op.op_id, op.address, None, removed=True)
                    emit("reconciled", {"address": op.address, "outcome": "deletion had completed"})
                else:
                    journal.abort(op.op_id, op.address)
                    emit("reconciled", {"address": op.address, "outcome": "deletion had not happened"})
            else:
                found = rt.find_owned(session.ctx, op.name or op.address.split(".", 1)[1], op.op_id)
                if found is not None:
                    adopted = state_of(
                        Address.parse(op.address),
                        session.provider.name,
                        found,
                        dependencies=rs.dependencies if rs else [],
                        created_at=rs.created_at if rs and op.action == "update" else now_iso(),
                    )
                    journal.end(op.op_id, op.address, adopted)
                    emit("reconciled", {"address": op.address, "outcome": f"adopted {found.id}"})
                else:
                    journal.abort(op.op_id, op.address)
                    emit("reconciled", {"address": op.address, "outcome": "nothing was created; will retry"})
            rt.discard(session.ctx, op.name or op.address.split(".", 1)[1], op.op_id)
            settled += 1
    finally:
        journal.close()
    return settled


# -- plan ---------------------------------------------------------------------------------------
def plan(session: Session, state: State, options: PlanOptions, emit: Event = _quiet) -> Plan:
    reconcile(session, state, emit)
    options.parallelism = options.parallelism or session.config.environment.parallelism
    for t in (*options.targets, *options.replace):
        if t not in session.config.resources and str(t) not in state.resources:
            raise UsageError(f"{t} is not a resource of this project (see `mlplan state list`)")
    result = make_plan(session.config, session.graph, state, session.provider, session.ctx, options, emit)
    session.config.digests.save()
    return result


def input_hashes(plan: Plan) -> dict[str, str]:
    return {str(c.address): c.input_hash for c in plan.changes if c.input_hash}


def check_fresh(saved: Plan, session: Session, state: State) -> None:
    """A saved plan applies only to the state and inputs it was made from."""
    problems = []
    if saved.project != session.config.project or saved.environment != session.config.environment.name:
        problems.append(
            f"the plan is for {saved.project}/{saved.environment}, not"
            f" {session.config.project}/{session.config.environment.name}"
        )
    fresh = saved.serial == 0 and state.serial == 0 and not state.resources
    if saved.lineage != state.lineage and not fresh:  # a plan made before any state existed has no lineage yet
        problems.append("the state was replaced (lineage differs)")
    elif saved.serial != state.serial:
        changed = [
            str(c.address)
            for c in saved.changes
            if c.before is not None
            and (rs := state.resources.get(str(c.address))) is not None
            and rs.attributes != c.before
        ]
        what = f": {', '.join(changed)}" if changed else ""
        problems.append(f"the state changed since the plan was made (serial {saved.serial} -> {state.serial}){what}")
    current = make_plan(session.config, session.graph, state, session.provider, session.ctx, PlanOptions(refresh=False))
    now, then = input_hashes(current), input_hashes(saved)
    moved = sorted(a for a in set(now) | set(then) if now.get(a) != then.get(a) and a in then)
    if moved:
        problems.append(f"inputs changed since the plan was made: {', '.join(moved)}")
    if problems:
        raise StalePlanError("saved plan is stale: " + "; ".join(problems) + ". Run `mlplan plan --out FILE` again.")


# -- apply ----------------------------------------------------------------------------------------
def apply(
    session: Session,
    state: State,
    the_plan: Plan,
    options: ApplyOptions,
    emit: Event = _quiet,
    stop: threading.Event | None = None,
) -> ApplyResult:
    gates.check(session.config, the_plan)  # before anything is written
    journal = session.backend.journal(state, held_lock(session))
    try:
        applier = Applier(
            the_plan,
            session.config,
            session.graph,
            journal,
            session.provider,
            session.ctx,
            options,
            emit,
            stop,
        )
        result = applier.run()
        if the_plan.mode != "refresh-only":
            outputs = {
                k: {**v, "value": secret_hash(str(v["value"]), session.config.project)} if v["sensitive"] else v
                for k, v in resolve_outputs(session.config, journal.state).items()
            }
            if outputs != journal.state.outputs:
                journal.set("outputs", outputs)
    finally:
        journal.close()
    return result


def refresh_state(session: Session, state: State, the_plan: Plan) -> None:
    """Apply a refresh-only plan: write what was observed into state."""
    journal: Journal = session.backend.journal(state, held_lock(session))
    try:
        for c in the_plan.changes:
            rs = state.resources.get(str(c.address))
            if rs is None:
                continue
            if c.action is Action.FORGET:
                journal.begin("refresh", str(c.address), "forget")
                journal.end("refresh", str(c.address), None, removed=True)
            elif c.action is Action.UPDATE:
                rt = resource_type(session.provider, rs.kind, str(c.address))
                observed = rt.read(session.ctx, rs.id)
                if observed is None:
                    continue
                updated = ResourceState.from_json(
                    {
                        **rs.to_json(),
                        "attributes": observed.attributes,
                        "tags": observed.tags,
                        "outputs": observed.outputs,
                        "updated_at": now_iso(),
                    }
                )
                journal.begin("refresh", str(c.address), "refresh")
                journal.end("refresh", str(c.address), updated)
    finally:
        journal.close()


# -- outputs ----------------------------------------------------------------------------------------
def resolve_outputs(config: Config, state: State) -> dict[str, Any]:
    """Declared outputs with ``${KIND.NAME.ATTR}`` and ``${var.x}`` resolved from state."""
    import re

    pattern = re.compile(
        r"\$\{\s*([a-z_]+)\.([A-Za-z0-9_.\-/]+?)\.([A-Za-z0-9_]+)\s*\}|\$\{\s*var\.([A-Za-z0-9_-]+)\s*\}"
    )
    out: dict[str, Any] = {}
    for name, decl in config.outputs.items():
        value = str(decl.get("value", ""))

        def sub(m: re.Match[str]) -> str:
            if m.group(4):
                return str(config.variables.get(m.group(4), ""))
            rs = state.resources.get(f"{m.group(1)}.{m.group(2)}")
            if rs is None:
                return ""
            attr = m.group(3)
            for source in (rs.outputs, rs.attributes, {"id": rs.id, "version": rs.version}):
                if attr in source:
                    return str(source[attr])
            return ""

        uses_secret = any(f"var.{v}" in value for v in config.sensitive_variables)
        out[name] = {
            "value": pattern.sub(sub, value),
            "sensitive": bool(decl.get("sensitive", False)) or uses_secret,
            "description": decl.get("description", ""),
        }
    return out


def credentials(session: Session, state: State) -> dict[str, dict[str, str]]:
    """Secrets in clear (endpoint keys), read live from the provider: only on explicit request."""
    out: dict[str, dict[str, str]] = {}
    for address, rs in sorted(state.resources.items()):
        rt = session.provider.resource_type(rs.kind)
        if rt is None or rs.status != "live":
            continue
        found = rt.credentials(session.ctx, observed_of(rs))
        if found:
            out[address] = found
    return out


# -- import ------------------------------------------------------------------------------------------
def import_resource(session: Session, state: State, address: Address, ident: str) -> ResourceState:
    if str(address) in state.resources:
        raise StateError(
            f"{address} is already in state (id {state.resources[str(address)].id}); "
            "use `mlplan state rm` first to re-import"
        )
    rt = resource_type(session.provider, address.kind, str(address))
    if not rt.valid_id(ident):
        raise UsageError(
            f"{ident!r} is not a {address.kind} id of the {session.provider.name} provider: expected {rt.id_format}"
        )
    observed = rt.read(session.ctx, ident)
    if observed is None:
        raise ProviderError(f"no {address.kind} with id {ident!r} exists in the workspace", address=str(address))
    rs = state_of(address, session.provider.name, observed)
    journal = session.backend.journal(state, held_lock(session))
    try:
        journal.begin("import", str(address), "import")
        journal.end("import", str(address), rs)
    finally:
        journal.close()
    return rs
