"""``mlplan import``: take an existing workspace resource into state, without changing it."""

from __future__ import annotations

from mlplan.core import kinds
from mlplan.core.errors import ProviderError, StateError, UsageError
from mlplan.core.suggest import did_you_mean_address
from mlplan.engine.address import Address
from mlplan.engine.desired import state_of
from mlplan.engine.nodes.base import resource_type
from mlplan.engine.session import Session, held_lock
from mlplan.state.model import ResourceState, State


def import_resource(session: Session, state: State, address: Address, ident: str) -> ResourceState:
    # as Terraform: what is imported must be configured, or the next plan would remove it
    if address not in session.config.resources:
        close = did_you_mean_address(str(address), map(str, session.config.resources))
        raise UsageError(
            f"{address} is not a resource of this project's configuration: write its resource file first (a"
            f" resource in state that the configuration lacks is removed by the next apply){close}"
        )
    rt = resource_type(session.provider, address.kind, str(address))
    if not rt.valid_id(ident):
        raise UsageError(
            f"{ident!r} is not {kinds.a(address.kind)} id of the {session.provider.name} provider:"
            f" expected {rt.id_format}"
        )
    if str(address) in state.resources:
        raise StateError(
            f"{address} is already in state (id {state.resources[str(address)].id}); "
            "use `mlplan state rm` first to re-import"
        )
    observed = rt.read(session.ctx, ident)
    if observed is None:
        raise ProviderError(
            f"no {kinds.noun(address.kind)} with id {ident!r} exists in the workspace", address=str(address)
        )
    rs = state_of(address, session.provider.name, observed)
    journal = session.backend.journal(state, held_lock(session))
    try:
        journal.begin("import", str(address), "import")
        journal.end("import", str(address), rs)
    finally:
        journal.close()
    return rs
