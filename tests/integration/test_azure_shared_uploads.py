"""Environments sharing one docker build context, applied in parallel through the installed ``mlplan`` on the
loopback Azure with uploads to Azurite: azure-ai-ml 1.35 waits forever when two uploads of the same content run at
once, so the azure provider uploads one content at a time (``Connection.uploading``); the apply completes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_mlplan, write
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

ENVIRONMENTS = 4


def test_environments_sharing_a_build_context_apply_in_parallel(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure
) -> None:
    az = loopback_azure_storage
    workspace = {
        "subscription_id": az.subscription_id,
        "resource_group": az.resource_group,
        "workspace_name": az.workspace,
        "location": az.location,
    }
    files = {
        "mlplan.yaml": f"""
        project: shared
        resources: ["res/*.yml"]
        environments:
          dev:
            provider: azure
            workspace: {json.dumps(workspace)}
            cloud: {json.dumps(az.cloud_config)}
            credential: environment
            parallelism: {ENVIRONMENTS}
        """,
        "docker/Dockerfile": "FROM python:3.11-slim\nRUN pip install scikit-learn\n",
    }
    for i in range(ENVIRONMENTS):
        files[f"res/env{i}.yml"] = f"""
        $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
        name: train-{i}
        version: "1"
        build: {{path: ../docker}}
        """
    root = tmp_path / "proj"
    write(root, files)

    # before: the apply never ended (the timeout turns that into a failure)
    r = run_mlplan("-C", str(root), "-e", "dev", "apply", "--auto-approve", timeout=90)
    assert r.code == 0, r.text
    assert f"Apply complete: {ENVIRONMENTS} done" in r.out, r.out
    contexts = set()
    for i in range(ENVIRONMENTS):
        env = az.resource(f"{az.workspace_id}/environments/train-{i}/versions/1")
        assert env is not None, i
        contexts.add(env["properties"]["build"]["contextUri"])
    assert len(contexts) == 1, contexts  # one upload of the shared context, which every version names
    r = run_mlplan("-C", str(root), "-e", "dev", "plan", "--detailed-exitcode", timeout=90)
    assert r.code == 0, r.text
