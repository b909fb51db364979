"""Local command jobs: the job's ``command`` run as a subprocess with Azure ML's bindings resolved.

``${{inputs.<name>}}`` becomes a literal value or the local path of a data asset version,
``${{outputs.<name>}}`` a fresh folder under ``jobs/<run>/outputs/``. Output is streamed (prefixed)
and kept in ``jobs/<run>/user_logs/std_log.txt``. Jobs run with the interpreter mlplan runs in; an
``amlcompute`` compute's ``max_instances`` bounds how many run at once on it (file-lock slots, so
separate mlplan processes share them too).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from mlplan.core.clock import now_iso
from mlplan.core.content import list_files
from mlplan.core.errors import ProviderError
from mlplan.core.faults import crashpoint
from mlplan.core.kinds import TYPE_KINDS, is_remote
from mlplan.providers.base import (
    BINDING,
    OWNERSHIP_TAGS,
    TAG_OPERATION,
    Cancelled,
    Context,
    Desired,
    Observed,
    Problem,
    ResourceType,
    binding_problems,
    run_name,
)
from mlplan.providers.local.assets import NOT_LOCAL, conda_problems, user_tags
from mlplan.providers.local.logs import failure_cause, last_lines
from mlplan.providers.local.paths import ASSET, JOB_OUTPUT, resolve
from mlplan.providers.local.serving import zombie
from mlplan.providers.local.workspace import read_json, remove_tree, workspace_root, write_json_atomic

OTHER_BINDING = re.compile(r"\$\{\{\s*(?!inputs\.|outputs\.)([^}]*)\}\}")
LATEST = re.compile(r"^azureml:(?!//)[A-Za-z0-9][A-Za-z0-9_.\-]*@latest$")
METRICS_FILE = "metrics.json"
SUPPORTED_FIELDS = frozenset(
    {
        "$schema",
        "type",
        "name",
        "display_name",
        "experiment_name",
        "description",
        "tags",
        "properties",
        "command",
        "code",
        "environment",
        "environment_variables",
        "compute",
        "inputs",
        "outputs",
        "limits",
        "resources",
        "identity",
        "services",
        "is_deterministic",
    }
)


def _local_reference(path: str) -> bool:
    return bool(ASSET.match(path) or JOB_OUTPUT.match(path) or LATEST.match(path))


class JobType(ResourceType):
    kind = "job"
    id_format = "jobs/<run>"
    output_fields = frozenset({"run", "status", "metrics", "outputs", "log", "duration_s"})
    can_delete_versions = True  # a run's record is its folder: removing the job deletes it

    def validate(self, desired: Desired) -> list[Problem]:
        spec = desired.spec
        problems = []
        jtype = str(spec.get("type", desired.subtype or "command")).lower()
        if jtype != "command":
            return [Problem(("type",), f"{jtype} jobs are {NOT_LOCAL} (it runs command jobs)", "use a command job")]
        if not isinstance(spec.get("command"), str) or not spec["command"].strip():
            problems.append(Problem(("command",), "a command job needs a command", "add `command: python train.py`"))
        code = spec.get("code")
        if isinstance(code, str) and is_remote(code):
            problems.append(Problem(("code",), f"code: {code!r} is {NOT_LOCAL}", "point code: at a local folder"))
        for field in ("distribution",):
            if field in spec:
                problems.append(Problem((field,), f"{field} is {NOT_LOCAL}", f"remove {field}: for local runs"))
        count = (spec.get("resources") or {}).get("instance_count", 1)
        if isinstance(count, int) and count > 1:
            problems.append(Problem(("resources", "instance_count"), f"instance_count {count} is {NOT_LOCAL}", "use 1"))
        for name, value in (spec.get("inputs") or {}).items():
            path = value.get("path") if isinstance(value, dict) else None
            if isinstance(path, str) and is_remote(path) and not _local_reference(path):
                problems.append(
                    Problem(
                        ("inputs", name, "path"),
                        f"input path {path!r} is {NOT_LOCAL}",
                        "use a data asset (azureml:<name>:<version> or azureml:<name>@latest) or a local path",
                    )
                )
        if isinstance(spec.get("environment"), dict):  # an inline environment
            problems += conda_problems(spec["environment"], desired.base_dir, ("environment",))
        return problems + binding_problems(spec)

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        out = {k: v for k, v in spec.items() if k not in ("$schema", "code", "name")}
        out["tags"] = user_tags(spec.get("tags"))
        if "code" in desired.content:
            out["code"] = desired.content["code"]
        return out

    # -- records ------------------------------------------------------------------------------
    def _dir(self, ctx: Context, run: str) -> Path:
        return workspace_root(ctx) / "jobs" / run

    def _observe(self, ctx: Context, run: str) -> Observed | None:
        meta = read_json(self._dir(ctx, run) / "job.json")
        if meta is None or meta.get("status") != "Completed":
            return None
        return Observed(
            id=f"jobs/{run}",
            attributes=meta["attributes"],
            tags=meta.get("tags", {}),
            outputs={
                "run": run,
                "status": meta["status"],
                "metrics": meta.get("metrics", {}),
                "outputs": meta.get("outputs", {}),
                "log": meta.get("log"),
                "duration_s": meta.get("duration_s"),
            },
        )

    def read(self, ctx: Context, ident: str) -> Observed | None:
        return self._observe(ctx, ident.split("/", 1)[1])

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self._observe(ctx, name)  # jobs are looked up by their run name

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        found = self._observe(ctx, run_name(name, operation))
        return found if found is not None and found.tags.get(TAG_OPERATION) == operation else None

    def delete(self, ctx: Context, current: Observed) -> None:
        remove_tree(self._dir(ctx, current.id.split("/", 1)[1]))

    def discard(self, ctx: Context, name: str, operation: str) -> None:
        run_dir = self._dir(ctx, run_name(name, operation))
        if not run_dir.exists():
            return
        meta = read_json(run_dir / "job.json")
        if meta is None or meta.get("status") != "Completed":
            # a run whose mlplan died, maybe before its record was written: stop what still runs
            # in its folder (it would write on), then forget it
            _kill_runs_in(run_dir / "code")
            remove_tree(run_dir)

    # -- running ------------------------------------------------------------------------------
    def create(self, ctx: Context, desired: Desired) -> Observed:
        operation = desired.tags.get(TAG_OPERATION, os.urandom(4).hex())
        run = run_name(desired.name, operation)
        run_dir = self._dir(ctx, run)
        if run_dir.exists():
            remove_tree(run_dir)  # an earlier attempt of this very operation that never completed
        spec = desired.spec
        code_dir = run_dir / "code"
        code_dir.mkdir(parents=True)
        if isinstance(spec.get("code"), str):
            src = (desired.base_dir / spec["code"]).resolve()
            for rel in list_files(src):
                (code_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, code_dir / rel)
        outputs = {name: run_dir / "outputs" / name for name in (spec.get("outputs") or {})}
        for path in outputs.values():
            path.mkdir(parents=True)
        log_path = run_dir / "user_logs" / "std_log.txt"
        log_path.parent.mkdir(parents=True)
        tags = {**user_tags(spec.get("tags")), **{k: v for k, v in desired.tags.items() if k in OWNERSHIP_TAGS}}
        record: dict[str, Any] = {
            "name": run,
            "status": "Running",
            "started_at": now_iso(),
            "attributes": self.desired_attributes(desired),
            "tags": tags,
            "log": str(log_path),
        }
        write_json_atomic(run_dir / "job.json", record)
        command = self._bind(ctx, desired, outputs)
        env = self._environment(ctx, desired, run, run_dir)
        ctx.log(f"[job.{desired.name}] run {run}; log: {log_path}")
        started = time.monotonic()
        try:
            with compute_slot(ctx, spec.get("compute")):
                code = self._execute(ctx, command, code_dir, env, log_path, spec, desired.name, record)
        except ProviderError as exc:
            record.update(status="Failed", error=str(exc))
            write_json_atomic(run_dir / "job.json", record)
            raise
        except Cancelled:
            record.update(status="Canceled")  # as Azure ML names it; the next apply removes the run
            write_json_atomic(run_dir / "job.json", record)
            raise
        if code != 0:
            cause = _cause(log_path, code_dir)
            record.update(status="Failed", exit_code=code, error=cause)
            write_json_atomic(run_dir / "job.json", record)
            # the log streamed as it ran: the error says what it died of, once, and where the log is
            raise ProviderError(f"job run {run} failed with exit code {code}: {cause}; log: {log_path}")
        crashpoint("mid_operation")  # the run is done, its record does not say so yet
        record.update(
            status="Completed",
            duration_s=round(time.monotonic() - started, 3),
            metrics=collect_metrics(run_dir, outputs),
            outputs={name: f"azureml://jobs/{run}/outputs/{name}" for name in outputs},
        )
        write_json_atomic(run_dir / "job.json", record)
        observed = self._observe(ctx, run)
        assert observed is not None
        return observed

    def _bind(self, ctx: Context, desired: Desired, outputs: dict[str, Path]) -> str:
        spec = desired.spec
        inputs = spec.get("inputs") or {}

        def value(m: re.Match[str]) -> str:
            group, name = m.group(1), m.group(2)
            if group == "outputs":
                return str(outputs[name])
            item = inputs[name]
            if isinstance(item, dict):
                if "path" in item:  # a model input is found among models, not data
                    kind = TYPE_KINDS.get(str(item.get("type", "")).lower(), "data")
                    return str(resolve(ctx, str(item["path"]), desired.base_dir, kind))
                return str(item.get("default", item.get("value", "")))
            return str(item).lower() if isinstance(item, bool) else str(item)

        command = BINDING.sub(value, str(spec["command"]))
        other = OTHER_BINDING.search(command)
        if other:
            raise ProviderError(f"binding ${{{{{other.group(1).strip()}}}}} is {NOT_LOCAL}")
        return command

    def _environment(self, ctx: Context, desired: Desired, run: str, run_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (desired.spec.get("environment_variables") or {}).items()})
        bindir = str(Path(sys.executable).parent)
        env.update(
            PATH=bindir + os.pathsep + env.get("PATH", ""),
            PYTHONUNBUFFERED="1",
            AZUREML_RUN_ID=run,
            MLFLOW_RUN_ID=run,
            MLPLAN_METRICS_FILE=str(run_dir / METRICS_FILE),
        )
        env.pop("MLPLAN_CRASHPOINT", None)
        return env

    def _execute(
        self,
        ctx: Context,
        command: str,
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        spec: dict[str, Any],
        name: str,
        record: dict[str, Any],
    ) -> int:
        timeout = (spec.get("limits") or {}).get("timeout")
        with log_path.open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                ["bash", "-c", command],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                start_new_session=True,  # Ctrl-C stops mlplan's scheduling, not a running job
            )
            # its own process group: if mlplan dies, the next run can stop what it left running
            record["pid"] = proc.pid
            write_json_atomic(cwd.parent / "job.json", record)

            def pump() -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    ctx.log(f"[job.{name}] {line.rstrip()}")

            reader = threading.Thread(target=pump, daemon=True)
            reader.start()
            deadline = time.monotonic() + float(timeout) if timeout else None
            while True:
                try:
                    code = proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                cancelled = ctx.cancelled.is_set()
                if cancelled or (deadline is not None and time.monotonic() > deadline):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    reader.join(timeout=5)
                    ctx.check_cancelled(f"running job {name} (the run was stopped; log: {log_path})")
                    raise ProviderError(f"job exceeded limits.timeout ({timeout}s) and was stopped; log: {log_path}")
            reader.join(timeout=30)
            return code


def _processes_in(cwd: Path) -> list[int]:
    """Live (not zombie) processes whose working directory is ``cwd``: a run's, recorded pid or not."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) == cwd and not zombie(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _kill_runs_in(cwd: Path) -> None:
    """SIGKILL the process groups of whatever runs in ``cwd`` and wait until none is left (up to 5 s)."""
    deadline = time.monotonic() + 5
    while (pids := _processes_in(cwd)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                os.killpg(group, signal.SIGKILL) if group != os.getpgrp() else os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _cause(log_path: Path, code_dir: Path) -> str:
    """What the run died of: its exception in the user's code, else its last line."""
    with log_path.open(encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    found = failure_cause(lines, code_dir)
    if found is not None:
        return found
    last = last_lines(lines, 1)
    return f"it printed last: {last[0]}" if last else "it printed nothing"


def collect_metrics(run_dir: Path, outputs: dict[str, Path]) -> dict[str, Any]:
    """The documented convention: a JSON object in $MLPLAN_METRICS_FILE or metrics.json in any output."""
    metrics: dict[str, Any] = {}
    for path in [*(p / METRICS_FILE for p in outputs.values()), run_dir / METRICS_FILE]:
        with contextlib.suppress(FileNotFoundError, ValueError):
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                metrics.update({k: v for k, v in data.items() if isinstance(v, int | float | str | bool)})
    return metrics


@contextlib.contextmanager
def compute_slot(ctx: Context, compute: Any) -> Iterator[None]:
    """Hold one of the compute's ``max_instances`` slots while the job runs."""
    if not isinstance(compute, str) or not compute.startswith("azureml:"):
        yield  # serverless / local: no limit
        return
    name = compute.removeprefix("azureml:")
    meta = read_json(workspace_root(ctx) / "computes" / f"{name}.json")
    if meta is None:
        raise ProviderError(f"compute {name!r} does not exist in the local workspace")
    slots = max(1, int(meta.get("max_instances") or 1))
    folder = workspace_root(ctx) / "computes" / f"{name}.slots"
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        ctx.check_cancelled(f"waiting for a free slot of compute {name}")
        for i in range(slots):
            lock = filelock.FileLock(str(folder / f"{i}.lock"))
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                continue
            try:
                yield
            finally:
                lock.release()
            return
        time.sleep(0.1)
