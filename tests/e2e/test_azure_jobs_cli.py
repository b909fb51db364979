"""Command jobs on a ``provider: azure`` environment through the installed ``mlplan``, against the loopback Azure
(real SDK clients over HTTPS, code and data uploaded by azure-ai-ml to Azurite): a job trains once, with its studio
link; a re-plan is a no-op; new data trains again; an apply killed while the run runs on Azure is resumed by the
next apply, which follows that run instead of submitting another."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest

from tests.conftest import run_mlplan, write
from tests.integration.test_azure_provider import mlplan
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


def job_project(root: Path, az: LoopbackAzure) -> Path:
    workspace = {
        "subscription_id": az.subscription_id,
        "resource_group": az.resource_group,
        "workspace_name": az.workspace,
        "location": az.location,
    }
    write(
        root,
        {
            "mlplan.yaml": f"""
            project: demo
            resources: ["res/*.yml"]
            environments:
              dev:
                provider: azure
                workspace: {json.dumps(workspace)}
                cloud: {json.dumps(az.cloud_config)}
                credential: environment
            """,
            "res/data.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
            name: iris
            type: uri_file
            path: ../files/iris.csv
            """,
            "res/env.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
            name: sk
            version: "1"
            image: python:3.11
            conda_file: ../files/conda.yml
            """,
            "res/compute.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu
            type: amlcompute
            size: Standard_DS3_v2
            max_instances: 2
            """,
            "res/train.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
            name: train
            command: python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --out ${{outputs.model}}
            code: ../src
            environment: azureml:sk:1
            compute: azureml:cpu
            inputs:
              data: {type: uri_file, path: azureml:iris@latest}
              lr: 0.1
            outputs:
              model: {type: custom_model, name: clf}
            """,
            "src/train.py": "print('training')\n",
            "files/iris.csv": "a,b\n1,2\n",
            "files/conda.yml": "name: sk\ndependencies: [python=3.11]\n",
        },
    )
    return root


def job_puts(az: LoopbackAzure) -> list[str]:
    """The runs submitted (a PUT on a job; jobs.archive PUTs too, but nothing here archives)."""
    return [c.path.rsplit("/", 1)[1] for c in az.calls if c.method == "PUT" and "/jobs/" in c.path]


def test_a_job_trains_once_replans_as_no_op_and_trains_again_on_new_data(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure
) -> None:
    az = loopback_azure_storage
    root = job_project(tmp_path / "proj", az)

    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    [run] = job_puts(az)
    assert run.startswith("train-")
    assert f"submitted run {run}; studio: https://ml.azure.com/runs/{run}" in out, out
    stored = az.resource(f"{az.workspace_id}/jobs/{run}")
    assert stored is not None and stored["properties"]["status"] == "Completed"
    data_input = stored["properties"]["inputs"]["data"]["uri"]
    assert data_input.endswith("/data/iris/versions/1"), data_input  # @latest pinned to the version it made
    state = json.loads(run_mlplan("-C", str(root), "-e", "dev", "state", "pull").out)
    recorded = state["resources"]["job.train"]
    assert recorded["outputs"]["run"] == run and recorded["outputs"]["status"] == "Completed"
    assert recorded["outputs"]["outputs"] == {"model": f"azureml://jobs/{run}/outputs/model"}

    model = az.resource(f"{az.workspace_id}/models/clf/versions/1")  # registered by mlplan from the run's output
    assert model is not None and model["properties"]["modelUri"] == f"azureml://jobs/{run}/outputs/model", model
    assert model["properties"]["tags"]["mlplan.address"] == "model.clf"
    assert az.resource(f"{az.workspace_id}/models/clf/versions/2") is None, "registered once, not by Azure too"
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out  # nothing Azure filled in makes it train again

    (root / "files/iris.csv").write_text("a,b\n1,2\n3,4\n")
    planned = run_mlplan("-C", str(root), "-e", "dev", "plan", "--json", timeout=90)
    assert planned.code == 0, planned.text
    actions = {c["address"]: c["action"] for c in json.loads(planned.out)["changes"]}
    assert actions["data.iris"] == "new_version" and actions["job.train"] == "train", actions
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    first, second = job_puts(az)
    assert first == run and second != run
    stored = az.resource(f"{az.workspace_id}/jobs/{second}")
    assert stored is not None and stored["properties"]["inputs"]["data"]["uri"].endswith("/data/iris/versions/2")
    model = az.resource(f"{az.workspace_id}/models/clf/versions/2")
    assert model is not None and model["properties"]["modelUri"] == f"azureml://jobs/{second}/outputs/model", model
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out

    code, out = mlplan(root, "destroy", "--auto-approve")
    assert code == 0, out
    assert "job.train: archive" in out, out  # a run is a record: archived, as the plan says
    archived = az.resource(f"{az.workspace_id}/jobs/{second}")
    assert archived is not None and archived["properties"]["isArchived"] is True


def test_an_apply_killed_while_its_run_runs_is_resumed_without_a_second_submission(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure
) -> None:
    az = loopback_azure_storage
    az.job_seconds = 600  # runs until the test finishes it
    root = job_project(tmp_path / "proj", az)
    killed = run_mlplan(
        # the second long-running operation: the cluster's creation (which the job needs) is the first
        *("-C", str(root), "-e", "dev", "apply", "--auto-approve"),
        env={"MLPLAN_CRASHPOINT": "mid_operation:2"},
        timeout=90,
    )
    assert killed.code == -signal.SIGKILL, killed.text  # right after the run was submitted and journalled
    [run] = job_puts(az)
    state = json.loads(run_mlplan("-C", str(root), "-e", "dev", "state", "pull").out)
    [pending] = state["pending"].values()
    assert pending["address"] == "job.train" and pending["token"]["run"] == run

    code, out = mlplan(root, "plan")
    assert code != 0 and "job.train: an interrupted train" in out and "still running in the workspace" in out, out

    finisher = threading.Timer(1.0, az.finish_job, args=(run,))
    finisher.start()
    try:
        code, out = mlplan(root, "apply", "--auto-approve")
    finally:
        finisher.cancel()
    assert code == 0, out
    assert f"[job.train] following run {run} an interrupted apply submitted" in out, out
    assert job_puts(az) == [run], "the run was followed, not submitted again"
    state = json.loads(run_mlplan("-C", str(root), "-e", "dev", "state", "pull").out)
    assert not state["pending"] and state["resources"]["job.train"]["outputs"]["run"] == run
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out
