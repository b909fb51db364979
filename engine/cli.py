"""The ``mlplan`` command line: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mlplan.engine import __version__
from mlplan.engine.cli_common import (
    CONTEXT,
    Obj,
    address,
    confirmation,
    err,
    format_option,
    json_option,
    load_plan,
    lock_option,
    open_session,
    open_state,
    output_values,
    plan_options,
    progress,
    var_option,
    with_options,
)
from mlplan.engine.cli_flags import accept_global_options, check_saved_plan_flags, check_saved_plan_vars, output_format

if TYPE_CHECKING:
    from mlplan.engine.plan import Plan
    from mlplan.engine.planner import PlanOptions


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(__version__, prog_name="mlplan")
@click.option("-C", "--chdir", metavar="DIR", help="Run as if started in DIR (the project root).")
@click.option("--no-color", is_flag=True, help="No colour in the plan (also: NO_COLOR set, or not a terminal).")
@click.option(
    "-e",
    "--env",
    metavar="NAME",
    envvar="MLPLAN_ENV",
    help="Environment to work on (default: default_environment or local; env MLPLAN_ENV).",
)
@click.pass_context
def cli(ctx: click.Context, chdir: str | None, no_color: bool, env: str | None) -> None:
    """Terraform-style plan/apply for Azure Machine Learning.

    \b
    Typical use:
      mlplan plan --out plan.json          # what would change, and why
      mlplan show --format markdown plan.json > comment.md
      mlplan apply plan.json               # exactly those changes
      mlplan -e dev apply --auto-approve   # plan + apply in one go
    """
    ctx.obj = Obj(chdir, env, no_color)
    if ctx.invoked_subcommand is None:  # bare `mlplan`: what it can do
        click.echo(ctx.get_help())


@cli.command(context_settings=CONTEXT)
@click.option("--quickstart", is_flag=True, help="Copy the quickstart project here (train, register, deploy, locally).")
@click.option("--example", is_flag=True, help="Print the annotated example of mlplan.yaml: every setting.")
@click.option("--schema", "json_schema", is_flag=True, help="Print the JSON Schema of mlplan.yaml, for editors.")
@click.pass_obj
def init(obj: Obj, quickstart: bool, example: bool, json_schema: bool) -> None:
    """Start a project: write a minimal mlplan.yaml in the folder (-C DIR, or the current one).

    Never overwrites a file.

    \b
    Examples:
      mlplan init
      mlplan -C churn init --quickstart && mlplan -C churn apply --auto-approve
      mlplan init --example > mlplan.example.yaml
      mlplan init --schema > .vscode/mlplan.schema.json
    """
    from mlplan.engine import scaffold

    if sum((quickstart, example, json_schema)) > 1:
        raise click.UsageError("--quickstart, --example and --schema do one thing each: choose one")
    if example or json_schema:
        click.echo(scaffold.example() if example else scaffold.schema(), nl=False)
        return
    if quickstart:
        written = scaffold.copy_quickstart(obj.root)
        click.echo(f"Copied the quickstart into {obj.root} ({len(written)} files).")
        click.echo(f"Next: mlplan -C {obj.root} apply --auto-approve   (trains, registers and serves a model locally)")
        return
    target = scaffold.write_project(obj.root)
    click.echo(f"Wrote {target}. Add Azure ML CLI v2 YAML files beside it, then: mlplan plan")


@cli.command(context_settings=CONTEXT)
@var_option
@click.option("--no-sdk", is_flag=True, help="Skip the azure-ai-ml loader checks (faster).")
@click.pass_obj
def validate(obj: Obj, variables: tuple[str, ...], no_sdk: bool) -> None:
    """Check mlplan.yaml and every resource file; report all problems at once.

    Resource files are checked against azure-ai-ml's schemas as plan checks them (unknown keys,
    types, references, names Azure refuses); then the azure-ai-ml loaders (load_data, load_job, ...)
    run on each file, and what they refuse that was not reported yet is reported one line per field.

    \b
    Example:
      mlplan validate
      mlplan -e prd validate --no-sdk     # an azure environment, offline
    """
    from mlplan.core.errors import ValidationFailed
    from mlplan.engine.config import Config
    from mlplan.providers.azure.loaders import loader_problems

    try:
        session = open_session(obj, variables)
        config = session.config
        diags = []
        for warning in session.warnings:
            err(warning.render().replace("Error: ", "Warning: ", 1))
    except ValidationFailed as exc:
        if not isinstance(exc.partial, Config):
            raise
        config, diags = exc.partial, list(exc.diagnostics)
    if not no_sdk:  # the SDK's opinion too, so that every problem is reported in one run
        said = {(d.file, d.line) for d in diags}
        for res in config.resources.values():
            if res.derived_from is not None:  # a derived resource has no file of its own
                continue
            for p in loader_problems(res.address.kind, config.root / res.file, res.spec):
                diag = res.diag(p.message, p.path, p.hint)
                # what mlplan said already (at that key, or at that line), in its own words, is not repeated
                if not res.already_flagged(p.path) and not (p.path and (diag.file, diag.line) in said):
                    diags.append(diag)
    if diags:
        raise ValidationFailed(diags)
    n = len(config.resources)
    click.echo(f"The configuration is valid: {n} resource(s) in environment {config.environment.name}.")


@cli.command(context_settings=CONTEXT)
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan to FILE for `mlplan apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0: no changes, 1: error, 2: changes present.")
@format_option
@json_option
@click.option("--refresh/--no-refresh", default=True, help="Read the live workspace first (default) or trust state.")
@click.option("--refresh-only", is_flag=True, help="Only show what changed outside mlplan (drift).")
@click.option("--target", multiple=True, metavar="ADDR", help="Limit the plan to ADDR and its dependencies.")
@click.option("--replace", multiple=True, metavar="ADDR", help="Plan ADDR for replacement (or a new version).")
@click.option("--destroy", is_flag=True, help="Plan the deletion of everything in state.")
@var_option
@lock_option
@click.pass_obj
def plan(
    obj: Obj,
    out: str | None,
    detailed_exitcode: bool,
    fmt: str,
    as_json: bool,
    refresh: bool,
    refresh_only: bool,
    target: tuple[str, ...],
    replace: tuple[str, ...],
    destroy: bool,
    variables: tuple[str, ...],
    lock_timeout: str,
) -> None:
    """Show what apply would change, and why, with warnings (an endpoint that routes no traffic).

    \b
    Examples:
      mlplan plan
      mlplan plan --out plan.json --detailed-exitcode
      mlplan -e dev plan --var algorithm=majority --format markdown
      mlplan plan -e dev                           # -e and -C also go after the command
      mlplan plan --target model.iris --replace environment.sklearn
      mlplan plan --destroy --out destroy.json     # review a destroy, then: mlplan apply destroy.json

    Flags that contradict each other are refused: --refresh-only with --destroy, --target, --replace
    or --no-refresh; --destroy with --target or --replace; --json with another --format.
    """
    fmt = output_format(fmt, as_json)
    the_plan = _plan_and_show(
        obj, plan_options(refresh, refresh_only, target, replace, destroy), fmt, variables, lock_timeout
    )
    if out:
        from mlplan.state.local import atomic_write

        atomic_write(Path(out).resolve(), the_plan.dumps().encode())
        if fmt != "json":
            click.echo(f"Saved the plan to {out}. Apply exactly these changes with: mlplan apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(2)


def _plan_and_show(obj: Obj, options: PlanOptions, fmt: str, variables: tuple[str, ...], lock_timeout: str) -> Plan:
    from mlplan.engine import render, workflow
    from mlplan.engine.session import locked_state, require_ready

    session = open_session(obj, variables, lock_timeout)
    require_ready(session)  # before the state lock: what the user can act on first
    with locked_state(session, "plan") as state:
        the_plan = workflow.plan(session, state, options, progress(fmt))
    click.echo(render.render(the_plan.to_json(), fmt, color=obj.color))
    return the_plan


@cli.command(context_settings=CONTEXT)
@format_option
@json_option
@var_option
@lock_option
@click.pass_obj
def drift(obj: Obj, fmt: str, as_json: bool, variables: tuple[str, ...], lock_timeout: str) -> None:
    """Check whether the live workspace was changed outside mlplan.

    Reads every resource in state and compares it with what state recorded; configuration
    changes that are not applied yet are not drift (`mlplan plan` shows those). State is not
    updated (`mlplan apply` repairs drift). Exit 0: no drift, 1: error, 2: drift (for a nightly
    CI job).
    Same as `mlplan plan --refresh-only --detailed-exitcode`.

    \b
    Examples:
      mlplan -e prd drift
      mlplan -e prd drift --format markdown > drift.md
    """
    fmt = output_format(fmt, as_json)
    the_plan = _plan_and_show(obj, plan_options(refresh_only=True), fmt, variables, lock_timeout)
    if the_plan.has_changes:
        sys.exit(2)


@cli.command(context_settings=CONTEXT)
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@format_option
@json_option
@click.pass_obj
def show(obj: Obj, planfile: str | None, fmt: str, as_json: bool) -> None:
    """Render a saved plan (or, without PLANFILE, the current state).

    \b
    Examples:
      mlplan show plan.json
      mlplan show --format markdown plan.json   # for a PR comment
    """
    from mlplan.engine import render

    fmt = output_format(fmt, as_json)
    if planfile:
        click.echo(render.render(load_plan(planfile).to_json(), fmt, color=obj.color))
        return
    session = open_session(obj)
    state = session.backend.read()
    if fmt == "json":
        click.echo(json.dumps(state.to_json(), indent=2))
        return
    for addr, rs in sorted(state.resources.items()):
        click.echo(
            f"{addr}  id={rs.id}"
            + (f"  version={rs.version}" if rs.version else "")
            + (f"  [{rs.status}]" if rs.status != "live" else "")
        )
    click.echo(f"{len(state.resources)} resource(s) in state (serial {state.serial}).")


def _run_apply(
    obj: Obj,
    planfile: str | None,
    auto_approve: bool,
    parallelism: int | None,
    keep_going: bool,
    variables: tuple[str, ...],
    lock_timeout: str,
    options: PlanOptions,
    what: str,
) -> None:
    from mlplan.core.errors import ApplyFailed, Interrupted
    from mlplan.engine import render, workflow
    from mlplan.engine.apply import ApplyOptions

    session = open_session(obj, variables, lock_timeout)
    if planfile:
        check_saved_plan_vars(session.config, variables)
    request = workflow.ApplyRequest(
        saved=load_plan(planfile) if planfile else None,
        options=options,
        apply=ApplyOptions(parallelism=parallelism or 0, keep_going=keep_going),
        what=what,
    )
    with _stop_on_interrupt(session.ctx.cancelled) as stop:
        report = workflow.run_apply(
            session,
            request,
            show=lambda p: click.echo(render.text(p.to_json(), color=obj.color)),
            confirm=confirmation(auto_approve, what),
            emit=progress("text"),
            stop=stop,
        )
    if report.refreshed:
        click.echo("State refreshed from the workspace.")
    result = report.result
    if result is None:
        _print_outputs(report.outputs)
        return
    n_done, n_failed, n_skipped = len(result.done), len(result.failed), len(result.skipped)
    extra = f", {len(result.cancelled)} cancelled" if result.cancelled else ""
    extra += f", {len(result.not_met)} condition(s) not met" if result.not_met else ""
    click.echo(
        f"{what.capitalize()} {'complete' if result.ok else 'stopped'}: {n_done} done, {n_failed} failed, "
        f"{n_skipped} skipped{extra}. State saved ({session.backend.describe()})."
    )
    for where, why in result.cancelled.items():
        click.echo(f"  {where}: {why}; recorded as pending: the next plan shows how apply settles it")
    for where, reason in result.not_met.items():
        click.echo(f"  {where}: condition not met: {reason} (its dependents were skipped; this is not a failure)")
    if result.interrupted:
        raise Interrupted("interrupted; state holds every finished operation")
    if result.failed:
        lines = [f"  {a}: {e}" for a, e in result.failed.items()]
        raise ApplyFailed("some operations failed:\n" + "\n".join(lines))
    _print_outputs(report.outputs)


def _print_outputs(outputs: dict[str, Any]) -> None:
    """As Terraform ends an apply: the outputs, sensitive ones hidden (`mlplan output` prints them)."""
    from mlplan.engine.outputs import shown

    if outputs:
        click.echo("\nOutputs:\n")
        for k, v in shown(outputs).items():
            click.echo(f"{k} = {v}")


@contextlib.contextmanager
def _stop_on_interrupt(cancel: threading.Event) -> Iterator[threading.Event]:
    """The first Ctrl-C stops scheduling (running operations finish); the second cancels the running
    operations (each stops and stays recorded for the next apply); a third kills."""
    stop = threading.Event()

    def handler(_sig: int, _frame: Any) -> None:
        if cancel.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        if stop.is_set():
            cancel.set()
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


apply_options = [
    click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation."),
    click.option("--parallelism", type=click.IntRange(1, 256), help="Operations run at once (default 10)."),
    click.option("--keep-going", is_flag=True, help="After a failure, go on with what does not depend on it."),
    var_option,
    lock_option,
]


@cli.command(context_settings=CONTEXT)
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@with_options(apply_options)
@click.option("--target", multiple=True, metavar="ADDR", help="Limit to ADDR and its dependencies.")
@click.option("--replace", multiple=True, metavar="ADDR", help="Replace ADDR (or make a new version).")
@click.option("--refresh-only", is_flag=True, help="Write what the workspace really has into state.")
@click.pass_obj
def apply(
    obj: Obj,
    planfile: str | None,
    auto_approve: bool,
    parallelism: int | None,
    keep_going: bool,
    variables: tuple[str, ...],
    lock_timeout: str,
    target: tuple[str, ...],
    replace: tuple[str, ...],
    refresh_only: bool,
) -> None:
    """Make the changes: those of PLANFILE, or of a fresh plan after confirmation.

    Without PLANFILE, apply plans, shows the plan and asks for the word `yes` (anything else cancels;
    without a terminal, pass --auto-approve). It ends by printing the outputs.

    PLANFILE is applied exactly as it was made, without asking: it is refused when the state or the
    inputs changed since, and --target, --replace, --refresh-only and --var (but for sensitive
    variables, which a plan holds only as markers) cannot change it: give them to `mlplan plan`.

    \b
    Examples:
      mlplan apply plan.json
      mlplan plan --target model.iris --out plan.json && mlplan apply plan.json
      mlplan apply --auto-approve --parallelism 4
      mlplan apply -e dev --auto-approve            # -e and -C also go after the command
    """
    if planfile:
        shaping = {"--target": target, "--replace": replace, "--refresh-only": refresh_only}
        check_saved_plan_flags(flag for flag, given in shaping.items() if given)
    options = plan_options(refresh_only=refresh_only, target=target, replace=replace)
    _run_apply(obj, planfile, auto_approve, parallelism, keep_going, variables, lock_timeout, options, "apply")


@cli.command(context_settings=CONTEXT)
@with_options(apply_options)
@click.pass_obj
def destroy(
    obj: Obj,
    auto_approve: bool,
    parallelism: int | None,
    keep_going: bool,
    variables: tuple[str, ...],
    lock_timeout: str,
) -> None:
    """Delete (or archive, for asset versions) everything mlplan manages in this environment.

    Shows the plan and asks for the word `yes` (anything else cancels; without a terminal, pass
    --auto-approve, or review `mlplan plan --destroy --out FILE` and `mlplan apply FILE`).

    \b
    Examples:
      mlplan destroy
      mlplan -e dev destroy --auto-approve
    """
    options = plan_options(destroy=True)
    _run_apply(obj, None, auto_approve, parallelism, keep_going, variables, lock_timeout, options, "destroy")


@cli.command(context_settings=CONTEXT)
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--show-sensitive", is_flag=True, help="Print sensitive values in clear.")
@var_option
@click.pass_obj
def output(obj: Obj, name: str | None, as_json: bool, show_sensitive: bool, variables: tuple[str, ...]) -> None:
    """Print declared outputs and the ids of managed resources, as the last apply left them.

    Exit 1 when nothing is applied (before the first apply, after a destroy), or when NAME's value is
    not known yet (it refers to a resource not applied yet).

    \b
    Examples:
      mlplan output
      mlplan output scoring_uri
      mlplan output --json
      mlplan output --json --show-sensitive       # endpoint keys and sensitive outputs too
    """
    from mlplan.engine.outputs import credentials, resolve_outputs

    session = open_session(obj, variables)
    state = session.backend.read()
    outputs = resolve_outputs(session.config, state)
    shown = output_values(session.config.environment.name, state, outputs, name, show_sensitive, as_json)
    if name is not None:
        click.echo(json.dumps(shown[name]) if as_json else shown[name])
        return
    resources = {
        a: {"id": r.id, "version": r.version, **r.outputs}
        for a, r in sorted(state.resources.items())
        if r.status == "live"
    }
    if show_sensitive:
        for a, creds in credentials(session, state).items():
            resources[a]["keys"] = creds
    if as_json:
        click.echo(json.dumps({"outputs": shown, "resources": resources}, indent=2, default=str))
        return
    for k, v in shown.items():
        click.echo(f"{k} = {v}")
    for a, r in resources.items():
        click.echo(f"{a}: {r['id']}" + (f" (version {r['version']})" if r["version"] else ""))


@cli.command(context_settings=CONTEXT)
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def promotions(obj: Obj, model: str | None, as_json: bool) -> None:
    """Show the promotion history: each decision (promoted, kept), when, by whom, on which model versions
    and evaluation data, with the evidence (the 2x2 table, the test, p-value and accuracies).

    \b
    Examples:
      mlplan promotions
      mlplan promotions cancer-model --json
    """
    from mlplan.engine import history

    found = history.entries(open_session(obj).backend.read(), model)
    click.echo(json.dumps(found, indent=2, default=str) if as_json else history.text(found), nl=as_json)


def _choose_champion(
    obj: Obj,
    model: str,
    version: str | None,
    decision: str,
    reason: str,
    auto_approve: bool,
    variables: tuple[str, ...],
    lock_timeout: str,
) -> None:
    from mlplan.engine import champions
    from mlplan.engine.planner import PlanOptions

    session = open_session(obj, variables, lock_timeout)
    if version is None:
        version = champions.previous(session.backend.read(), model)
    chosen = champions.request(session, model, version, decision, reason)
    options = PlanOptions(champions=(chosen,), parallelism=0)
    _run_apply(obj, None, auto_approve, None, False, variables, lock_timeout, options, "apply")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--version", "version", required=True, help="The model version to serve.")
@click.option("--reason", required=True, help="Why (recorded in the promotion history).")
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@var_option
@lock_option
@click.pass_obj
def promote(
    obj: Obj, model: str, version: str, reason: str, auto_approve: bool, variables: tuple[str, ...], lock_timeout: str
) -> None:
    """Make VERSION the champion of MODEL without an evaluation (a manual override, recorded as such).

    Plans and applies like `mlplan apply`: the deployments MODEL's promotion policy governs move to
    VERSION with zero-downtime updates, after you confirm the plan.

    \b
    Example:
      mlplan promote cancer-model --version 3 --reason "validated offline by the clinical team"
    """
    _choose_champion(obj, model, version, "manual", reason, auto_approve, variables, lock_timeout)


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--to", "version", help="The version to restore (default: the champion before the current one).")
@click.option("--reason", default="rollback", show_default=True, help="Why (recorded in the promotion history).")
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@var_option
@lock_option
@click.pass_obj
def rollback(
    obj: Obj,
    model: str,
    version: str | None,
    reason: str,
    auto_approve: bool,
    variables: tuple[str, ...],
    lock_timeout: str,
) -> None:
    """Restore an earlier champion of MODEL (the previous one by default), through the same path as apply.

    \b
    Examples:
      mlplan rollback cancer-model
      mlplan rollback cancer-model --to 2 --reason "v4 misclassifies the new scanner's images"
    """
    _choose_champion(obj, model, version, "rollback", reason, auto_approve, variables, lock_timeout)


@cli.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="mermaid", show_default=True)
@var_option
@click.pass_obj
def graph(obj: Obj, fmt: str, variables: tuple[str, ...]) -> None:
    """Print the resource graph (mermaid renders in GitHub comments).

    \b
    Example:
      mlplan graph --format dot | dot -Tpng > graph.png
    """
    from mlplan.engine.graph_render import to_dot, to_mermaid

    session = open_session(obj, variables)
    click.echo(to_dot(session.graph) if fmt == "dot" else to_mermaid(session.graph))


@cli.command("force-unlock", context_settings=CONTEXT)
@click.argument("lock_id")
@click.pass_obj
def force_unlock(obj: Obj, lock_id: str) -> None:
    """Release the state lock LOCK_ID left by a dead mlplan process.

    The local backend refuses while the holder still runs. With the azureblob backend the lock is a blob
    lease: a dead holder's frees itself after lease_seconds, and force-unlock ends it at once whether its
    holder runs or not (its writes are refused from then on), so make sure the holder is gone.

    \b
    Example:
      mlplan force-unlock 0b9c6f1e-...
    """
    open_state(obj).backend.force_unlock(lock_id)
    click.echo(f"Released lock {lock_id}.")


@cli.command("import", context_settings=CONTEXT)
@click.argument("address_text", metavar="ADDRESS")
@click.argument("ident", metavar="ID")
@lock_option
@click.pass_obj
def import_(obj: Obj, address_text: str, ident: str, lock_timeout: str) -> None:
    """Adopt an existing workspace resource ID as ADDRESS, without changing it.

    ADDRESS must be a resource of the configuration (write its file first): one the configuration lacks
    would be removed by the next apply.

    \b
    Examples:
      mlplan import compute.cpu-cluster computes/cpu-cluster
      mlplan import environment.sklearn environments/sklearn/versions/3
    """
    from mlplan.engine.imports import import_resource
    from mlplan.engine.session import locked_state

    addr = address(address_text)
    session = open_session(obj, (), lock_timeout)
    with locked_state(session, "import") as state:
        rs = import_resource(session, state, addr, ident)
    click.echo(f"Imported {addr} ({rs.id}). Run `mlplan plan` to see how it compares with the configuration.")


from mlplan.engine.cli_state import state_group  # noqa: E402

cli.add_command(state_group)
accept_global_options(cli)  # `mlplan plan -e dev` is `mlplan -e dev plan`


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: every error becomes a message and an exit code, never a traceback."""
    from mlplan.core.errors import MlplanError

    try:
        cli.main(args=argv, prog_name="mlplan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err("Aborted.")
        sys.exit(130)
    except click.UsageError as exc:
        # usage errors exit 1, never 2 (2 means "changes present" with --detailed-exitcode)
        command = exc.ctx.command_path if exc.ctx is not None else "mlplan"
        err(f"Error: {exc.format_message()}\n  hint: see `{command} --help` for usage and examples")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except MlplanError as exc:
        err(exc.render())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err("Interrupted.")
        sys.exit(130)
    except Exception as exc:  # a bug: still a message, not a traceback (state is journaled as usual)
        if os.environ.get("MLPLAN_DEBUG"):
            raise
        err(
            f"Error: internal error: {type(exc).__name__}: {exc}\n"
            "  hint: this is a bug in mlplan; state holds every finished operation. Run again with"
            " MLPLAN_DEBUG=1 for the traceback and report it with the command line"
        )
        sys.exit(1)
    sys.exit(0)
