"""``mlplan state ...``: inspect and repair state. Every modifying command keeps a backup."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlplan.engine.cli_common import CONTEXT, Obj, address, open_state

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mlplan.engine.session import StateSession
    from mlplan.state.base import LockInfo
    from mlplan.state.model import State


@click.group("state", context_settings=CONTEXT)
def state_group() -> None:
    """Inspect and repair state: list, show, mv, rm, pull, push."""


@state_group.command("list", context_settings=CONTEXT)
@click.pass_obj
def list_(obj: Obj) -> None:
    """List the addresses in state (operations an interrupted run left pending go to stderr).

    \b
    Example:
      mlplan -e dev state list
    """
    state = open_state(obj).backend.read()
    for addr in sorted(state.resources):
        click.echo(addr)
    for op in sorted(state.pending.values(), key=lambda p: p.started_at):
        click.echo(
            f"pending: {op.action} {op.address} (operation {op.op_id}, started {op.started_at}, interrupted);"
            " the next plan or apply reconciles it",
            err=True,
        )


@state_group.command(context_settings=CONTEXT)
@click.argument("address_text", metavar="ADDRESS")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: Obj, address_text: str, as_json: bool) -> None:
    """Show one resource's state: attributes, outputs (secrets appear only as hashes).

    \b
    Examples:
      mlplan state show job.train
      mlplan state show online_endpoint.cancer --json
    """
    from mlplan.core.errors import StateError

    address(address_text)
    state = open_state(obj).backend.read()
    rs = state.resources.get(address_text)
    if rs is None:
        raise StateError(f"{_not_in_state([address_text], state)}; see `mlplan state list`")
    data = rs.to_json()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from mlplan.core.diffing import show as shown

    for key in ("address", "id", "version", "status", "created_at", "updated_at", "input_hash"):
        if data.get(key):
            click.echo(f"{key:12} {data[key]}")
    click.echo("attributes:")
    for key, value in sorted(data["attributes"].items()):
        click.echo(f"  {key} = {shown(value)}")
    if data["outputs"]:
        click.echo("outputs:")
        for key, value in sorted(data["outputs"].items()):
            click.echo(f"  {key} = {shown(value)}")
    if data["secrets"]:
        click.echo("secrets (hashes only):")
        for key in sorted(data["secrets"]):
            click.echo(f"  {key} = (sensitive)")


def _not_in_state(addresses: list[str], state: State) -> str:
    """``not in state: job.trian (did you mean job.train?)``."""
    from mlplan.core.suggest import closest_address

    named = []
    for text in addresses:
        close = closest_address(text, state.resources)
        named.append(f"{text} (did you mean {close}?)" if close is not None else text)
    return f"not in state: {', '.join(named)}"


def _lock(session: StateSession) -> LockInfo:
    from mlplan.engine.session import held_lock

    return held_lock(session)


def _modify(obj: Obj, operation: str) -> tuple[StateSession, AbstractContextManager[State]]:
    from mlplan.engine.session import locked_state

    session = open_state(obj)
    return session, locked_state(session, operation)


@state_group.command(context_settings=CONTEXT)
@click.argument("source")
@click.argument("destination")
@click.pass_obj
def mv(obj: Obj, source: str, destination: str) -> None:
    """Rename SOURCE to DESTINATION in state (e.g. after renaming a resource).

    \b
    Example:
      mlplan state mv compute.cpu compute.cpu-cluster
    """
    from mlplan.core.errors import StateError
    from mlplan.core.kinds import a

    src, dst = address(source), address(destination)
    if src.kind != dst.kind:
        raise StateError(f"cannot move {a(src.kind)} to {a(dst.kind)}")
    session, lock = _modify(obj, "state mv")
    with lock as state:
        if source not in state.resources:
            raise StateError(_not_in_state([source], state))
        if destination in state.resources:
            raise StateError(f"{destination} is already in state; `mlplan state rm` it first")
        rs = state.resources.pop(source)
        rs.address = destination
        state.resources[destination] = rs
        session.backend.write(state, _lock(session))
    click.echo(f"Moved {source} to {destination}.")


@state_group.command(context_settings=CONTEXT)
@click.argument("addresses", nargs=-1, required=True)
@click.pass_obj
def rm(obj: Obj, addresses: tuple[str, ...]) -> None:
    """Forget ADDRESSES without deleting them from the workspace.

    \b
    Example:
      mlplan state rm online_deployment.cancer/green
    """
    from mlplan.core.errors import StateError

    for a in addresses:
        address(a)
    session, lock = _modify(obj, "state rm")
    with lock as state:
        missing = [a for a in addresses if a not in state.resources]
        if missing:
            raise StateError(f"{_not_in_state(missing, state)}; nothing was removed")
        for a in addresses:
            del state.resources[a]
        session.backend.write(state, _lock(session))
    click.echo(f"Removed {len(addresses)} resource(s) from state; they still exist in the workspace.")


@state_group.command(context_settings=CONTEXT)
@click.pass_obj
def pull(obj: Obj) -> None:
    """Print the current state document (JSON).

    \b
    Example:
      mlplan -e prd state pull > prd-state.json
    """
    state = open_state(obj).backend.read()
    click.echo(json.dumps(state.to_json(), indent=1))


@state_group.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--force", is_flag=True, help="Accept another lineage or a lower serial.")
@click.pass_obj
def push(obj: Obj, file: str, force: bool) -> None:
    """Replace the state with FILE ('-' for stdin); refuses a lower serial or another lineage.

    \b
    Examples:
      mlplan -e prd state push prd-state.json
      mlplan -e prd state push --force .mlplan/state/prd.json.backup
    """
    from mlplan.core.errors import StateError
    from mlplan.state.model import State

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        new = State.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{file} is not an mlplan state document ({exc})") from None
    session, lock = _modify(obj, "state push")
    with lock as state:
        if not force:
            if state.resources and new.lineage != state.lineage:
                raise StateError(
                    f"{file} has lineage {new.lineage}, the state has {state.lineage}; use --force to replace it anyway"
                )
            if new.serial < state.serial:
                raise StateError(
                    f"{file} has serial {new.serial}, older than the state's {state.serial}; "
                    "use --force to replace it anyway"
                )
        new.serial = max(new.serial, state.serial)
        session.backend.write(new, _lock(session))
    click.echo(f"Pushed {file}: {len(new.resources)} resource(s), serial {new.serial}.")
