"""The no-op re-plan property of the azure provider's kinds, offline: for every kind, what ``desired_attributes``
says of a spec equals what ``observed`` reports of the same spec after azure-ai-ml turned it into a REST body, the
service answered with it (``serve``: the body with what the REST API fills in, per the specification of
Microsoft.MachineLearningServices 2025-12-01 / Microsoft.Resources deployments, and what azure-ai-ml's client code
does before it sends: uploads, asset references as ARM ids) and azure-ai-ml read the answer back. A field the
studio changes shows up as that field.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlplan.core import kinds as kind_facts
from mlplan.core.content import hash_path
from mlplan.core.diffing import field_changes
from mlplan.providers.azure.kinds import MAPS
from mlplan.providers.azure.kinds.arm import what_if_changes
from mlplan.providers.azure.kinds.common import INLINE, asset_ref, compute_ref, data_uri, user_tags
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import TAG_ADDRESS, TAG_CHAMPION, TAG_OPERATION, TAG_PROJECT, Desired, secret_hash

WS = Workspace("00000000-0000-0000-0000-000000000000", "rg", "ws", "westeurope")
ARM = WS.arm_id
UAI = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
OWNED = {TAG_PROJECT: "demo", TAG_ADDRESS: "x.y", TAG_OPERATION: "0123456789abcdef"}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.json").write_text("{}")
    (tmp_path / "score").mkdir()
    (tmp_path / "score" / "score.py").write_text("def init(): ...\ndef run(raw): ...\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('train')\n")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM python:3.11\n")
    (tmp_path / "conda.yml").write_text("name: env\ndependencies:\n  - python=3.11\n  - pip:\n      - scikit-learn\n")
    (tmp_path / "train.csv").write_text("a,b\n1,2\n")
    (tmp_path / "main.json").write_text(
        json.dumps({"$schema": "x", "resources": [], "parameters": {"sku": {"type": "string"}}})
    )
    (tmp_path / "main.parameters.json").write_text(
        json.dumps({"contentVersion": "1.0.0.0", "parameters": {"sku": {"value": "S1"}}})
    )
    return tmp_path


def desired(kind: str, name: str, spec: dict[str, Any], base: Path, subtype: str | None = None) -> Desired:
    """What the engine hands the provider: the spec, the digests of its local content, the ownership tags."""
    content = {}
    for dotted in kind_facts.PATH_FIELDS.get(kind, ()):
        value: Any = spec
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and not kind_facts.is_remote(value):
            content[dotted] = hash_path(Path(os.path.join(base, value))).digest
    version = spec.get("version")
    return Desired(kind, name, spec, base, subtype, str(version) if version else None, content, dict(OWNED), "demo")


# -- what the service does with a body (and what azure-ai-ml does before sending it) ---------------------------------
def uploaded(name: str) -> str:
    """Where azure-ai-ml uploads a local path (the default datastore), in the service's long form."""
    return (
        f"azureml://subscriptions/{WS.subscription_id}/resourcegroups/{WS.resource_group}/workspaces/{WS.name}"
        f"/datastores/workspaceblobstore/paths/LocalUpload/0f3c9a/{name}"
    )


def long_form(uri: str) -> str:
    return uri.replace(
        "azureml://datastores/",
        f"azureml://subscriptions/{WS.subscription_id}/resourcegroups/{WS.resource_group}/workspaces/{WS.name}/datastores/",
    )


def arm_asset(reference: str, folder: str) -> str:
    """azure-ai-ml's client resolves ``name:version`` to the asset's ARM id before it PUTs."""
    name, _, version = reference.removeprefix("azureml:").partition(":")
    return f"{ARM}/{folder}/{name}/versions/{version}"


def serve_compute(body: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out.update(id=f"{ARM}/computes/{name}", name=name, type="Microsoft.MachineLearningServices/workspaces/computes")
    out["location"] = out.get("location") or WS.location
    props = out["properties"]
    props.update(provisioningState="Succeeded", createdOn="2025-01-01T00:00:00Z", isAttachedCompute=False)
    inner = props["properties"]
    if props["computeType"] == "AmlCompute":
        inner.setdefault("vmPriority", "Dedicated")  # AmlComputeProperties.vmPriority: the service's default
        inner["scaleSettings"].setdefault("minNodeCount", 0)  # ScaleSettings.minNodeCount: default 0
        # RemoteLoginPortPublicAccess NotSpecified: "closed ... if VNet is defined, else ... open"; after creation
        # it is Enabled or Disabled
        if inner.get("remoteLoginPortPublicAccess") == "NotSpecified":
            inner["remoteLoginPortPublicAccess"] = "Disabled" if inner.get("subnet") else "Enabled"
        creds = inner.get("userAccountCredentials")
        if creds:
            creds.pop("adminUserPassword", None)  # never returned
        inner.update(allocationState="Steady", currentNodeCount=0, targetNodeCount=0)
    else:
        inner.setdefault("sshSettings", {"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 50000})
        inner.update(state="Running", applications=[], connectivityEndpoints={"publicIpAddress": "20.1.2.3"})
    if out.get("identity"):
        out["identity"].update(principalId="p-1", tenantId="t-1")
    return out


def serve_asset(body: dict[str, Any], folder: str, name: str, version: str, uri_key: str | None) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out.update(id=f"{ARM}/{folder}/{name}/versions/{version}", name=version)
    props = out["properties"]
    if uri_key is not None:
        uri = str(props[uri_key])
        props[uri_key] = uploaded(Path(uri).name) if uri.startswith("/") else long_form(uri)
    props.setdefault("isArchived", False)
    if folder == "models":
        props.setdefault("flavors", {})  # ModelVersionProperties.flavors: {} for a custom model
    if folder == "environments":
        props.setdefault("osType", "Linux")  # EnvironmentVersionProperties.osType: default Linux
        props["environmentType"] = "UserCreated"
        props.setdefault("autoRebuild", "Disabled")
        build = props.get("build")
        if build:
            build.setdefault("dockerfilePath", "Dockerfile")  # BuildContext.dockerfilePath: default Dockerfile
            if str(build["contextUri"]).startswith(("/", ".")):
                build["contextUri"] = uploaded("docker")
    out["systemData"] = {"createdBy": "someone", "createdAt": "2025-01-01T00:00:00Z"}
    return out


def serve_endpoint(body: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out.update(id=f"{ARM}/onlineEndpoints/{name}", name=name, kind="Managed")
    props = out["properties"]
    props.update(
        scoringUri=f"https://{name}.westeurope.inference.ml.azure.com/score",
        swaggerUri=f"https://{name}.westeurope.inference.ml.azure.com/swagger.json",
        provisioningState="Succeeded",
    )
    props.setdefault("publicNetworkAccess", "Enabled")  # OnlineEndpointProperties.publicNetworkAccess
    props["properties"] = {
        **props.get("properties", {}),
        "azureml.onlineendpointid": "x",
        "AzureAsyncOperationUri": "y",
    }
    if out.get("identity"):
        out["identity"].update(principalId="p-1", tenantId="t-1")
    return out


PROBE = {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S", "successThreshold": 1, "failureThreshold": 30}


def serve_deployment(body: dict[str, Any], endpoint: str, name: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out.update(id=f"{ARM}/onlineEndpoints/{endpoint}/deployments/{name}", name=name)
    props = out["properties"]
    props["model"] = arm_asset(props["model"], "models")
    props["environmentId"] = arm_asset(props["environmentId"], "environments")
    code = props["codeConfiguration"]
    if not str(code["codeId"]).startswith("/subscriptions"):
        code["codeId"] = f"{ARM}/codes/2b0e9c/versions/1"  # azure-ai-ml uploads local code as a code asset
    props["scaleSettings"] = {"scaleType": "Default"}  # null: "defaults to DefaultScaleSettings for Managed"
    props["requestSettings"] = {
        "requestTimeout": "PT5S",
        "maxConcurrentRequestsPerInstance": 1,
        "maxQueueWait": "PT0.5S",
        **props.get("requestSettings", {}),
    }
    props["livenessProbe"] = {**PROBE, **props.get("livenessProbe", {})}
    props["readinessProbe"] = {**PROBE, **props.get("readinessProbe", {})}
    props.setdefault("egressPublicNetworkAccess", "Enabled")
    props.update(provisioningState="Succeeded")
    out["sku"] = {"name": "Default", "capacity": out.get("sku", {}).get("capacity", 1)}
    return out


def serve_job(body: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out.update(id=f"{ARM}/jobs/{name}", name=name)
    props = out["properties"]
    props["status"] = "Completed"
    if props.get("computeId"):
        props["computeId"] = f"{ARM}/computes/{props['computeId'].removeprefix('azureml:')}"
    env = props["environmentId"]
    props["environmentId"] = arm_asset(env, "environments") if ":" in env else env
    if str(props.get("codeId", "")).startswith(("/", ".")) or props.get("codeId") is None:
        props["codeId"] = f"{ARM}/codes/5d1f/versions/1"
    for value in props.get("inputs", {}).values():
        if value["jobInputType"] != "literal":
            value.setdefault("mode", "ReadOnlyMount")  # JobInput mode: default ReadOnlyMount
            uri = value["uri"]
            value["uri"] = (
                uploaded(Path(uri).name)
                if uri.startswith("/")
                else ("azureml:" + arm_asset(uri, "data") if ":" in uri and "://" not in uri else uri)
            )
    for value in props.get("outputs", {}).values():
        value.setdefault("mode", "ReadWriteMount")  # JobOutput mode: default ReadWriteMount
        value["uri"] = f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{name}/model"
    props["resources"] = {"instanceCount": 1, "shmSize": "2g", **props.get("resources", {})}
    props["services"] = {"Studio": {"jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{name}"}}
    return out


# -- the round trip per kind ----------------------------------------------------------------------------------------
def compute_trip(d: Desired, edit: Callable[[dict[str, Any]], None] = lambda b: None) -> dict[str, Any]:
    from azure.ai.ml._restclient.arm_ml_service.models import ComputeResource
    from azure.ai.ml.entities import Compute

    entity = MAPS["compute"].to_entity(d, WS)
    entity._set_full_subnet_name(WS.subscription_id, WS.resource_group)  # what computes.begin_create_or_update does
    body = serve_compute(entity._to_rest_object().as_dict(), d.name)
    edit(body)
    return MAPS["compute"].observed(Compute._from_rest_object(ComputeResource(body)), WS).attributes


ASSET_REST = {"data": ("data", "dataUri"), "model": ("models", "modelUri"), "environment": ("environments", None)}


def asset_trip(d: Desired) -> Any:
    from azure.ai.ml._restclient.arm_ml_service.models import DataVersionBase, EnvironmentVersion, ModelVersion
    from azure.ai.ml.entities import Data, Environment, Model

    rest, entity_cls = {
        "data": (DataVersionBase, Data),
        "model": (ModelVersion, Model),
        "environment": (EnvironmentVersion, Environment),
    }[d.kind]
    folder, uri_key = ASSET_REST[d.kind]
    entity = MAPS[d.kind].to_entity(d, WS)
    body = serve_asset(entity._to_rest_object().as_dict(), folder, d.name, str(entity.version), uri_key)
    return MAPS[d.kind].observed(entity_cls._from_rest_object(rest(body)), WS)


def endpoint_entity(d: Desired, edit: Callable[[dict[str, Any]], None] = lambda b: None, keep: Any = None) -> Any:
    from azure.ai.ml._restclient.arm_ml_service.models import OnlineEndpoint as RestEndpoint
    from azure.ai.ml.entities import OnlineEndpoint

    body = serve_endpoint(
        MAPS["online_endpoint"].to_entity(d, WS, keep)._to_rest_online_endpoint(WS.location).as_dict(), d.name
    )
    edit(body)
    return OnlineEndpoint._from_rest_object(RestEndpoint(body))


def deployment_trip(d: Desired, inline: dict[str, str] | None = None) -> Any:
    from azure.ai.ml._restclient.arm_ml_service.models import OnlineDeployment as RestDeployment
    from azure.ai.ml.entities import OnlineDeployment

    endpoint, name = d.name.split("/")
    entity = MAPS["online_deployment"].to_entity(d, WS, inline)
    body = serve_deployment(entity._to_rest_object(location=WS.location).as_dict(), endpoint, name)
    return MAPS["online_deployment"].observed(OnlineDeployment._from_rest_object(RestDeployment(body)), WS)


def job_trip(d: Desired) -> Any:
    from azure.ai.ml._restclient.arm_ml_service.models import JobBase
    from azure.ai.ml.entities import Job

    entity = MAPS["job"].to_entity(d, WS)
    if isinstance(d.spec.get("environment"), dict):  # jobs.create_or_update registers it anonymously first
        entity.environment = "azureml:CliV2AnonymousEnvironment:7c1e"
    body = serve_job(entity._to_job()._to_rest_object().as_dict(), entity.name)
    return MAPS["job"].observed(Job._from_rest_object(JobBase(body)), WS)


def no_op(d: Desired, observed: dict[str, Any]) -> None:
    """The re-plan after apply: nothing differs."""
    wanted = MAPS[d.kind].desired_attributes(d, WS)
    assert field_changes(observed, wanted, frozenset()) == [], (wanted, observed)
    assert observed == wanted


# -- computes -------------------------------------------------------------------------------------------------------
COMPUTES = {
    "a cluster with every default": {"name": "cpu", "type": "amlcompute"},
    "the quickstart's cluster": {
        "name": "cpu",
        "type": "amlcompute",
        "size": "STANDARD_DS3_V2",
        "min_instances": 0,
        "max_instances": 2,
    },
    "a cluster with everything set": {
        "name": "gpu",
        "type": "amlcompute",
        "description": "training",
        "location": "West Europe",
        "size": "Standard_NC6s_v3",
        "tier": "low_priority",
        "min_instances": 1,
        "max_instances": 8,
        "idle_time_before_scale_down": 600,
        "ssh_public_access_enabled": True,
        "ssh_settings": {
            "admin_username": "azureuser",
            "admin_password": "p@ssw0rd-0123",
            "ssh_key_value": "ssh-rsa AAAA",
        },
        "identity": {
            "type": "user_assigned",
            "user_assigned_identities": [{"resource_id": UAI + "Id1"}],
        },
        "tags": {"team": "ml"},
    },
    "a cluster on a subnet": {
        "name": "private",
        "type": "amlcompute",
        "network_settings": {"vnet_name": "vnet", "subnet": "default"},
    },
    "a compute instance": {"name": "ci-alice", "type": "computeinstance", "size": "Standard_DS3_v2"},
    "a compute instance with settings": {
        "name": "ci-bob",
        "type": "computeinstance",
        "size": "Standard_DS3_v2",
        "idle_time_before_shutdown_minutes": 30,
        "enable_root_access": False,
        "create_on_behalf_of": {"user_object_id": "oid", "user_tenant_id": "tid"},
        "identity": {"type": "system_assigned"},
    },
}


@pytest.mark.parametrize("spec", COMPUTES.values(), ids=COMPUTES.keys())
def test_computes_replan_as_no_op(files: Path, spec: dict[str, Any]) -> None:
    d = desired("compute", spec["name"], spec, files, spec["type"])
    no_op(d, compute_trip(d))


def test_compute_defaults_are_azure_ai_mls() -> None:
    from azure.ai.ml.constants._compute import ComputeDefaults

    from mlplan.providers.azure.kinds.compute import AML_DEFAULTS

    assert AML_DEFAULTS["size"] == ComputeDefaults.VMSIZE
    assert (AML_DEFAULTS["min_instances"], AML_DEFAULTS["max_instances"]) == (
        ComputeDefaults.MIN_NODES,
        ComputeDefaults.MAX_NODES,
    )


def test_a_compute_changed_in_the_studio_shows_the_field(files: Path) -> None:
    d = desired("compute", "cpu", COMPUTES["the quickstart's cluster"], files, "amlcompute")

    def scaled(body: dict[str, Any]) -> None:
        body["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 6

    changes = field_changes(compute_trip(d, scaled), MAPS["compute"].desired_attributes(d, WS), frozenset())
    assert [(c.path, c.before, c.after) for c in changes] == [("max_instances", 6, 2)]


def test_a_compute_password_is_compared_by_its_hash_only(files: Path) -> None:
    d = desired("compute", "gpu", COMPUTES["a cluster with everything set"], files, "amlcompute")
    wanted = MAPS["compute"].desired_attributes(d, WS)
    assert wanted["ssh_settings"]["admin_password"] == secret_hash("p@ssw0rd-0123", "demo")
    entity = MAPS["compute"].to_entity(d, WS)
    assert "p@ssw0rd-0123" not in json.dumps(entity.tags)
    changed = {**d.spec, "ssh_settings": {**d.spec["ssh_settings"], "admin_password": "another-0123"}}
    other = desired("compute", "gpu", changed, files, "amlcompute")
    assert MAPS["compute"].desired_attributes(other, WS) != compute_trip(d)


# -- assets ---------------------------------------------------------------------------------------------------------
ASSETS = {
    "data from a local file": ("data", {"name": "train", "version": "3", "type": "uri_file", "path": "./train.csv"}),
    "data on a datastore": (
        "data",
        {
            "name": "raw",
            "version": "1",
            "path": "azureml://datastores/workspaceblobstore/paths/raw/",
            "description": "d",
            "tags": {"a": "b"},
        },
    ),
    "a model from a folder": (
        "model",
        {"name": "clf", "version": "2", "path": "./model", "stage": "Production", "properties": {"accuracy": "0.9"}},
    ),
    "an mlflow model on a datastore": (
        "model",
        {
            "name": "mlf",
            "version": "1",
            "type": "mlflow_model",
            "path": "azureml://datastores/workspaceblobstore/paths/mlf/",
        },
    ),
    "an environment from an image and a conda file": (
        "environment",
        {
            "name": "sklearn",
            "version": "4",
            "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
            "conda_file": "./conda.yml",
            "description": "x",
        },
    ),
    "an environment built from a context": (
        "environment",
        {"name": "custom", "version": "1", "build": {"path": "./docker"}, "tags": {"team": "ml"}},
    ),
}


@pytest.mark.parametrize(("kind", "spec"), ASSETS.values(), ids=ASSETS.keys())
def test_asset_versions_replan_as_no_op(files: Path, kind: str, spec: dict[str, Any]) -> None:
    d = desired(kind, spec["name"], spec, files)
    observed = asset_trip(d)
    no_op(d, observed.attributes)
    assert observed.version == spec["version"]
    assert observed.id == f"{ASSET_REST[kind][0]}/{spec['name']}/versions/{spec['version']}"


def test_local_content_is_compared_by_digest(files: Path) -> None:
    d = desired("model", "clf", ASSETS["a model from a folder"][1], files)
    observed = asset_trip(d)
    assert observed.attributes["content"] == {"path": hash_path(files / "model").digest}
    assert observed.attributes["path"] is None and observed.outputs["path"].startswith("azureml://subscriptions/")
    (files / "model" / "weights.json").write_text('{"w": 1}')
    changed = desired("model", "clf", ASSETS["a model from a folder"][1], files)
    changes = field_changes(observed.attributes, MAPS["model"].desired_attributes(changed, WS), frozenset())
    assert [c.path for c in changes] == ["content.path"]


def test_a_changed_conda_dependency_shows_as_itself(files: Path) -> None:
    d = desired("environment", "sklearn", ASSETS["an environment from an image and a conda file"][1], files)
    observed = asset_trip(d)
    (files / "conda.yml").write_text("name: env\ndependencies:\n  - python=3.12\n  - pip:\n      - scikit-learn\n")
    changed = desired("environment", "sklearn", d.spec, files)
    changes = field_changes(observed.attributes, MAPS["environment"].desired_attributes(changed, WS), frozenset())
    assert [(c.path, c.before, c.after) for c in changes] == [("conda.dependencies.0", "python=3.11", "python=3.12")]


# -- online endpoints, deployments, traffic -------------------------------------------------------------------------
ENDPOINTS = {
    "a key endpoint": {"name": "cancer", "auth_mode": "key", "traffic": {"blue": 100}},
    "a token endpoint with settings": {
        "name": "cancer-aad",
        "auth_mode": "aad_token",
        "description": "Breast cancer classifier.",
        "public_network_access": "disabled",
        "identity": {
            "type": "user_assigned",
            "user_assigned_identities": [{"resource_id": UAI + "uai"}],
        },
        "tags": {"owner": "ml"},
    },
}


@pytest.mark.parametrize("spec", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_online_endpoints_replan_as_no_op(files: Path, spec: dict[str, Any]) -> None:
    d = desired("online_endpoint", spec["name"], spec, files, "managed")
    observed = MAPS["online_endpoint"].observed(endpoint_entity(d), WS)
    no_op(d, observed.attributes)
    assert observed.outputs["scoring_uri"] == f"https://{spec['name']}.westeurope.inference.ml.azure.com/score"


def test_an_endpoint_is_created_without_traffic_and_updated_keeping_its_split(files: Path) -> None:
    d = desired("online_endpoint", "cancer", ENDPOINTS["a key endpoint"], files, "managed")
    assert MAPS["online_endpoint"].to_entity(d, WS).traffic == {}
    live = endpoint_entity(d, lambda b: b["properties"].update(traffic={"blue": 90, "green": 10}))
    assert MAPS["online_endpoint"].to_entity(d, WS, keep=live).traffic == {"blue": 90, "green": 10}


def test_traffic_replans_as_no_op_and_drift_names_the_deployment(files: Path) -> None:
    endpoint = desired("online_endpoint", "cancer", ENDPOINTS["a key endpoint"], files, "managed")
    split = desired(
        "traffic",
        "cancer",
        {"endpoint_name": "cancer", "traffic": {"blue": 90, "green": 10, "red": 0}, "mirror_traffic": {"green": 20}},
        files,
    )
    live = MAPS["traffic"].apply(endpoint_entity(endpoint), split)
    served = endpoint_entity(
        endpoint, lambda b: b["properties"].update(traffic=live.traffic, mirrorTraffic=live.mirror_traffic)
    )
    observed = MAPS["traffic"].observed(served, WS)
    no_op(split, observed.attributes)
    assert observed.id == "onlineEndpoints/cancer/traffic"
    moved = endpoint_entity(endpoint, lambda b: b["properties"].update(traffic={"blue": 100, "green": 0}))
    changes = field_changes(
        MAPS["traffic"].observed(moved, WS).attributes, MAPS["traffic"].desired_attributes(split, WS), frozenset()
    )
    assert sorted((c.path, c.before, c.after) for c in changes) == [
        ("mirror_traffic.green", None, 20),
        ("traffic.blue", 100, 90),
        ("traffic.green", None, 10),
    ]


BLUE = {
    "name": "blue",
    "endpoint_name": "cancer",
    "model": "azureml:cancer-model:3",
    "environment": "azureml:sklearn:2",
    "code_configuration": {"code": "./score", "scoring_script": "score.py"},
    "instance_type": "Standard_DS3_v2",
    "instance_count": 1,
}
DEPLOYMENTS = {
    "the quickstart's deployment": BLUE,
    "a deployment with settings": {
        **BLUE,
        "instance_count": 3,
        "environment_variables": {"WORKER_COUNT": 2, "MODE": "fast"},
        "request_settings": {"request_timeout_ms": 9000, "max_concurrent_requests_per_instance": 4},
        "liveness_probe": {"initial_delay": 30, "failure_threshold": 5},
        "app_insights_enabled": True,
        "egress_public_network_access": "disabled",
        "description": "blue",
        "tags": {"slot": "blue"},
    },
}


@pytest.mark.parametrize("spec", DEPLOYMENTS.values(), ids=DEPLOYMENTS.keys())
def test_online_deployments_replan_as_no_op(files: Path, spec: dict[str, Any]) -> None:
    d = desired("online_deployment", "cancer/blue", spec, files, "managed")
    observed = deployment_trip(d)
    no_op(d, observed.attributes)
    assert observed.attributes["model"] == "azureml:cancer-model:3"
    assert observed.attributes["content"] == {"code_configuration.code": hash_path(files / "score").digest}
    assert observed.id == "onlineEndpoints/cancer/deployments/blue"


def test_an_inline_model_and_environment_compare_as_inline_while_used(files: Path) -> None:
    spec = {
        **BLUE,
        "model": {"path": "./model"},
        "environment": {
            "image": "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py311-cpu-inference",
            "conda_file": "./conda.yml",
        },
    }
    d = desired("online_deployment", "cancer/blue", spec, files, "managed")
    registered = {"model": "azureml:anon-6a1f:1", "environment": "azureml:CliV2AnonymousEnvironment:9c3e"}
    observed = deployment_trip(d, registered)
    no_op(d, observed.attributes)
    assert observed.attributes["model"] == observed.attributes["environment"] == INLINE
    assert set(observed.attributes["content"]) == {"code_configuration.code", "model", "environment"}
    # the studio points the deployment at another model: that is what read reports
    observed.tags["mlplan.inline.model"] = "azureml:anon-0000:1"
    reread = MAPS["online_deployment"].observed(_with_tags(d, registered, observed.tags), WS)
    assert reread.attributes["model"] == "azureml:anon-6a1f:1"
    # a changed inline model file changes the deployment's content
    (files / "model" / "weights.json").write_text("[1]")
    changed = MAPS["online_deployment"].desired_attributes(
        desired("online_deployment", "cancer/blue", spec, files, "managed"), WS
    )
    assert changed["content"]["model"] != observed.attributes["content"]["model"]


def _with_tags(d: Desired, inline: dict[str, str], tags: dict[str, str]) -> Any:
    from azure.ai.ml._restclient.arm_ml_service.models import OnlineDeployment as RestDeployment
    from azure.ai.ml.entities import OnlineDeployment

    entity = MAPS["online_deployment"].to_entity(d, WS, inline)
    body = serve_deployment(entity._to_rest_object(location=WS.location).as_dict(), "cancer", "blue")
    body["tags"] = tags
    return OnlineDeployment._from_rest_object(RestDeployment(body))


# -- jobs ------------------------------------------------------------------------------------------------------------
TRAIN = {
    "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
    "type": "command",
    "code": "./src",
    "command": "python train.py --train ${{inputs.train}} --algorithm ${{inputs.algorithm}} --model ${{outputs.model}}",
    "inputs": {
        "train": {"type": "uri_file", "path": "azureml:cancer-train:3"},
        "algorithm": "logistic_regression",
        "epochs": 10,
    },
    "outputs": {"model": {"type": "custom_model", "name": "cancer-model"}},
    "environment": "azureml:sklearn:2",
    "compute": "azureml:cpu-cluster",
    "environment_variables": {"SEED": 7},
}
JOBS = {
    "the quickstart's job": TRAIN,
    "a job with names, limits and a local input": {
        **TRAIN,
        "display_name": "train-cancer-classifier",
        "experiment_name": "quickstart",
        "description": "trains",
        "tags": {"run": "nightly"},
        "inputs": {**TRAIN["inputs"], "extra": {"type": "uri_file", "path": "./train.csv"}},
        "resources": {"instance_count": 2},
        "limits": {"timeout": 3600},
    },
    "a job with an inline environment": {**TRAIN, "environment": {"image": "python:3.11", "conda_file": "./conda.yml"}},
}


@pytest.mark.parametrize("spec", JOBS.values(), ids=JOBS.keys())
def test_jobs_report_what_was_planned(files: Path, spec: dict[str, Any]) -> None:
    d = desired("job", "train", spec, files, "command")
    observed = job_trip(d)
    no_op(d, observed.attributes)
    assert observed.id == "jobs/train-01234567"
    assert observed.outputs["run"] == "train-01234567" and observed.outputs["status"] == "Completed"
    assert observed.attributes["display_name"] == spec.get("display_name", "train")
    assert observed.attributes["experiment_name"] == spec.get("experiment_name", "demo")


ARM_DATA = f"{ARM}/data/iris/versions/1"


@pytest.mark.parametrize(
    "path,compared",
    [
        ("azureml:iris:1", "azureml:iris:1"),  # as written (and planned)
        ("iris:1", "azureml:iris:1"),  # as jobs.get reads it back
        (ARM_DATA, "azureml:iris:1"),  # as the REST API holds it
        (f"azureml:{ARM_DATA}", "azureml:iris:1"),
        ("./train.csv", "(local)"),
        ("azureml://datastores/workspaceblobstore/paths/LocalUpload/abc/train.csv", "(local)"),
        ("(known after apply)", "(known after apply)"),  # a data version the same apply makes: not a local path
    ],
)
def test_a_job_input_path_compares_in_one_form(path: str, compared: str) -> None:
    from mlplan.providers.azure.kinds.jobs import input_path

    assert input_path(path) == compared


# -- ARM deployments ---------------------------------------------------------------------------------------------------
ARM_SPECS = {
    "a template with a parameters file": {"template": "./main.json", "parameters": "./main.parameters.json"},
    "a template with inline parameters, complete mode": {
        "template": "./main.json",
        "parameters": {"sku": "S2"},
        "mode": "Complete",
    },
}


@pytest.mark.parametrize("spec", ARM_SPECS.values(), ids=ARM_SPECS.keys())
def test_arm_deployments_replan_as_no_op(files: Path, spec: dict[str, Any]) -> None:
    from azure.mgmt.resource.deployments.models import DeploymentExtended

    d = desired("arm_deployment", "main", spec, files)
    body = MAPS["arm_deployment"].to_body(d)
    assert body["properties"]["template"]["parameters"] == {"sku": {"type": "string"}}
    assert body["properties"]["parameters"] == {"sku": {"value": "S2" if "mode" in spec else "S1"}}
    served = {
        "id": f"/subscriptions/{WS.subscription_id}/resourceGroups/rg/providers/Microsoft.Resources/deployments/main",
        "name": "main",
        "tags": body["tags"],
        "properties": {
            "mode": body["properties"]["mode"],
            "provisioningState": "Succeeded",
            "templateHash": "1234",
            "parameters": {k: {"type": "String", **v} for k, v in body["properties"]["parameters"].items()},
            "outputs": {"endpoint": {"type": "String", "value": "https://x"}},
        },
    }
    observed = MAPS["arm_deployment"].observed(
        DeploymentExtended(served), WS, inline_parameters=isinstance(spec["parameters"], dict)
    )
    no_op(d, observed.attributes)
    assert observed.outputs["endpoint"] == "https://x" and observed.outputs["provisioning_state"] == "Succeeded"
    assert set(observed.attributes["content"]) == (
        {"template", "parameters"} if isinstance(spec["parameters"], str) else {"template"}
    )


def test_inline_parameters_compare_unwrapped_and_only_by_the_names_given(files: Path) -> None:
    from azure.mgmt.resource.deployments.models import DeploymentExtended

    spec = {"template": "./main.json", "parameters": {"sku": {"value": "S3"}}}
    d = desired("arm_deployment", "main", spec, files)
    body = MAPS["arm_deployment"].to_body(d)
    assert body["properties"]["parameters"] == {"sku": {"value": "S3"}}
    assert body["tags"]["mlplan.parameters"] == "sku"
    served = {
        "name": "main",
        "tags": body["tags"],
        "properties": {
            "mode": "Incremental",
            # ARM reports every parameter of the template, those left at their default too
            "parameters": {"sku": {"type": "String", "value": "S3"}, "region": {"type": "String", "value": "x"}},
            "outputs": {"key": {"type": "SecureString"}},
        },
    }
    observed = MAPS["arm_deployment"].observed(DeploymentExtended(served), WS)
    no_op(d, observed.attributes)
    assert observed.attributes["parameters"] == {"sku": "S3"}
    assert observed.outputs["key"] == "(sensitive)"
    missing = desired("arm_deployment", "main", {"template": "./nope.json", "parameters": {"a": 1}}, files)
    assert MAPS["arm_deployment"].desired_attributes(missing, WS)["parameters"] == {"a": 1}  # validate says why


def test_what_if_becomes_resource_changes_with_property_paths() -> None:
    from azure.mgmt.resource.deployments.models import WhatIfOperationResult

    result = WhatIfOperationResult(
        {
            "status": "Succeeded",
            "properties": {
                "changes": [
                    {
                        "resourceId": "/s/rg/providers/Microsoft.Storage/storageAccounts/b",
                        "changeType": "Create",
                        "after": {"sku": "S1"},
                    },
                    {
                        "resourceId": "/s/rg/providers/Microsoft.Storage/storageAccounts/a",
                        "changeType": "Modify",
                        "delta": [
                            {"path": "sku.name", "propertyChangeType": "Modify", "before": "S1", "after": "S2"},
                            {
                                "path": "tags",
                                "propertyChangeType": "NoEffect",
                                "children": [{"path": "x", "propertyChangeType": "Delete", "before": "1"}],
                            },
                        ],
                    },
                    {"resourceId": "/s/rg/providers/Microsoft.Web/sites/c", "changeType": "Ignore"},
                ]
            },
        }
    )
    changes = what_if_changes(result)
    assert [(c["resource_id"].rsplit("/", 1)[1], c["change"]) for c in changes] == [
        ("a", "modify"),
        ("b", "create"),
        ("c", "ignore"),
    ]
    assert changes[0]["delta"][0] == {
        "path": "sku.name",
        "change": "modify",
        "before": "S1",
        "after": "S2",
        "children": [],
    }
    assert changes[0]["delta"][1]["children"][0]["path"] == "tags.x"
    assert changes[0]["delta"][1]["children"][0]["change"] == "delete"


# -- marks and references ----------------------------------------------------------------------------------------------
def test_every_created_resource_carries_the_ownership_tags_and_users_tags_exclude_mlplans(files: Path) -> None:
    made = {
        "compute": MAPS["compute"].to_entity(
            desired("compute", "cpu", {"name": "cpu", "type": "amlcompute", "tags": {"a": "1"}}, files), WS
        ),
        "data": MAPS["data"].to_entity(
            desired("data", "train", {**ASSETS["data from a local file"][1], "tags": {"a": "1"}}, files), WS
        ),
        "online_endpoint": MAPS["online_endpoint"].to_entity(
            desired("online_endpoint", "cancer", {"name": "cancer", "tags": {"a": "1"}}, files), WS
        ),
        "online_deployment": MAPS["online_deployment"].to_entity(
            desired("online_deployment", "cancer/blue", {**BLUE, "tags": {"a": "1"}}, files), WS
        ),
        "job": MAPS["job"].to_entity(desired("job", "train", {**TRAIN, "tags": {"a": "1"}}, files), WS),
    }
    for kind, entity in made.items():
        assert {k: entity.tags[k] for k in OWNED} == OWNED, kind
        assert entity.tags["a"] == "1", kind
    arm = MAPS["arm_deployment"].to_body(
        desired("arm_deployment", "main", ARM_SPECS["a template with a parameters file"], files)
    )
    assert {k: arm["tags"][k] for k in OWNED} == OWNED
    assert user_tags({**OWNED, TAG_CHAMPION: "3", "mlplan.content.path": "d", "azureml.x": "y", "team": "ml"}) == {
        "team": "ml"
    }
    d = desired("model", "clf", ASSETS["a model from a folder"][1], files)
    observed = asset_trip(d)
    assert observed.tags[TAG_OPERATION] == OWNED[TAG_OPERATION]
    assert TAG_OPERATION not in observed.attributes["tags"]


def test_references_compare_in_one_form() -> None:
    assert asset_ref(f"{ARM}/models/m/versions/3") == "azureml:m:3"
    assert asset_ref("m:3") == asset_ref("azureml:m:3") == "azureml:m:3"
    assert asset_ref(f"azureml:{ARM}/data/d/versions/1") == "azureml:d:1"
    assert asset_ref("azureml://locations/westeurope/workspaces/0000/models/m/versions/2") == "azureml:m:2"
    assert (
        asset_ref("azureml://registries/azureml/models/phi/versions/1")
        == "azureml://registries/azureml/models/phi/versions/1"
    )
    assert asset_ref("(known after apply)") == "(known after apply)"
    assert compute_ref(f"{ARM}/computes/cpu") == compute_ref("azureml:cpu") == "cpu"
    assert data_uri(long_form("azureml://datastores/ds/paths/a/b.csv")) == "azureml://datastores/ds/paths/a/b.csv"


def test_a_users_tag_under_mlplans_prefix_is_refused_with_its_path(files: Path) -> None:
    from mlplan.providers.azure import AzureProvider

    rt = AzureProvider().resource_type("model")
    assert rt is not None
    spec = {
        **ASSETS["a model from a folder"][1],
        "tags": {"mlplan.owner": "me", "team": "ml"},
        "properties": {"mlplan.x": "1"},
    }
    problems = rt.validate(desired("model", "clf", spec, files))
    assert [(p.path, p.message.split(":")[0]) for p in problems] == [
        (("tags", "mlplan.owner"), "tags"),
        (("properties", "mlplan.x"), "properties"),
    ]
    assert all("mlplan keeps for its own marks" in p.message and p.hint for p in problems)
    assert rt.validate(desired("model", "clf", ASSETS["a model from a folder"][1], files)) == []


def test_a_job_the_azure_provider_cannot_submit_is_refused_at_plan_time(files: Path) -> None:
    from mlplan.providers.azure import AzureProvider

    rt = AzureProvider().resource_type("job")
    assert rt is not None
    assert rt.validate(desired("job", "train", TRAIN, files, "command")) == []
    typo = {**TRAIN, "command": "python train.py --algorithm ${{inputs.algoritm}} --out ${{outputs.mdl}}"}
    assert [(p.path, p.message) for p in rt.validate(desired("job", "train", typo, files, "command"))] == [
        (("command",), "command uses ${{inputs.algoritm}} but inputs has no 'algoritm'; did you mean 'algorithm'?"),
        (("command",), "command uses ${{outputs.mdl}} but outputs has no 'mdl'; did you mean 'model'?"),
    ]
    [sweep] = rt.validate(desired("job", "train", {**TRAIN, "type": "sweep"}, files, "sweep"))
    assert sweep.path == ("type",) and "sweep jobs are not supported by the azure provider yet" in sweep.message
