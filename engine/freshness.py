"""Whether a saved plan still holds: same project and state, same configuration, same data sources.

A saved plan applies only to what it was made from: the state it read (lineage, serial), what the
configuration said of each resource (``config_hash``: spec, files, lifecycle), and each data source
at the version it pinned. Anything that moved makes apply refuse, listing what changed, before
anything is written.
"""

from __future__ import annotations

from mlplan.core.errors import StalePlanError
from mlplan.engine.desired import ContentCache, config_hash_of
from mlplan.engine.events import Emit, Note, quiet
from mlplan.engine.nodes.base import attributes_digest, resource_type
from mlplan.engine.plan import Action, Plan, ResourceChange
from mlplan.engine.session import Session
from mlplan.state.model import State

_SHOWN = 8


def check_fresh(saved: Plan, session: Session, state: State, emit: Emit = quiet) -> None:
    """Raise StalePlanError naming everything that changed since ``saved`` was made."""
    problems = _identity(saved, session, state)
    moved = _config_moved(saved, session)
    if moved:
        problems.append(f"inputs changed since the plan was made: {_listing(moved)}")
    problems += _sources_moved(saved, session, emit)
    if problems:
        raise StalePlanError("saved plan is stale: " + "; ".join(problems) + ". Run `mlplan plan --out FILE` again.")


def _identity(saved: Plan, session: Session, state: State) -> list[str]:
    config = session.config
    problems = []
    if saved.project != config.project or saved.environment != config.environment.name:
        problems.append(
            f"the plan is for {saved.project}/{saved.environment}, not {config.project}/{config.environment.name}"
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
    return problems


def _config_moved(saved: Plan, session: Session) -> list[str]:
    config = session.config
    cache = ContentCache(config.digests)
    scrub = session.redactor.scrub if session.redactor else None
    moved = []
    for c in saved.changes:
        if not c.config_hash:
            continue
        res = config.resources.get(c.address)
        if res is None:
            moved.append(f"{c.address} (no longer configured)")
        elif config_hash_of(res, cache, scrub) != c.config_hash:
            moved.append(str(c.address))
    return moved


def _sources_moved(saved: Plan, session: Session, emit: Emit) -> list[str]:
    """Each data source the plan pinned must still be what it was; say so when its label moved on."""
    problems = []
    for c in saved.changes:
        if c.action is not Action.READ or c.pin is None:
            continue
        ref = session.graph.data_sources.get(c.address)
        if ref is None:
            problems.append(f"{c.address} is no longer referenced")
            continue
        rt = resource_type(session.provider, c.address.kind, str(c.address))
        name = ref.raw if ref.registry else ref.target.name
        now = rt.lookup(session.ctx, name, c.pin.version)
        if now is None or now.archived:
            gone = "no longer exists" if now is None else "was archived"
            problems.append(f"{_pinned(c)} {gone}")
        elif now.id != c.pin.id or attributes_digest(now.attributes) != c.pin.digest:
            problems.append(f"{_pinned(c)} changed")
        elif ref.is_latest:
            latest = rt.lookup(session.ctx, name, None)
            if latest is not None and latest.version != c.pin.version:
                moved_on = f"{c.address} now resolves to version {latest.version}"
                emit(Note(f"{moved_on}; this plan uses {c.pin.version}, as reviewed"))
    return problems


def _pinned(c: ResourceChange) -> str:
    assert c.pin is not None
    version = f" version {c.pin.version}" if c.pin.version else ""
    return f"data source {c.address}{version} ({c.pin.id})"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
