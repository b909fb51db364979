"""Command jobs on the azure provider, called directly against the loopback Azure (real SDK clients, local code
uploaded to Azurite): a run submitted, followed and recorded; a failed run's cause; Ctrl-C cancelling the run on
Azure; a run whose apply died resumed from its journalled token, never submitted twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlplan.core.errors import ProviderError
from mlplan.providers.azure import AzureProvider
from mlplan.providers.azure import jobs as azure_jobs
from mlplan.providers.base import TAG_OPERATION, Cancelled, Context, Desired, Progress, ResourceType, run_name
from tests.integration.test_azure_provider_types import context
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]  # azure-ai-ml's notices

SPEC = {
    "type": "command",
    "command": "python train.py --lr ${{inputs.lr}} --out ${{outputs.model}}",
    "code": "src",
    "environment": "azureml:sk:1",
    "compute": "azureml:cpu",
    "inputs": {"lr": 0.1},
    "outputs": {"model": {"type": "custom_model"}},
}


@dataclass
class Bench:
    job: ResourceType
    ctx: Context
    lines: list[str]  # what the job type logged
    az: LoopbackAzure

    def stored(self, run: str) -> dict[str, Any]:
        found = self.az.resource(f"{self.az.workspace_id}/jobs/{run}")
        assert found is not None, run
        return found

    def puts(self) -> list[str]:
        return [c.path.rsplit("/", 1)[1] for c in self.az.calls if c.method == "PUT" and "/jobs/" in c.path]


@pytest.fixture
def bench(tmp_path: Path, loopback_azure_storage: LoopbackAzure) -> Bench:
    """The job type on a workspace with the environment and compute the job names."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('training')\n")
    (tmp_path / "conda.yml").write_text("name: sk\ndependencies: [python=3.11]\n")
    lines: list[str] = []
    ctx = context(tmp_path, loopback_azure_storage)
    ctx.log = lines.append
    provider = AzureProvider()
    provider.bind(ctx)
    env, compute, job = (provider.resource_type(k) for k in ("environment", "compute", "job"))
    assert env is not None and compute is not None and job is not None
    env_spec = {"version": "1", "image": "python:3.11", "conda_file": "conda.yml"}
    env.create(ctx, Desired("environment", "sk", env_spec, tmp_path, version="1", content={"conda_file": "c"}))
    compute.create(ctx, Desired("compute", "cpu", {"type": "amlcompute", "size": "Standard_DS3_v2"}, tmp_path))
    return Bench(job, ctx, lines, loopback_azure_storage)


def desired(root: Path, operation: str) -> Desired:
    return Desired(
        "job", "train", dict(SPEC), root, content={"code": "digest-1"}, tags={TAG_OPERATION: operation}, project="demo"
    )


def in_background(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_run_is_submitted_followed_recorded_and_archived(bench: Bench) -> None:
    job, ctx, lines = bench.job, bench.ctx, bench.lines
    tokens: list[dict[str, Any]] = []
    ctx.checkpoint = tokens.append
    made = job.create(ctx, desired(ctx.root, "op1"))
    run = run_name("train", "op1")
    assert tokens == [{"run": run, "job": "train"}]  # journalled as soon as the run was submitted
    assert made.id == f"jobs/{run}"
    assert made.outputs["run"] == run and made.outputs["status"] == "Completed"
    assert made.outputs["outputs"] == {"model": f"azureml://jobs/{run}/outputs/model"}
    assert str(made.outputs["studio_url"]).startswith(f"https://ml.azure.com/runs/{run}")
    assert made.tags[TAG_OPERATION] == "op1"
    assert made.attributes == job.desired_attributes(desired(ctx.root, "op1")), "a re-plan would be a no-op"
    assert any(f"submitted run {run}; studio: https://ml.azure.com/runs/{run}" in line for line in lines), lines
    assert any(line.endswith("-> Completed") for line in lines), lines
    code = bench.stored(run)["properties"]["codeId"]
    assert "/codes/" in code, "the local code was uploaded and referenced"

    again = job.read(ctx, made.id)
    assert again is not None and again.attributes == made.attributes
    assert job.find_owned(ctx, "train", "op1") is not None
    assert job.find_owned(ctx, "train", "op2") is None
    assert job.read(ctx, "jobs/nope") is None

    job.delete(ctx, made)  # a run is a record: archived, not deleted
    assert bench.stored(run)["properties"]["isArchived"] is True
    assert bench.puts() == [run, run]  # the submission, the archive


def test_a_failed_run_names_its_cause_and_its_run(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    bench.az.job_seconds = 600  # runs until the test ends it
    monkeypatch.setattr(azure_jobs, "QUIET_S", 0.0)  # say it is still running at every poll
    run = run_name("train", "op1")
    thread, out = in_background(lambda: bench.job.create(bench.ctx, desired(bench.ctx.root, "op1")))
    until(lambda: any(f"run {run}: still Running (" in line for line in bench.lines), "a long run shows it is alive")
    bench.az.finish_job(run, "Failed", error="ZeroDivisionError: division by zero (train.py, line 3)")
    thread.join(30)
    error = out.get("error")
    assert isinstance(error, ProviderError), out
    message = str(error)
    assert f"job run {run} failed: UserError: ZeroDivisionError: division by zero (train.py, line 3)" in message
    assert f"studio: https://ml.azure.com/runs/{run}" in message
    assert any(line.endswith(f"run {run}: Running -> Failed") for line in bench.lines), bench.lines


def test_cancelling_apply_cancels_the_run_on_azure(bench: Bench) -> None:
    bench.az.job_seconds = 600
    run = run_name("train", "op1")
    thread, out = in_background(lambda: bench.job.create(bench.ctx, desired(bench.ctx.root, "op1")))
    until(lambda: bench.puts() == [run], "the run was submitted")
    bench.ctx.cancelled.set()  # Ctrl-C twice
    thread.join(30)
    assert isinstance(out.get("error"), Cancelled), out
    assert f"job run {run}" in str(out["error"])
    assert bench.stored(run)["properties"]["status"] == "Canceled"
    assert any(c.method == "POST" and c.path.endswith(f"/jobs/{run}/cancel") for c in bench.az.calls)


class Died(BaseException):
    """mlplan killed right after it journalled the token (as the crash point ``mid_operation`` does)."""


def test_a_journalled_run_is_followed_not_submitted_again(bench: Bench) -> None:
    """What the next apply does with the token of a run whose apply died: poll says it still runs, wait follows it
    to its end and returns it; a run that failed returns nothing (the job trains again); discard cancels a run
    left running, and leaves a finished one alone."""
    bench.az.job_seconds = 600
    job, ctx = bench.job, bench.ctx
    tokens: list[dict[str, Any]] = []

    def die(token: dict[str, Any]) -> None:
        tokens.append(token)
        raise Died

    ctx.checkpoint = die
    for operation in ("op1", "op2", "op3"):
        with pytest.raises(Died):
            job.create(ctx, desired(ctx.root, operation))
    run, failed, left = (t["run"] for t in tokens)
    assert bench.puts() == [run, failed, left]

    assert job.poll(ctx, tokens[0]).done is False
    thread, out = in_background(lambda: job.wait(ctx, tokens[0]))
    time.sleep(0.3)
    assert thread.is_alive(), "it waits for the run"
    bench.az.finish_job(run)
    thread.join(30)
    followed = out.get("result")
    assert followed is not None and followed.outputs["run"] == run and followed.outputs["status"] == "Completed"
    progress = job.poll(ctx, tokens[0])
    assert progress.done and progress.result is not None and progress.result.id == f"jobs/{run}"

    bench.az.finish_job(failed, "Failed")
    assert job.wait(ctx, tokens[1]) is None, "a failed run: nothing to adopt"
    assert job.poll(ctx, {"run": "never-submitted", "job": "train"}) == Progress(done=True)

    assert job.find_owned(ctx, "train", "op3") is None, "a running run is not adopted"
    job.discard(ctx, "train", "op3")
    assert bench.stored(left)["properties"]["status"] == "Canceled"
    job.discard(ctx, "train", "op1")
    assert bench.stored(run)["properties"]["status"] == "Completed"
    assert bench.puts() == [run, failed, left], "nothing submitted again"
