"""``mlplan import``: take an existing workspace resource into state, without changing it."""

from __future__ import annotations

from mlplan.core.errors import ProviderError, StateError, UsageError
from mlplan.engine.address import Address
from mlplan.engine.desired import state_of
from mlplan.engine.nodes.base import resource_type
from mlplan.engine.session import Session, held_lock
from mlplan.state.model import ResourceState, State


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
