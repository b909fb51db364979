"""Command-line flags that cannot work together are usage errors, never silently ignored; and the
global options ``-C/--chdir`` and ``-e/--env`` are accepted after the command as well as before it.

Each refusal names both flags and says what to do instead. Engine modules are imported inside
functions, so that ``mlplan --help`` does not pay for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlplan.engine.config import Config

# --no-refresh, --refresh-only, --destroy, --target, --replace: pairs that cannot be combined, and why
_PLAN_CONFLICTS: tuple[tuple[str, str, str], ...] = (
    (
        "--destroy",
        "--refresh-only",
        "--refresh-only records what changed outside mlplan and --destroy plans the deletion of everything;"
        " run them one after the other",
    ),
    (
        "--refresh-only",
        "--target",
        "--refresh-only reads every resource in state and changes nothing, so there is nothing to target;"
        " drop --target (`mlplan plan --target ADDR` plans the changes of ADDR)",
    ),
    (
        "--refresh-only",
        "--replace",
        "--refresh-only changes nothing in the workspace, so it replaces nothing;"
        " run `mlplan plan --replace ADDR` on its own",
    ),
    (
        "--no-refresh",
        "--refresh-only",
        "--refresh-only is a refresh and nothing else; drop --no-refresh",
    ),
    (
        "--destroy",
        "--target",
        "--destroy deletes everything in state; to delete one resource, remove it from the configuration"
        " and plan without --destroy",
    ),
    (
        "--destroy",
        "--replace",
        "--destroy deletes everything in state, so nothing is replaced; drop --replace",
    ),
)


def refuse(first: str, second: str, why: str) -> click.UsageError:
    return click.UsageError(f"{first} cannot be combined with {second}: {why}")


def check_plan_flags(given: Iterable[str]) -> None:
    """Refuse planning flags that contradict each other (``given``: the flags used, as typed)."""
    used = set(given)
    for first, second, why in _PLAN_CONFLICTS:
        if first in used and second in used:
            raise refuse(first, second, why)


def check_saved_plan_flags(given: Iterable[str]) -> None:
    """A saved plan is applied exactly as it was made: flags that would shape a new plan are refused."""
    flag = next(iter(given), None)
    if flag is not None:
        raise refuse(
            "PLANFILE",
            flag,
            "a saved plan is applied exactly as it was made, so it cannot be changed at apply;"
            f" make a new plan with it: `mlplan plan {flag} ... --out FILE`, then `mlplan apply FILE`",
        )


def check_saved_plan_vars(config: Config, variables: Iterable[str]) -> None:
    """``--var`` with a saved plan: the plan carries the values it was made with, except sensitive ones,
    which it holds only as markers and which must be given again (when not set another way)."""
    for item in variables:
        name = item.partition("=")[0]
        if name not in config.sensitive_variables:
            raise refuse(
                "PLANFILE",
                f"--var {name}=...",
                "a saved plan carries the variable values it was made with, and --var cannot change them;"
                f" drop --var, or make a new plan with the value: `mlplan plan --var {item} --out FILE`"
                " (only sensitive variables, which a plan holds as markers, are given again when applying it)",
            )


def output_format(fmt: str, as_json: bool) -> str:
    """``--json`` is ``--format json``: given with another ``--format``, the two disagree."""
    ctx = click.get_current_context()
    if as_json and fmt != "json" and ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT:
        raise refuse("--json", f"--format {fmt}", "--json is short for --format json; give one of --json or --format")
    return "json" if as_json else fmt


# -- -C/--chdir and -e/--env after the command --------------------------------------------------------

_GLOBALS = {"chdir": "-C/--chdir", "env": "-e/--env", "no_color": "--no-color"}


def _after_command(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Put a global option given after the command where the group's own would have gone; given on both
    sides with different values, it is ambiguous: refused."""
    from mlplan.engine.cli_common import Obj

    if not value or param.name is None:
        return
    root = ctx.find_root()
    before = root.params.get(param.name)
    from_line = root.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE
    if from_line and before is not None and param.name != "no_color" and not _same(param.name, before, value):
        raise click.UsageError(
            f"{_GLOBALS[param.name]} is given twice, before the command ({before}) and after it ({value}); give it once"
        )
    obj = ctx.find_object(Obj)
    if obj is None:  # pragma: no cover - the group always makes one
        return
    if param.name == "chdir":
        obj.root = Path(value).resolve()
    elif param.name == "no_color":
        obj.no_color = True  # a flag: given on either side, it holds
    else:
        obj.env = value


def _same(name: str, before: str, after: str) -> bool:
    if name == "chdir":
        return Path(before).resolve() == Path(after).resolve()
    return before == after


def accept_global_options(group: click.Group) -> None:
    """Give every command (and sub-group) of ``group`` the global ``-C``, ``-e`` and ``--no-color`` as well:
    ``mlplan plan -e dev`` is ``mlplan -e dev plan``."""
    for command in group.commands.values():
        if any(p.name in _GLOBALS for p in command.params):
            continue
        command.params += _options()
        if isinstance(command, click.Group):
            accept_global_options(command)


def _options() -> list[Any]:
    return [
        click.Option(
            ["-C", "--chdir"],
            metavar="DIR",
            expose_value=False,
            callback=_after_command,
            help="Global option, also accepted here: run as if started in DIR.",
        ),
        click.Option(
            ["-e", "--env"],
            metavar="NAME",
            expose_value=False,
            callback=_after_command,
            help="Global option, also accepted here: the environment to work on.",
        ),
        click.Option(
            ["--no-color"],
            is_flag=True,
            expose_value=False,
            callback=_after_command,
            help="Global option, also accepted here: no colour in the plan.",
        ),
    ]
