"""The loopback Azure through the real SDK clients over real HTTPS: azure-ai-ml's MLClient (uploads to Azurite by
the SDK's own code), azure-mgmt-resource-deployments (deploy and what-if), azure-identity (client credentials),
and azure-core's retry policy against throttling, server errors and connection resets."""

from __future__ import annotations

import faulthandler
import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml import Output, command
from azure.ai.ml.entities import (
    AmlCompute,
    CodeConfiguration,
    Data,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
)
from azure.core.exceptions import ClientAuthenticationError, ResourceExistsError
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.deployments import DeploymentsMgmtClient
from azure.mgmt.resource.deployments.models import (
    Deployment,
    DeploymentProperties,
    DeploymentWhatIf,
    DeploymentWhatIfProperties,
)
from azure.storage.blob import BlobServiceClient

from tests.conftest import REPO
from tests.loopback_azure import LoopbackAzure
from tests.loopback_azure.azurite import Azurite

pytestmark = pytest.mark.filterwarnings("ignore")  # azure-ai-ml's marshmallow deprecation notices


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """A hung SDK call (a folder upload to a missing container waits forever) fails the run instead of stalling it."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def statuses(az: LoopbackAzure, path_end: str) -> list[int]:
    return [c.status for c in az.calls if c.path.endswith(path_end)]


def test_environment_create_get_list(loopback_azure: LoopbackAzure) -> None:
    ml = loopback_azure.ml_client()
    env = ml.environments.create_or_update(Environment(name="sk", version="1", image="python:3.11"))
    assert env.id == f"{loopback_azure.workspace_id}/environments/sk/versions/1"
    got = ml.environments.get("sk", "1")
    assert (got.image, got.version, got.os_type) == ("python:3.11", "1", "Linux")
    assert [e.name for e in ml.environments.list()] == ["sk"]
    assert [e.version for e in ml.environments.list(name="sk")] == ["1"]
    assert ("PUT", 201) in [(c.method, c.status) for c in loopback_azure.calls if c.path.endswith("/sk/versions/1")]


def test_data_asset_local_file_is_uploaded_to_azurite(
    loopback_azure_storage: LoopbackAzure, azurite: Azurite, tmp_path: Path
) -> None:
    az = loopback_azure_storage
    csv = tmp_path / "iris.csv"
    csv.write_text("a,b\n1,2\n")
    ml = az.ml_client()
    data = ml.data.create_or_update(Data(name="iris", version="1", type="uri_file", path=str(csv)))
    assert data.path.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    datastore = az.resource(f"{az.workspace_id}/datastores/workspaceblobstore")
    assert datastore is not None
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.get_container_client(datastore["properties"]["containerName"])
    assert container.download_blob(data.path.split("/paths/", 1)[1]).readall() == csv.read_bytes()
    assert ml.data.get("iris", "1").path == data.path
    assert statuses(az, "/datastores/workspaceblobstore/listSecrets") == [200]


def test_model_versions_latest_and_immutability(loopback_azure_storage: LoopbackAzure, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.txt").write_text("weights 1")
    ml = loopback_azure_storage.ml_client()
    assert ml.models.create_or_update(Model(name="clf", path=str(folder))).version == "1"
    (folder / "w.txt").write_text("weights 2")
    assert ml.models.create_or_update(Model(name="clf", path=str(folder))).version == "2"
    assert ml.models.get("clf", label="latest").version == "2"

    with pytest.raises(ResourceExistsError, match="immutable"):
        ml.models.create_or_update(
            Model(name="clf", version="1", path="azureml://datastores/workspaceblobstore/paths/other/")
        )
    ml.models.archive("clf", "1")
    assert [m.version for m in ml.models.list(name="clf")] == ["2"]


def test_amlcompute_is_created_and_deleted_through_long_running_operations(loopback_azure: LoopbackAzure) -> None:
    ml = loopback_azure.ml_client()
    cluster = ml.compute.begin_create_or_update(AmlCompute(name="cpu", size="STANDARD_DS3_V2", max_instances=2))
    made = cluster.result()
    assert (made.provisioning_state, made.max_instances, made.min_instances) == ("Succeeded", 2, 0)
    assert made.idle_time_before_scale_down == 120  # what the service fills in
    assert [c.name for c in ml.compute.list()] == ["cpu"]
    ml.compute.begin_delete("cpu").result()
    assert list(ml.compute.list()) == []
    polls = [c for c in loopback_azure.calls if "/mfeOperationsStatus/" in c.path]
    assert len(polls) >= 2 and all(c.status == 200 for c in polls)


def test_online_endpoint_and_deployment_with_local_code(
    loopback_azure_storage: LoopbackAzure, azurite: Azurite, tmp_path: Path
) -> None:
    az = loopback_azure_storage
    (tmp_path / "score").mkdir()
    (tmp_path / "score" / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    ml = az.ml_client()
    env = ml.environments.create_or_update(Environment(name="sk", version="1", image="python:3.11"))
    model = ml.models.create_or_update(
        Model(name="clf", version="1", path="azureml://datastores/workspaceblobstore/paths/models/clf/")
    )
    endpoint = ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="cancer", auth_mode="key")
    ).result()
    assert endpoint.provisioning_state == "Succeeded" and endpoint.scoring_uri.startswith(az.url)
    code = CodeConfiguration(code=str(tmp_path / "score"), scoring_script="score.py")
    blue = ManagedOnlineDeployment(
        name="blue",
        endpoint_name="cancer",
        model=model,
        environment=env,
        code_configuration=code,
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    deployed = ml.online_deployments.begin_create_or_update(blue).result()
    assert deployed.provisioning_state == "Succeeded"

    code_version = az.resource(deployed.code_configuration.code)  # an ARM id of the uploaded code version
    assert code_version is not None
    # http://127.0.0.1:PORT/devstoreaccount1/<the pending upload's container>/score
    container = urllib.parse.urlsplit(code_version["properties"]["codeUri"]).path.split("/")[2]
    uploaded = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    assert [b.name for b in uploaded.list_blobs() if b.name.endswith("score.py")]

    green = ManagedOnlineDeployment(
        name="green",
        endpoint_name="cancer",
        model=model,
        environment=env,
        code_configuration=code,
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    ml.online_deployments.begin_create_or_update(green).result()
    # the same code again: found by its content hash (CodeVersions_List ?hash=), not uploaded twice
    assert len([c for c in az.calls if c.path.endswith("/startPendingUpload")]) == 1

    endpoint.traffic = {"blue": 100}
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert ml.online_endpoints.get("cancer").traffic == {"blue": 100, "green": 0}  # azure-ai-ml lists every deployment
    assert [d.name for d in ml.online_deployments.list("cancer")] == ["blue", "green"]
    assert ml.online_endpoints.get_keys("cancer").primary_key

    az.set_scorer("cancer", lambda body: {"predictions": [len(json.loads(body)["data"])]})
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"data": [[1, 2], [3, 4]]}))
    answer = ml.online_endpoints.invoke("cancer", request_file=str(request), deployment_name="blue")
    assert json.loads(answer) == {"predictions": [2]}


def test_command_job_runs_registers_its_output_and_cancels(
    loopback_azure_storage: LoopbackAzure, tmp_path: Path
) -> None:
    az = loopback_azure_storage
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('training')\n")
    ml = az.ml_client()
    ml.environments.create_or_update(Environment(name="sk", version="1", image="python:3.11"))
    ml.compute.begin_create_or_update(AmlCompute(name="cpu", max_instances=1)).result()

    def train() -> Any:
        return command(
            code=str(tmp_path / "src"),
            command="python train.py",
            environment="azureml:sk:1",
            compute="cpu",
            outputs={"model": Output(type="custom_model", name="trained")},
        )

    job = ml.jobs.create_or_update(train())
    assert job.name in job.studio_url
    deadline = time.monotonic() + 20
    while (status := ml.jobs.get(job.name).status) != "Completed":
        assert status in ("NotStarted", "Running") and time.monotonic() < deadline, status
        time.sleep(0.1)
    assert [m.version for m in ml.models.list(name="trained")] == ["1"]
    assert job.name in [j.name for j in ml.jobs.list()]

    az.job_seconds = 60
    second = ml.jobs.create_or_update(train())
    ml.jobs.begin_cancel(second.name).result()
    assert ml.jobs.get(second.name).status == "Canceled"


TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"name": {"type": "string"}, "sku": {"type": "string", "defaultValue": "Standard_LRS"}},
    "resources": [
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2023-01-01",
            "name": "[parameters('name')]",
            "location": "[resourceGroup().location]",
            "sku": {"name": "[parameters('sku')]"},
            "kind": "StorageV2",
            "properties": {"minimumTlsVersion": "TLS1_2"},
        }
    ],
    "outputs": {
        "id": {"type": "string", "value": "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]"}
    },
}


def test_arm_deployment_and_what_if(loopback_azure: LoopbackAzure) -> None:
    az = loopback_azure
    client = DeploymentsMgmtClient(
        az.credential(), az.subscription_id, base_url=az.url, credential_scopes=[f"{az.url}.default"]
    )
    parameters: dict[str, Any] = {"name": {"value": "stdata"}}

    def what_if() -> Any:
        properties = DeploymentWhatIfProperties(mode="Incremental", template=TEMPLATE, parameters=parameters)
        return client.deployments.begin_what_if(az.resource_group, "infra", DeploymentWhatIf(properties=properties))

    predicted = what_if().result()
    assert [(c.change_type, c.resource_id.rsplit("/", 1)[-1]) for c in predicted.changes] == [
        ("Create", "stdata"),
        ("Ignore", az.workspace),
    ]
    properties = DeploymentProperties(mode="Incremental", template=TEMPLATE, parameters=parameters)
    deployed = client.deployments.begin_create_or_update(
        az.resource_group, "infra", Deployment(properties=properties)
    ).result()
    assert deployed.properties is not None and deployed.properties.provisioning_state == "Succeeded"
    assert deployed.properties.outputs == {
        "id": {
            "type": "String",
            "value": f"{az.workspace_id.split('/providers/')[0]}/providers/Microsoft.Storage/storageAccounts/stdata",
        }
    }
    assert [d.name for d in client.deployments.list_by_resource_group(az.resource_group)] == ["infra"]

    assert what_if().result().changes[0].change_type == "NoChange"
    parameters["sku"] = {"value": "Standard_GRS"}
    changed = what_if().result()
    assert changed.changes[0].change_type == "Modify"
    assert [(d.path, d.property_change_type, d.before, d.after) for d in changed.changes[0].delta] == [
        ("sku.name", "Modify", "Standard_LRS", "Standard_GRS"),
    ]


def test_client_secret_credential_signs_in_at_the_token_endpoint(loopback_azure: LoopbackAzure) -> None:
    az = loopback_azure
    credential = ClientSecretCredential(
        az.tenant, az.client_id, az.client_secret, authority=az.authority, disable_instance_discovery=True
    )
    ml = az.ml_client(credential)
    assert ml.environments.create_or_update(Environment(name="sk", version="1", image="python:3.11")).version == "1"
    assert statuses(az, f"/{az.tenant}/oauth2/v2.0/token") == [200]

    wrong = ClientSecretCredential(
        az.tenant, az.client_id, "not-the-secret", authority=az.authority, disable_instance_discovery=True
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        az.ml_client(wrong).environments.get("sk", "1")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("429", [429, 200]), ("503", [503, 200]), ("reset", [0, 200])],
)
def test_azure_core_retries_throttling_errors_and_resets(
    loopback_azure: LoopbackAzure, fault: str, expected: list[int]
) -> None:
    az = loopback_azure
    ml = az.ml_client()
    ml.environments.create_or_update(Environment(name="sk", version="1", image="python:3.11"))
    target = "/environments/sk/versions/1"
    if fault == "reset":
        az.inject_reset(path_contains=target, method="GET")
    else:
        az.inject(int(fault), retry_after=0.05 if fault == "429" else None, path_contains=target, method="GET")
    az.clear_calls()
    assert ml.environments.get("sk", "1").image == "python:3.11"
    assert [c.status for c in az.calls if c.path.endswith(target)] == expected


def test_lists_follow_next_link(loopback_azure: LoopbackAzure) -> None:
    az = loopback_azure
    az.page_size = 2
    ml = az.ml_client()
    for v in range(1, 6):
        ml.environments.create_or_update(Environment(name="sk", version=str(v), image="python:3.11"))
    az.clear_calls()
    assert sorted(e.version for e in ml.environments.list(name="sk")) == ["1", "2", "3", "4", "5"]
    pages = [c for c in az.calls if c.path.endswith("/environments/sk/versions")]
    assert len(pages) == 3 and [c.query.get("$skipToken") for c in pages] == [None, "2", "4"]


CHILD = """
import json, os, sys
from azure.ai.ml import MLClient
from azure.ai.ml.entities import Data
from azure.identity import ClientSecretCredential
cloud, metadata, sub, rg, ws, path = sys.argv[1], json.loads(sys.argv[2]), *sys.argv[3:]
env = os.environ
credential = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
                                    authority=env["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)
ml = MLClient(credential, sub, rg, ws, cloud=cloud, cloud_metadata=metadata, enable_telemetry=False,
              show_progress=False)
print(ml.data.create_or_update(Data(name="child", version="1", type="uri_file", path=path)).path)
"""


@pytest.mark.slow
def test_a_child_process_uploads_to_azurite_through_env(
    loopback_azure_storage: LoopbackAzure, azurite: Azurite, tmp_path: Path
) -> None:
    """What an ``mlplan`` run started by a test gets: ``env()`` (set by the fixture) makes its SDK trust the server,
    sign in as the service principal, and upload to Azurite."""
    az = loopback_azure_storage
    csv = tmp_path / "child.csv"
    csv.write_text("x\n1\n")
    args = [az.cloud_name, json.dumps(az.cloud_metadata), az.subscription_id, az.resource_group, az.workspace, str(csv)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    path = done.stdout.strip().splitlines()[-1]
    datastore = az.resource(f"{az.workspace_id}/datastores/workspaceblobstore")
    assert datastore is not None
    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
        datastore["properties"]["containerName"]
    )
    assert container.download_blob(path.split("/paths/", 1)[1]).readall() == csv.read_bytes()
