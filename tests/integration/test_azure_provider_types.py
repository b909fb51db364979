"""The azure provider's resource types called directly against the loopback Azure (real SDK clients, uploads to
Azurite): what the promotion contract needs (``mark`` a model version, ``fetch`` a data asset's files), ``lookup``
of the latest version skipping archived ones, and ``find_owned`` by the operation tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlplan.core.errors import ProviderError
from mlplan.providers.azure import AzureProvider
from mlplan.providers.base import TAG_CHAMPION, TAG_OPERATION, Context, Desired
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]  # azure-ai-ml's notices


def context(root: Path, az: LoopbackAzure) -> Context:
    workspace = {
        "subscription_id": az.subscription_id,
        "resource_group": az.resource_group,
        "workspace_name": az.workspace,
        "location": az.location,
    }
    return Context("demo", "dev", root, workspace, connection={"cloud": az.cloud_config, "credential": "environment"})


def test_mark_fetch_lookup_and_find_owned(tmp_path: Path, loopback_azure_storage: LoopbackAzure) -> None:
    az = loopback_azure_storage
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "eval.csv").write_text("x,y\n1,0\n")
    (tmp_path / "files" / "model").mkdir()
    (tmp_path / "files" / "model" / "w.bin").write_text("w")
    ctx = context(tmp_path, az)
    provider = AzureProvider()
    provider.bind(ctx)
    data, models = provider.resource_type("data"), provider.resource_type("model")
    assert data is not None and models is not None

    spec = {"type": "uri_file", "path": "files/eval.csv"}
    made = data.create(
        ctx, Desired("data", "eval", spec, tmp_path, content={"path": "d1"}, tags={TAG_OPERATION: "op1"})
    )
    assert made.version == "1"
    fetched = data.fetch(ctx, made)
    assert fetched.read_text() == "x,y\n1,0\n"
    assert data.fetch(ctx, made) == fetched  # the cached copy, no second download

    m1 = models.create(ctx, Desired("model", "clf", {"path": "files/model"}, tmp_path, content={"path": "a"}))
    m2 = models.create(ctx, Desired("model", "clf", {"path": "files/model"}, tmp_path, content={"path": "b"}))
    assert (m1.version, m2.version) == ("1", "2")
    models.mark(ctx, m1, {TAG_CHAMPION: "true"})
    assert az.resource(f"{az.workspace_id}/models/clf/versions/1")["properties"]["tags"][TAG_CHAMPION] == "true"
    models.mark(ctx, m1, {TAG_CHAMPION: None})
    assert TAG_CHAMPION not in az.resource(f"{az.workspace_id}/models/clf/versions/1")["properties"]["tags"]

    models.archive(ctx, m2)
    latest = models.lookup(ctx, "clf", None)
    assert latest is not None and latest.version == "1"  # the archived version 2 is not the latest
    archived = models.lookup(ctx, "clf", "2")
    assert archived is not None and archived.archived
    assert models.lookup(ctx, "nope", None) is None

    # scoring through an endpoint to a named deployment (the promotion contract's invoke)
    endpoints, deployments = provider.resource_type("online_endpoint"), provider.resource_type("online_deployment")
    assert endpoints is not None and deployments is not None
    ep = endpoints.create(ctx, Desired("online_endpoint", "score-ep", {"auth_mode": "key"}, tmp_path))
    (tmp_path / "score").mkdir()
    (tmp_path / "score" / "score.py").write_text("def init():\n    pass\n")
    green = {
        "model": "azureml:clf:1",
        "environment": "azureml:AzureML-sklearn-1.5@latest",
        "code_configuration": {"code": "score", "scoring_script": "score.py"},
        "instance_type": "Standard_DS3_v2",
    }
    deployments.create(ctx, Desired("online_deployment", "score-ep/green", green, tmp_path, content={}))
    az.set_scorer("score-ep", lambda body: {"echo": body.decode(), "by": "green"}, deployment="green")
    answer = endpoints.invoke(ctx, ep, "green", b'{"data": [1]}')
    assert json.loads(answer) == {"echo": '{"data": [1]}', "by": "green"}
    keys = endpoints.credentials(ctx, ep)
    stored = az.resource(f"{az.workspace_id}/onlineEndpoints/score-ep")
    assert stored is not None and sorted(keys) == ["primary_key", "secondary_key"]
    assert all(key not in str(stored) for key in keys.values())  # keys are not in the endpoint as read
    with pytest.raises(ProviderError) as refused:
        endpoints.invoke(ctx, ep, "nope", b"{}")
    assert "online endpoint 'score-ep', deployment 'nope': scoring answered HTTP 404" in str(refused.value)

    # the split, live and mirrored: green serves all, blue (0 %) gets a 10 % copy; read back as set
    deployments.create(ctx, Desired("online_deployment", "score-ep/blue", green, tmp_path, content={}))
    traffic = provider.resource_type("traffic")
    assert traffic is not None
    split = Desired("traffic", "score-ep", {"traffic": {"green": 100}, "mirror_traffic": {"blue": 10}}, tmp_path)
    made_split = traffic.create(ctx, split)
    assert made_split.attributes == {"traffic": {"green": 100}, "mirror_traffic": {"blue": 10}}
    assert not traffic.diff(traffic.desired_attributes(split), made_split.attributes).changed
    stored = az.resource(f"{az.workspace_id}/onlineEndpoints/score-ep")
    assert stored is not None and stored["properties"]["mirrorTraffic"] == {"blue": 10}
    too_much = Desired("traffic", "score-ep", {"traffic": {"green": 100}, "mirror_traffic": {"blue": 60}}, tmp_path)
    with pytest.raises(ProviderError) as refused:
        traffic.create(ctx, too_much)
    assert "the traffic of online endpoint 'score-ep'" in str(refused.value)
    traffic.delete(ctx, made_split)
    cleared = traffic.read(ctx, "onlineEndpoints/score-ep/traffic")
    assert cleared is not None and cleared.attributes == {"traffic": {}, "mirror_traffic": {}}

    owned = data.find_owned(ctx, "eval", "op1")
    assert owned is not None and owned.version == "1"
    assert data.find_owned(ctx, "eval", "another") is None


def test_a_cluster_without_a_location_is_made_in_the_workspaces_region_and_then_no_change(
    tmp_path: Path, loopback_azure: LoopbackAzure
) -> None:
    az = loopback_azure
    ctx = context(tmp_path, az)
    del ctx.workspace["location"]  # mlplan.yaml leaves it out, and so does the file
    provider = AzureProvider()
    provider.bind(ctx)
    computes = provider.resource_type("compute")
    assert computes is not None
    desired = Desired("compute", "cpu", {"type": "amlcompute", "size": "Standard_DS3_v2", "max_instances": 1}, tmp_path)
    made = computes.create(ctx, desired)
    assert made.attributes["location"] == az.location  # azure-ai-ml asked the workspace
    assert not computes.diff(computes.desired_attributes(desired), made.attributes).changed
    elsewhere = Desired("compute", "cpu", {**desired.spec, "location": "eastus"}, tmp_path)
    assert computes.diff(computes.desired_attributes(elsewhere), made.attributes).replaces == {"location"}


def test_a_compute_instance_is_made_reads_back_unchanged_and_any_change_replaces_it(
    tmp_path: Path, loopback_azure: LoopbackAzure
) -> None:
    ctx = context(tmp_path, loopback_azure)
    provider = AzureProvider()
    provider.bind(ctx)
    computes = provider.resource_type("compute")
    assert computes is not None
    spec = {"type": "computeinstance", "size": "Standard_DS3_v2", "idle_time_before_shutdown_minutes": 60}
    desired = Desired("compute", "nb-alice", spec, tmp_path)
    assert computes.validate(desired) == []
    made = computes.create(ctx, desired)
    assert made.attributes["type"] == "computeinstance"
    assert not computes.diff(computes.desired_attributes(desired), made.attributes).changed
    [seen] = computes.read_many(ctx, ["computes/nb-alice"])
    assert seen is not None and seen.attributes == made.attributes
    bigger = Desired("compute", "nb-alice", {**spec, "size": "Standard_DS4_v2"}, tmp_path)
    retagged = Desired("compute", "nb-alice", {**spec, "tags": {"owner": "alice"}}, tmp_path)
    assert computes.diff(computes.desired_attributes(bigger), made.attributes).replaces == {"size"}
    assert computes.diff(computes.desired_attributes(retagged), made.attributes).replaces == {"tags"}
    computes.delete(ctx, made)
    assert computes.read(ctx, "computes/nb-alice") is None
