"""The azure provider end to end: the installed ``mlplan`` on a small project whose environment points at the
loopback Azure (real SDK clients over HTTPS, uploads by azure-ai-ml's own code to Azurite): data, environment,
model and amlcompute created, a re-plan that is a no-op, new versions for new content, studio-side drift named by
field, throttling survived, destroy archiving the versions and deleting the cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_mlplan, write
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]  # azure-ai-ml's notices


def azure_project(root: Path, az: LoopbackAzure) -> Path:
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
            tags: {team: ml}
            """,
            "res/env.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
            name: sk
            version: "1"
            image: python:3.11
            conda_file: ../files/conda.yml
            """,
            "res/model.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
            name: clf
            type: custom_model
            path: ../files/model
            description: a classifier
            """,
            "res/compute.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu
            type: amlcompute
            size: Standard_DS3_v2
            min_instances: 0
            max_instances: 2
            """,
            "res/endpoint.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
            name: churn-ep
            auth_mode: key
            description: scoring
            traffic: {blue: 100}
            """,
            "res/blue.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
            name: blue
            endpoint_name: churn-ep
            model: azureml:clf@latest
            environment: azureml:sk:1
            code_configuration: {code: ../files/score, scoring_script: score.py}
            instance_type: Standard_DS3_v2
            instance_count: 1
            """,
            "files/score/score.py": "def init():\n    pass\n\n\ndef run(raw):\n    return raw\n",
            "files/iris.csv": "a,b\n1,2\n",
            "files/conda.yml": "name: sk\ndependencies: [python=3.11, pip]\n",
            "files/model/model.pkl": "weights-1\n",
        },
    )
    return root


def mlplan(root: Path, *args: str) -> tuple[int, str]:
    r = run_mlplan("-C", str(root), "-e", "dev", *args, timeout=90)
    return r.code, r.text


def test_apply_replan_new_version_drift_throttling_and_destroy(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure
) -> None:
    az = loopback_azure_storage
    root = azure_project(tmp_path / "proj", az)
    ws = az.workspace_id

    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert "Apply complete: 7 done" in out and "\x1b" not in out, out
    data = az.resource(f"{ws}/data/iris/versions/1")
    assert data is not None and data["properties"]["tags"]["team"] == "ml"
    assert data["properties"]["tags"]["mlplan.address"] == "data.iris"
    assert az.resource(f"{ws}/environments/sk/versions/1") is not None
    assert az.resource(f"{ws}/models/clf/versions/1") is not None
    endpoint = az.resource(f"{ws}/onlineEndpoints/churn-ep")
    assert endpoint is not None and endpoint["properties"]["description"] == "scoring", out
    assert endpoint["properties"]["traffic"] == {"blue": 100}, endpoint
    blue = az.resource(f"{ws}/onlineEndpoints/churn-ep/deployments/blue")
    assert blue is not None and blue["properties"]["model"].endswith("/models/clf/versions/1"), blue
    compute = az.resource(f"{ws}/computes/cpu")
    assert compute is not None and compute["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 2

    # the endpoint's keys: fetched live on explicit request only, never in state or in what apply printed
    keys = az.az.store.meta_of(f"{ws}/onlineEndpoints/churn-ep")["keys"]
    code, hidden = mlplan(root, "output", "--json")
    assert code == 0 and keys["primaryKey"] not in hidden, hidden
    code, shown = mlplan(root, "output", "--json", "--show-sensitive")
    assert code == 0, shown
    assert json.loads(shown)["resources"]["online_endpoint.churn-ep"]["keys"] == {
        "primary_key": keys["primaryKey"],
        "secondary_key": keys["secondaryKey"],
    }, shown
    for path in (root / ".mlplan").rglob("*"):
        assert not path.is_file() or keys["primaryKey"] not in path.read_text(errors="replace"), path
    assert keys["primaryKey"] not in out

    az.clear_calls()
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out  # the workspace is what the configuration says: nothing to do
    # refresh lists: one paged list per asset name and one of the workspace's computes, no GET per resource
    reads = sorted(c.path.removeprefix(ws + "/") for c in az.calls if c.method == "GET" and c.path.startswith(ws))
    assert reads == [
        "computes",
        "data/iris/versions",
        "environments/sk/versions",
        "models/clf/versions",
        "onlineEndpoints",  # the endpoints
        "onlineEndpoints",  # their traffic
        "onlineEndpoints/churn-ep/deployments",
    ], reads

    # new content: a new model version, the old one left as it was
    (root / "files/model/model.pkl").write_text("weights-2\n")
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert az.resource(f"{ws}/models/clf/versions/2") is not None, out
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out

    # a change made in the studio shows as drift, by field
    az.edit(f"{ws}/computes/cpu", lambda b: b["properties"]["properties"]["scaleSettings"].update(maxNodeCount=3))
    code, out = mlplan(root, "drift")
    assert code != 0, out
    assert "changed outside mlplan: max_instances changed: 2 -> 3" in out, out

    # throttled twice (429 with Retry-After) while refreshing: retried, the plan still comes
    az.inject(429, retry_after=1, times=2, path_contains="/computes", method="GET")
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert az.resource(f"{ws}/computes/cpu")["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 2
    assert [c.status for c in az.calls if c.status == 429] == [429, 429]

    code, out = mlplan(root, "destroy", "--auto-approve")
    assert code == 0, out
    assert az.resource(f"{ws}/computes/cpu") is None
    assert az.resource(f"{ws}/onlineEndpoints/churn-ep") is None
    for asset in ("data/iris/versions/1", "models/clf/versions/2", "environments/sk/versions/1"):
        found = az.resource(f"{ws}/{asset}")
        assert found is not None and found["properties"]["isArchived"] is True, asset

    # back in the configuration: the environment's pinned version is restored, the others get new versions
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert az.resource(f"{ws}/environments/sk/versions/1")["properties"]["isArchived"] is False, out
    assert az.resource(f"{ws}/data/iris/versions/2") is not None
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out


def test_a_deployment_with_an_inline_model_and_environment_registers_them_once_per_content(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure
) -> None:
    """Microsoft's own sample shape (azureml-examples blue-deployment.yml): the model and the environment written
    in the deployment. Each is registered as an anonymous version named after its content, as Azure ML does."""
    az = loopback_azure_storage
    root = azure_project(tmp_path / "proj", az)
    ws = az.workspace_id
    for name in ("data.yml", "env.yml", "model.yml", "compute.yml"):
        (root / "res" / name).unlink()
    write(
        root,
        {
            "res/blue.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
            name: blue
            endpoint_name: churn-ep
            model: {path: ../files/model}
            environment: {image: "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", conda_file: ../files/conda.yml}
            code_configuration: {code: ../files/score, scoring_script: score.py}
            instance_type: Standard_DS3_v2
            instance_count: 1
            """
        },
    )
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out

    def anonymous(folder: str) -> list[str]:
        return sorted(
            n for n in (b["name"] for b in az.az.store.children(f"{ws}/{folder}")) if n.startswith("anonymous-")
        )

    [model], [env] = anonymous("models"), anonymous("environments")
    blue = az.resource(f"{ws}/onlineEndpoints/churn-ep/deployments/blue")
    assert blue is not None, out
    assert blue["properties"]["model"].endswith(f"/models/{model}/versions/1"), blue
    assert blue["properties"]["environmentId"].endswith(f"/environments/{env}/versions/1"), blue
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out  # the inline model and environment compare as what was registered from them

    (root / "files/model/model.pkl").write_text("weights-2\n")  # new content: a second anonymous model
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 2 and "online_deployment.churn-ep/blue" in out, out
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert len(anonymous("models")) == 2 and anonymous("environments") == [env], out
    blue = az.resource(f"{ws}/onlineEndpoints/churn-ep/deployments/blue")
    assert blue is not None and f"/models/{model}/" not in blue["properties"]["model"], blue
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out


@pytest.mark.parametrize("crash", ["mid_operation:2"])  # before_end: the engine's, tests/integration/test_crash.py
def test_an_apply_killed_mid_operation_is_reconciled_without_a_duplicate(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure, crash: str
) -> None:
    """kill -9 while an Azure long-running operation runs (``mid_operation``: its result unknown) or once it is
    done but not yet journalled (``before_end``): the next plan shows the interrupted operation, and the next apply
    adopts what carries its ownership tags; nothing is made twice."""
    az = loopback_azure_storage
    root = azure_project(tmp_path / "proj", az)
    ws = az.workspace_id
    r = run_mlplan("-C", str(root), "-e", "dev", "apply", "--auto-approve", env={"MLPLAN_CRASHPOINT": crash})
    assert r.code == -9, r.text
    code, out = mlplan(root, "plan")
    assert code == 0 and "interrupted" in out, out
    az.clear_calls()
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out
    for folder in ("data/iris", "environments/sk", "models/clf"):
        versions = az.az.store.children(f"{ws}/{folder}/versions")
        assert [v["name"] for v in versions] == ["1"], (folder, out)
    assert len(az.az.store.children(f"{ws}/onlineEndpoints/churn-ep/deployments")) == 1


def test_import_adopts_what_the_workspace_has_and_a_wrong_id_shows_the_shape(
    tmp_path: Path, loopback_azure_storage: LoopbackAzure
) -> None:
    az = loopback_azure_storage
    root = azure_project(tmp_path / "proj", az)
    for name in ("data.yml", "model.yml", "endpoint.yml", "blue.yml"):
        (root / "res" / name).unlink()
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    code, out = mlplan(root, "state", "rm", "compute.cpu", "environment.sk")  # as if made with az ml
    assert code == 0, out
    code, out = mlplan(root, "import", "compute.cpu", "computes/cpu")
    assert code == 0, out
    code, out = mlplan(root, "import", "environment.sk", "environments/sk/versions/1")
    assert code == 0, out
    az.clear_calls()
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out  # adopted as they are: nothing to change
    assert not [c for c in az.calls if c.method in ("PUT", "PATCH", "DELETE", "POST") and "/workspaces/" in c.path]
    code, out = mlplan(root, "state", "rm", "compute.cpu")
    assert code == 0, out
    code, out = mlplan(root, "import", "compute.cpu", "cpu")
    assert code != 0 and "computes/<name>" in out, out
    code, out = mlplan(root, "import", "compute.cpu", "computes/nope")
    assert code != 0 and "computes/nope" in out, out
