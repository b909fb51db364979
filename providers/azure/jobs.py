"""Command jobs on Azure ML (``jobs/<run>``): each run is a new job named after the operation that submits it
(``run_name``), run on the workspace's compute, never re-run when its inputs did not change (the engine's run node
decides that from state).

``create`` submits the job (azure-ai-ml uploads local code and input paths to the default datastore), journals the
run's name as the operation's token right away (``ctx.checkpoint``), then follows it to its end: status changes
and the studio link go to ``ctx.log``; Ctrl-C twice cancels the run on Azure; a run that fails or is canceled
raises ``ProviderError`` with the run's name and its cause (run history's error: the job resource of the REST API
has none). A crash while it runs leaves the token: the next apply waits for that run (``wait``) instead of
submitting another, and a plan reports it as still running (``poll``).

Runs are records: removing a job from the configuration archives its runs (hidden from the studio's default list,
kept in the workspace's history, restorable), as asset versions are archived; Azure ML jobs cannot be deleted
through azure-ai-ml.
"""

from __future__ import annotations

import time
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.core.faults import crashpoint
from mlplan.providers.azure.clients import calling
from mlplan.providers.azure.compute import wait_for
from mlplan.providers.azure.connection import Connection
from mlplan.providers.azure.kinds.common import quiet_sdk, reserved_problems, text
from mlplan.providers.azure.kinds.jobs import JobMap
from mlplan.providers.base import (
    TAG_OPERATION,
    Cancelled,
    Context,
    Desired,
    Observed,
    Problem,
    Progress,
    ResourceType,
    binding_problems,
    run_name,
)

# Job statuses (REST API 2024-04-01 JobStatus) after which nothing changes any more
TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding"})
# Polls start quick (a short run, the tests' loopback) and slow down to one a POLL_MAX_S: a run of hours costs a
# few hundred GETs, well inside ARM's read throttling
POLL_FIRST_S = 0.1
POLL_MAX_S = 10.0
# a run whose status has not changed for this long is said to be still in it, so that a CI log shows it is alive
QUIET_S = 300.0


class JobType(ResourceType):
    kind = "job"
    id_format = "jobs/<run>"
    output_fields = frozenset({"run", "status", "studio_url", "outputs", "arm_id"})
    # no read_batch: jobs.list pages through every run of the workspace (thousands, most of them not mlplan's),
    # while state holds one run per job, read by its name

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.map = JobMap()

    def validate(self, desired: Desired) -> list[Problem]:
        jtype = str(desired.spec.get("type") or desired.subtype or "command").lower()
        if jtype != "command":
            return [
                Problem(
                    ("type",),
                    f"{jtype} jobs are not supported by the azure provider yet (command jobs are)",
                    "submit this job outside mlplan for now, or make it a command job",
                )
            ]
        return reserved_problems(desired.spec) + binding_problems(desired.spec)

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.map.desired_attributes(desired, self.conn.ws())
        return out

    def _observe(self, entity: Any) -> Observed:
        observed: Observed = self.map.observed(entity, self.conn.ws())
        return observed

    def _get(self, ctx: Context, run: str) -> Any | None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling("jobs.get", f"job run '{run}'"), quiet_sdk():
                return ml.jobs.get(run)
        except ResourceNotFoundError:
            return None

    def read(self, ctx: Context, ident: str) -> Observed | None:
        entity = self._get(ctx, ident.split("/", 1)[1])
        return self._observe(entity) if entity is not None else None

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self.read(ctx, f"jobs/{name}")  # jobs are looked up by their run name

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        """The run an interrupted operation submitted before it could journal its token, once it completed (one
        still running or failed is not adopted: ``discard`` cancels it and the job trains again)."""
        entity = self._get(ctx, run_name(name, operation))
        if entity is None or (entity.tags or {}).get(TAG_OPERATION) != operation:
            return None
        return self._observe(entity) if text(entity.status) == "Completed" else None

    def discard(self, ctx: Context, name: str, operation: str) -> None:
        """Cancel the run an interrupted operation left running (not adopted); a finished run stays a record."""
        run = run_name(name, operation)
        entity = self._get(ctx, run)
        if entity is None or (entity.tags or {}).get(TAG_OPERATION) != operation:
            return
        if text(entity.status) not in TERMINAL:
            self._cancel(ctx, run)

    def delete(self, ctx: Context, current: Observed) -> None:
        self.archive(ctx, current)

    def archive(self, ctx: Context, current: Observed) -> None:
        """Archive the run (see the module's docstring)."""
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        run = current.id.split("/", 1)[1]
        try:
            with calling("jobs.archive", f"job run '{run}'"), quiet_sdk():
                ml.jobs.archive(run)
        except ResourceNotFoundError:
            return

    # -- running ----------------------------------------------------------------------------------------------
    def create(self, ctx: Context, desired: Desired) -> Observed:
        ml = self.conn.ml(ctx)
        entity = self.map.to_entity(desired, self.conn.ws())
        run = str(entity.name)
        with calling("jobs.create_or_update", f"job run '{run}' of job '{desired.name}'"), quiet_sdk():
            submitted = ml.jobs.create_or_update(entity)
        ctx.checkpoint({"run": run, "job": desired.name})
        crashpoint("mid_operation")  # submitted and journalled, not finished: the next apply waits for it
        ctx.log(f"[job.{desired.name}] submitted run {run}; studio: {submitted.studio_url or '(no link yet)'}")
        done = self._follow(ctx, run, desired.name, text(submitted.status))
        if text(done.status) != "Completed":
            raise ProviderError(f"job run {run} {self._ending(ctx, done)}", provider="azure")
        return self._observe(done)

    def poll(self, ctx: Context, token: dict[str, Any]) -> Progress:
        entity = self._get(ctx, str(token["run"]))
        if entity is None:
            return Progress(done=True)
        status = text(entity.status)
        if status not in TERMINAL:
            return Progress(done=False)
        return Progress(done=True, result=self._observe(entity) if status == "Completed" else None)

    def wait(self, ctx: Context, token: dict[str, Any]) -> Observed | None:
        """The run an interrupted apply submitted, followed to its end: what it made if it completed, else None
        (the job trains again)."""
        run, job = str(token["run"]), str(token.get("job") or token["run"])
        entity = self._get(ctx, run)
        if entity is None:
            return None
        ctx.log(f"[job.{job}] following run {run} an interrupted apply submitted; studio: {entity.studio_url}")
        done = self._follow(ctx, run, job, text(entity.status))
        if text(done.status) != "Completed":
            ctx.log(f"[job.{job}] run {run} {self._ending(ctx, done)}")
            return None
        return self._observe(done)

    def _follow(self, ctx: Context, run: str, job: str, status: str | None) -> Any:
        """The run once it reached a terminal status, its status changes logged; cancelled: the run is canceled on
        Azure and ``Cancelled`` raised."""
        delay = POLL_FIRST_S
        since = said = time.monotonic()
        while True:
            if ctx.cancelled.wait(delay):
                self._cancel(ctx, run)
                raise Cancelled(f"cancelled while job run {run} was running (canceled on Azure)")
            delay = min(delay * 2, POLL_MAX_S)
            entity = self._get(ctx, run)
            if entity is None:
                raise ProviderError(f"job run {run} disappeared from the workspace while it ran", provider="azure")
            now = text(entity.status)
            if now != status:
                ctx.log(f"[job.{job}] run {run}: {status or 'submitted'} -> {now}")
                status, since, said = now, time.monotonic(), time.monotonic()
            elif time.monotonic() - said >= QUIET_S:
                ctx.log(f"[job.{job}] run {run}: still {now} ({(time.monotonic() - since) / 60:.0f} min)")
                said = time.monotonic()
            if now in TERMINAL:
                return entity

    def _cancel(self, ctx: Context, run: str) -> None:
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling("jobs.begin_cancel", f"job run '{run}'"), quiet_sdk():
                poller = ml.jobs.begin_cancel(run)
                # the cancel itself is not cancelled by the Ctrl-C that asked for it
                wait_for(Context(ctx.project, ctx.environment, ctx.root, ctx.workspace), poller, f"cancelling {run}")
        except ResourceNotFoundError:
            return

    def _ending(self, ctx: Context, entity: Any) -> str:
        """How a run that did not complete ended, with its cause when run history gives one."""
        status = text(entity.status)
        said = {"Failed": "failed", "Canceled": "was canceled", "NotResponding": "stopped responding"}
        cause = self._cause(ctx, str(entity.name))
        studio = f"; studio: {entity.studio_url}" if entity.studio_url else ""
        return f"{said.get(status, status)}{f': {cause}' if cause else ''}{studio}"

    def _cause(self, ctx: Context, run: str) -> str | None:
        """The error run history records for the run (``RunOperations.get_run``: the data-plane run, which
        ``az ml job stream`` reads too; azure-ai-ml exposes no public call for it). Best effort: without it the
        status and the studio link still say where to look."""
        ml = self.conn.ml(ctx)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with calling("run history get", f"job run '{run}'"), quiet_sdk():
                found = ml.jobs._runs_operations.get_run(run)
        except (ProviderError, ResourceNotFoundError, AttributeError):  # AttributeError: azure-ai-ml moved it
            return None  # the cause is an extra: the failure itself is reported anyway
        root = getattr(getattr(found, "error", None), "error", None)
        message = getattr(root, "message", None)
        if not message:
            return None
        code = getattr(root, "code", None)
        return f"{code}: {message}" if code else str(message)
