"""What the ``mlplan`` commands share: the command context, common options, opening a session, reading a
plan file, and rendering progress events. Engine modules are imported inside functions, so that
``mlplan --help`` does not pay for them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from mlplan.engine.address import Address
    from mlplan.engine.events import Emit
    from mlplan.engine.plan import Plan
    from mlplan.engine.planner import PlanOptions
    from mlplan.engine.session import Session, StateSession
    from mlplan.state.model import State

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
F = TypeVar("F", bound=Callable[..., Any])


class Obj:
    """The group's options, handed to every command."""

    def __init__(self, chdir: str | None, env: str | None, no_color: bool = False) -> None:
        self.root = Path(chdir or ".").resolve()
        self.env = env
        self.no_color = no_color

    @property
    def color(self) -> bool:
        """Colour on a terminal, unless --no-color or NO_COLOR (https://no-color.org) says otherwise."""
        import sys

        return not self.no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def err(msg: str) -> None:
    click.echo(msg, err=True)


def parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--var expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def seconds(text: str) -> float:
    from mlplan.engine.durations import parse_duration

    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise click.UsageError(f"--lock-timeout: {exc}") from None


def open_session(obj: Obj, variables: tuple[str, ...] = (), lock_timeout: str = "0s") -> Session:
    from mlplan.engine import session

    if not obj.root.is_dir():
        raise click.UsageError(f"-C {obj.root}: no such directory")
    return session.open_session(obj.root, obj.env, parse_vars(variables), seconds(lock_timeout), log=err)


def open_state(obj: Obj) -> StateSession:
    """The environment's state, for ``mlplan state ...`` (resource files need not be valid)."""
    from mlplan.engine import session

    if not obj.root.is_dir():
        raise click.UsageError(f"-C {obj.root}: no such directory")
    return session.open_state_session(obj.root, obj.env)


def address(text: str) -> Address:
    """An address from the command line, or a usage error saying what one looks like."""
    from mlplan.engine.address import Address

    try:
        return Address.parse(text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def plan_options(
    refresh: bool = True,
    refresh_only: bool = False,
    target: tuple[str, ...] = (),
    replace: tuple[str, ...] = (),
    destroy: bool = False,
) -> PlanOptions:
    """The planning options of a command line; flags that contradict each other are usage errors."""
    from datetime import datetime

    from mlplan.engine.cli_flags import check_plan_flags
    from mlplan.engine.planner import PlanOptions

    used = {
        "--no-refresh": not refresh,
        "--refresh-only": refresh_only,
        "--destroy": destroy,
        "--target": bool(target),
        "--replace": bool(replace),
    }
    check_plan_flags(flag for flag, on in used.items() if on)
    now_text = os.environ.get("MLPLAN_NOW")  # for tests and what-if runs: "2026-01-01T00:00:00+00:00"
    return PlanOptions(
        refresh=refresh,
        refresh_only=refresh_only,
        destroy=destroy,
        targets=tuple(address(t) for t in target),
        replace=tuple(address(t) for t in replace),
        now=datetime.fromisoformat(now_text) if now_text else None,
        parallelism=0,
    )


_DESTRUCTIVE = ("delete", "archive", "replace")
_LISTED = 5


def confirm_prompt(plan: Plan, what: str) -> str:
    """Terraform's question before an apply or a destroy; a plan that deletes, archives or replaces
    something names what it removes."""
    env = plan.environment
    if what == "destroy":
        return (
            f"Do you really want to destroy all resources in environment {env}?\n"
            "  mlplan will destroy all the resources it manages in this environment, as shown above"
            " (asset versions are archived).\n"
            "  There is no undo. Only 'yes' will be accepted to confirm.\n"
        )
    removed = [f"{c.address} ({c.action.value})" for c in plan.changes if c.action.value in _DESTRUCTIVE]
    lines = [
        f"Do you want to perform these actions in environment {env}?",
        "  mlplan will perform the actions described above.",
    ]
    if removed:
        more = f" and {len(removed) - _LISTED} more" if len(removed) > _LISTED else ""
        lines.append(f"  This removes or replaces {', '.join(removed[:_LISTED])}{more}: there is no undo.")
    lines.append("  Only 'yes' will be accepted to approve.")
    return "\n".join(lines) + "\n"


def confirmation(auto_approve: bool, what: str) -> Callable[[Plan], bool]:
    """What ``workflow.run_apply`` calls before changing anything: True only for the answer ``yes``
    (or with --auto-approve). Without a terminal it refuses to guess. Ctrl-C at the question interrupts
    at once (apply's own Ctrl-C handling, which lets operations finish, starts only after it)."""
    import signal
    import sys

    from mlplan.core.errors import UsageError

    def confirm(plan: Plan) -> bool:
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            saved = "`mlplan plan --destroy --out FILE`" if what == "destroy" else "`mlplan plan --out FILE`"
            raise UsageError(
                f"{what} needs confirmation but there is no terminal to ask; pass --auto-approve, or apply a"
                f" saved plan file ({saved}, then `mlplan apply FILE`)"
            )
        click.echo("\n" + confirm_prompt(plan, what))
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            answer = input("  Enter a value: ")
        except EOFError:
            answer = ""
        finally:
            signal.signal(signal.SIGINT, previous)
        click.echo("")
        return answer.strip() == "yes"

    return confirm


def output_values(
    env: str, state: State, outputs: dict[str, Any], name: str | None, show_sensitive: bool, as_json: bool
) -> dict[str, Any]:
    """What `mlplan output` prints; an error when there is nothing to print rather than empty values."""
    from mlplan.core.errors import MlplanError, UsageError
    from mlplan.engine.outputs import NOT_KNOWN, applied, shown, suggestion

    if not applied(state):
        raise MlplanError(
            f"nothing is applied in environment {env} yet (its state has no resources), so there are no"
            " outputs to show; run `mlplan apply` first"
        )
    values = shown(outputs, show_sensitive, None if as_json else NOT_KNOWN)
    if name is not None:
        if name not in values:
            raise UsageError(f"no output named {name!r}; {suggestion(name, sorted(values), 'declared outputs')}")
        if outputs[name]["value"] is None:
            raise MlplanError(
                f"output {name!r} has no value yet: it refers to a resource that is not applied in environment"
                f" {env}; run `mlplan apply`"
            )
    return values


def load_plan(path: str) -> Plan:
    import json

    from mlplan.core.errors import UsageError
    from mlplan.engine.plan import Plan

    try:
        return Plan.from_json(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not an mlplan plan file ({exc})") from None


def progress(fmt: str) -> Emit:
    """Progress events rendered as timestamped lines on stderr (only failures with --format json)."""
    from mlplan.engine.events import OperationFailed
    from mlplan.engine.render import progress_line

    started = time.monotonic()

    def emit(event: Any) -> None:
        if fmt == "json" and not isinstance(event, OperationFailed):
            return
        line = progress_line(event)
        if line is not None:
            err(f"[{time.monotonic() - started:6.1f}s] {line}")

    return emit


var_option = click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a variable (repeatable); overrides MLPLAN_VAR_<NAME>, the environment's values and defaults.",
)
lock_option = click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="Wait this long for the state lock (e.g. 30s, 5m) instead of failing at once.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Alias of --format json (not with another --format)."
)


def with_options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def deco(f: F) -> F:
        for opt in reversed(options):
            f = opt(f)
        return f

    return deco
