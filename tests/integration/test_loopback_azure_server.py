"""The loopback Azure over raw HTTPS: Azure's error shape, immutable versions, long-running operations, paging,
traffic rules, jobs, ARM templates, the token endpoint, faults, persistence and the command line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO
from tests.loopback_azure import LoopbackAzure
from tests.loopback_azure.template import Scope, TemplateError, evaluate

API = "2024-04-01"


class Rest:
    """requests against the server, as an authenticated ARM client."""

    def __init__(self, az: LoopbackAzure) -> None:
        self.az = az
        self.session = requests.Session()
        self.token = az.credential().get_token("scope").token

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        api: str | None = API,
        auth: bool = True,
        query: dict[str, str] | None = None,
        **more: str,
    ) -> requests.Response:
        url = path if path.startswith("https://") else self.az.url + path.lstrip("/")
        params = ({"api-version": api} if api else {}) | (query or {}) | more
        if path.startswith("https://"):
            params = {}  # a nextLink or an operation URL carries its own query
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        return self.session.request(
            method, url, params=params, json=body, headers=headers, verify=str(self.az.ca_path), timeout=10
        )

    def ws(self, rest: str = "") -> str:
        return self.az.workspace_id + rest

    def until_done(self, url: str) -> requests.Response:
        """Poll a long-running operation's URL (Azure-AsyncOperation or Location) until it is done."""
        deadline = time.monotonic() + 10
        while True:
            r = self(("GET"), url)
            running = r.status_code == 202 or (r.status_code == 200 and (r.json() or {}).get("status") == "InProgress")
            if not running:
                return r
            assert time.monotonic() < deadline, f"operation never finished: {url}"
            time.sleep(int(r.headers["retry-after-ms"]) / 1000)


@pytest.fixture
def rest(loopback_azure: LoopbackAzure) -> Rest:
    return Rest(loopback_azure)


def error(r: requests.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return dict(body["error"])


def test_errors_have_azures_shape(rest: Rest) -> None:
    r = rest("PUT", rest.ws("/data/iris/versions/1"), {"properties": {"dataType": "uri_file"}})
    assert r.status_code == 400
    err = error(r)
    assert err["code"] == "UserError" and "properties.dataUri" in err["message"]
    assert [d["target"] for d in err["details"]] == ["properties.dataUri"]

    r = rest("GET", rest.ws("/data/iris/versions/7"))
    assert r.status_code == 404 and error(r)["code"] == "ResourceNotFound"
    r = rest("GET", rest.ws("/data/iris/versions/7"), api=None)
    assert r.status_code == 400 and error(r)["code"] == "MissingApiVersionParameter"
    r = rest("GET", rest.ws(), auth=False)
    assert r.status_code == 401 and error(r)["code"] == "AuthenticationFailed"
    rest.token = "forged"
    r = rest("GET", rest.ws())
    assert r.status_code == 401 and error(r)["code"] == "InvalidAuthenticationToken"
    rest.token = rest.az.credential().get_token("scope").token

    r = rest.session.put(
        rest.az.url + rest.ws("/environments/e/versions/1").lstrip("/"),
        params={"api-version": API},
        data=b"{not json",
        headers={"Authorization": f"Bearer {rest.token}", "Content-Type": "application/json"},
        verify=str(rest.az.ca_path),
    )
    assert r.status_code == 400 and error(r)["code"] == "InvalidRequestContent"
    r = rest("GET", rest.ws("/nothingHere"))
    assert r.status_code == 404 and "/nothingHere" in error(r)["message"]
    r = rest("GET", rest.ws().replace("mlw-loopback", "mlw-missing"))
    assert r.status_code == 404 and "mlw-missing" in error(r)["message"]


def test_asset_versions_are_immutable_and_archiving_hides_them(rest: Rest) -> None:
    v1 = rest.ws("/data/iris/versions/1")
    body = {"properties": {"dataType": "uri_file", "dataUri": "azureml://datastores/workspaceblobstore/paths/a.csv"}}
    created = rest("PUT", v1, body)
    assert created.status_code == 201
    props = created.json()["properties"]
    assert props["isArchived"] is False and props["isAnonymous"] is False and props["tags"] == {}
    assert created.json()["systemData"]["createdByType"] == "Application"
    assert rest("PUT", v1, body).status_code == 200  # the same content again: no change

    changed = rest("PUT", v1, {"properties": {**body["properties"], "dataUri": "azureml://elsewhere/b.csv"}})
    assert changed.status_code == 409
    assert error(changed)["code"] == "Conflict" and "dataUri" in error(changed)["message"]
    assert rest("GET", v1).json()["properties"]["dataUri"].endswith("/a.csv")

    tagged = rest("PUT", v1, {"properties": {**body["properties"], "tags": {"stage": "qa"}}})
    assert tagged.status_code == 200 and tagged.json()["properties"]["tags"] == {"stage": "qa"}
    rest("PUT", rest.ws("/data/iris/versions/2"), body)
    container = rest("GET", rest.ws("/data/iris")).json()["properties"]
    assert (container["latestVersion"], container["nextVersion"], container["dataType"]) == ("2", "3", "uri_file")

    archived = rest("PUT", v1, {"properties": {**body["properties"], "isArchived": True}})
    assert archived.status_code == 200 and archived.json()["properties"]["isArchived"] is True
    assert [v["name"] for v in rest("GET", rest.ws("/data/iris/versions")).json()["value"]] == ["2"]
    listed = rest("GET", rest.ws("/data/iris/versions"), listViewType="All").json()["value"]
    assert [v["name"] for v in listed] == ["1", "2"]


def test_long_running_operations_as_azure_does_them(rest: Rest) -> None:
    cpu = rest.ws("/computes/cpu")
    put = rest("PUT", cpu, {"properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_DS3_V2"}}})
    assert put.status_code == 201 and put.json()["properties"]["provisioningState"] == "Creating"
    assert int(put.headers["retry-after-ms"]) > 0
    status = rest.until_done(put.headers["Azure-AsyncOperation"])
    assert status.json()["status"] == "Succeeded" and "endTime" in status.json()
    got = rest("GET", cpu).json()
    assert got["properties"]["provisioningState"] == "Succeeded" and got["location"] == rest.az.location
    aml = got["properties"]["properties"]
    assert aml["scaleSettings"] == {"minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT2M", "maxNodeCount": 1}
    assert (aml["osType"], aml["vmPriority"], aml["allocationState"]) == ("Linux", "Dedicated", "Steady")

    rest.az.lro_seconds = 30
    slow = rest("PUT", rest.ws("/computes/gpu"), {"properties": {"computeType": "AmlCompute"}})
    assert slow.status_code == 201
    again = rest("PUT", rest.ws("/computes/gpu"), {"properties": {"computeType": "AmlCompute"}})
    assert again.status_code == 409 and "in progress" in error(again)["message"]
    rest.az.lro_seconds = 0.05

    r = rest("DELETE", cpu)
    assert r.status_code == 400 and "underlyingResourceAction" in error(r)["message"]
    deleted = rest("DELETE", cpu, underlyingResourceAction="Delete")
    assert deleted.status_code == 202 and "Azure-AsyncOperation" in deleted.headers
    assert rest.until_done(deleted.headers["Location"]).status_code == 204
    assert rest("GET", cpu).status_code == 404


def test_one_kind_of_operation_can_run_long_and_be_released(rest: Rest) -> None:
    """``slow_operations``: a deployment that outlives the process that started it while the rest stays quick;
    ``hold_operations``: when it finishes."""
    rest.az.slow_operations("/computes/gpu", 3600, method="PUT")
    body = {"properties": {"computeType": "AmlCompute"}}
    slow = rest("PUT", rest.ws("/computes/gpu"), body)
    quick = rest("PUT", rest.ws("/computes/cpu"), body)
    assert rest.until_done(quick.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    assert rest("GET", slow.headers["Azure-AsyncOperation"]).json()["status"] == "InProgress"
    assert rest.az.hold_operations("/computes/gpu", 0) == 1
    assert rest.until_done(slow.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    assert rest.az.hold_operations("/computes/gpu", 0) == 0, "nothing runs any more"


def test_lists_page_with_next_link(rest: Rest) -> None:
    rest.az.page_size = 2
    for v in range(1, 6):
        rest("PUT", rest.ws(f"/environments/sk/versions/{v}"), {"properties": {"image": f"python:3.{v}"}})
    page = rest("GET", rest.ws("/environments/sk/versions"), listViewType="All").json()
    names = [v["name"] for v in page["value"]]
    while "nextLink" in page:
        assert "listViewType=All" in page["nextLink"]
        page = rest("GET", page["nextLink"]).json()
        names += [v["name"] for v in page["value"]]
    assert names == ["1", "2", "3", "4", "5"]
    first = rest("GET", rest.ws("/environments/sk/versions/1")).json()["properties"]
    assert (first["osType"], first["autoRebuild"], first["environmentType"]) == ("Linux", "Disabled", "UserCreated")
    newest = rest("GET", rest.ws("/environments/sk/versions"), query={"$orderBy": "createdtime desc", "$top": "1"})
    assert [v["name"] for v in newest.json()["value"]] == ["5"]


def _endpoint_with_blue(rest: Rest) -> None:
    rest("PUT", rest.ws("/models/clf/versions/1"), {"properties": {"modelUri": "azureml://x/model"}})
    ep = rest("PUT", rest.ws("/onlineEndpoints/ep"), {"location": "westeurope", "properties": {"authMode": "Key"}})
    rest.until_done(ep.headers["Azure-AsyncOperation"])
    blue = {
        "location": "westeurope",
        "properties": {"endpointComputeType": "Managed", "model": rest.ws("/models/clf/versions/1")},
        "sku": {"capacity": 2},
    }
    rest.until_done(rest("PUT", rest.ws("/onlineEndpoints/ep/deployments/blue"), blue).headers["Azure-AsyncOperation"])


def test_online_endpoints_keep_azures_traffic_rules_and_score(rest: Rest) -> None:
    r = rest("PUT", rest.ws("/onlineEndpoints/ep"), {"location": "westeurope", "properties": {}})
    assert r.status_code == 400 and error(r)["details"][0]["target"] == "properties.authMode"
    r = rest("PUT", rest.ws("/onlineEndpoints/none/deployments/blue"), {"location": "x", "properties": {}})
    assert r.status_code == 404
    _endpoint_with_blue(rest)
    blue = rest("GET", rest.ws("/onlineEndpoints/ep/deployments/blue")).json()
    assert blue["properties"]["scaleSettings"] == {"scaleType": "Default"}
    assert blue["properties"]["readinessProbe"]["failureThreshold"] == 30 and blue["sku"]["capacity"] == 2
    missing_model = {
        "location": "westeurope",
        "properties": {"endpointComputeType": "Managed", "model": rest.ws("/models/nope/versions/1")},
    }
    r = rest("PUT", rest.ws("/onlineEndpoints/ep/deployments/green"), missing_model)
    assert r.status_code == 400 and "models/nope" in error(r)["message"]

    endpoint: dict[str, Any] = {"location": "westeurope", "properties": {"authMode": "Key", "traffic": {"green": 100}}}
    r = rest("PUT", rest.ws("/onlineEndpoints/ep"), endpoint)
    assert r.status_code == 400 and "green" in error(r)["message"]
    endpoint["properties"]["traffic"] = {"blue": 60}
    assert "sum to 100" in error(rest("PUT", rest.ws("/onlineEndpoints/ep"), endpoint))["message"]
    endpoint["properties"]["traffic"] = {"blue": 100}
    rest.until_done(rest("PUT", rest.ws("/onlineEndpoints/ep"), endpoint).headers["Azure-AsyncOperation"])
    r = rest("DELETE", rest.ws("/onlineEndpoints/ep/deployments/blue"))
    assert r.status_code == 400 and "100%" in error(r)["message"]

    props = rest("GET", rest.ws("/onlineEndpoints/ep")).json()["properties"]
    keys = rest("POST", rest.ws("/onlineEndpoints/ep/listKeys")).json()
    scored = requests.post(
        props["scoringUri"],
        json={"x": 1},
        headers={"Authorization": f"Bearer {keys['primaryKey']}"},
        verify=str(rest.az.ca_path),
        timeout=10,
    )
    assert scored.status_code == 200 and scored.headers["azureml-model-deployment"] == "blue"
    assert scored.json() == {"deployment": "blue", "model": rest.ws("/models/clf/versions/1"), "input": {"x": 1}}
    rest.az.set_scorer("ep", lambda body: {"predictions": [len(body)]}, deployment="blue")
    scored = requests.post(
        props["scoringUri"],
        data=b"abc",
        verify=str(rest.az.ca_path),
        timeout=10,
        headers={"Authorization": f"Bearer {keys['secondaryKey']}", "azureml-model-deployment": "blue"},
    )
    assert scored.json() == {"predictions": [3]}
    wrong = requests.post(
        props["scoringUri"], json={}, headers={"Authorization": "Bearer nope"}, verify=str(rest.az.ca_path), timeout=10
    )
    assert wrong.status_code == 401


def test_command_jobs_run_complete_register_outputs_and_cancel(rest: Rest) -> None:
    rest("PUT", rest.ws("/environments/sk/versions/1"), {"properties": {"image": "python:3.11"}})
    env_id = rest.ws("/environments/sk/versions/1")
    r = rest("PUT", rest.ws("/jobs/j0"), {"properties": {"jobType": "Command", "environmentId": env_id}})
    assert r.status_code == 400 and error(r)["details"][0]["target"] == "properties.command"
    rest.az.job_seconds = 30
    job = {
        "properties": {
            "jobType": "Command",
            "command": "python train.py",
            "environmentId": env_id,
            "outputs": {"model": {"jobOutputType": "custom_model", "assetName": "trained"}},
        }
    }
    submitted = rest("PUT", rest.ws("/jobs/j1"), job)
    assert submitted.status_code == 201 and submitted.json()["properties"]["status"] == "NotStarted"
    assert submitted.json()["properties"]["services"]["Studio"]["endpoint"].startswith("https://ml.azure.com/runs/j1")
    assert rest("GET", rest.ws("/jobs/j1")).json()["properties"]["status"] == "Running"
    changed = {"properties": {**job["properties"], "command": "python other.py"}}
    assert rest("PUT", rest.ws("/jobs/j1"), changed).status_code == 409

    rest.az.finish_job("j1")
    assert rest("GET", rest.ws("/jobs/j1")).json()["properties"]["status"] == "Completed"
    model = rest("GET", rest.ws("/models/trained/versions/1")).json()["properties"]
    assert model["jobName"] == "j1" and model["modelUri"].endswith("dcid.j1/model/")

    rest("PUT", rest.ws("/jobs/j2"), job)
    cancel = rest("POST", rest.ws("/jobs/j2/cancel"))
    assert cancel.status_code == 202
    assert rest("GET", rest.ws("/jobs/j2")).json()["properties"]["status"] == "CancelRequested"
    rest.until_done(cancel.headers["Location"])
    assert rest("GET", rest.ws("/jobs/j2")).json()["properties"]["status"] == "Canceled"
    rest("PUT", rest.ws("/jobs/j3"), job)
    rest.az.finish_job("j3", "Failed")
    assert [(j["name"], j["properties"]["status"]) for j in rest("GET", rest.ws("/jobs")).json()["value"]] == [
        ("j1", "Completed"),
        ("j2", "Canceled"),
        ("j3", "Failed"),
    ]


def _deployment(template: dict[str, Any], mode: str = "Incremental", **parameters: Any) -> dict[str, Any]:
    return {
        "properties": {
            "mode": mode,
            "template": template,
            "parameters": {k: {"value": v} for k, v in parameters.items()},
        }
    }


STORAGE = {
    "parameters": {"name": {"type": "string"}},
    "resources": [
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2023-01-01",
            "name": "[parameters('name')]",
            "location": "[resourceGroup().location]",
            "sku": {"name": "Standard_LRS"},
            "properties": {"minimumTlsVersion": "TLS1_2"},
        }
    ],
}


def test_arm_templates_are_validated_and_complete_mode_deletes(rest: Rest) -> None:
    deployments = (
        f"/subscriptions/{rest.az.subscription_id}/resourcegroups/{rest.az.resource_group}/providers/"
        "Microsoft.Resources/deployments"
    )
    r = rest("PUT", f"{deployments}/d0", _deployment(STORAGE), api="2025-04-01")
    assert r.status_code == 400 and error(r)["code"] == "InvalidTemplate" and "'name'" in error(r)["message"]
    odd = {"resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "1", "name": "[reference('x')]"}]}
    r = rest("PUT", f"{deployments}/d0", _deployment(odd), api="2025-04-01")
    assert r.status_code == 400 and "'reference'" in error(r)["message"]

    put = rest("PUT", f"{deployments}/d1", _deployment(STORAGE, name="st1"), api="2025-04-01")
    assert put.status_code == 201 and put.json()["properties"]["provisioningState"] == "Accepted"
    assert rest.until_done(put.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    stored = rest.az.resource(
        f"/subscriptions/{rest.az.subscription_id}/resourceGroups/{rest.az.resource_group}"
        "/providers/Microsoft.Storage/storageAccounts/st1"
    )
    assert stored is not None and stored["location"] == rest.az.location

    what_if = rest("POST", f"{deployments}/d2/whatIf", _deployment(STORAGE, "Complete", name="st2"), api="2025-04-01")
    assert what_if.status_code == 202 and "Azure-AsyncOperation" not in what_if.headers
    result = rest.until_done(what_if.headers["Location"]).json()
    changes = {c["resourceId"].rsplit("/", 1)[-1]: c["changeType"] for c in result["properties"]["changes"]}
    assert changes == {"st2": "Create", "st1": "Delete", "mlw-loopback": "Delete"}

    done = rest("PUT", f"{deployments}/d2", _deployment(STORAGE, "Complete", name="st2"), api="2025-04-01")
    rest.until_done(done.headers["Azure-AsyncOperation"])
    assert rest.az.resource(stored["id"]) is None and rest.az.resource(rest.az.workspace_id) is None


def test_template_functions() -> None:
    scope = Scope("sub", "rg", "westeurope", "d", "tenant", parameters={"name": "web", "n": 2})
    scope.variables = {"base": "[concat(parameters('name'), '-', resourceGroup().location)]"}
    assert evaluate("[variables('base')]", scope) == "web-westeurope"
    assert evaluate("[format('{0}-{1}', parameters('name'), parameters('n'))]", scope) == "web-2"
    assert evaluate("[resourceId('Microsoft.Web/sites', 'a')]", scope) == (
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Web/sites/a"
    )
    assert evaluate("[toLower(subscription().subscriptionId)]", scope) == "sub"
    assert evaluate("[[literal]", scope) == "[literal]"
    assert len(evaluate("[uniqueString(resourceGroup().id)]", scope)) == 13
    assert evaluate("[uniqueString('a')]", scope) == evaluate("[uniqueString('a')]", scope)
    assert evaluate("[if(equals(parameters('n'), 2), 'two', 'other')]", scope) == "two"
    with pytest.raises(TemplateError, match="'nope'"):
        evaluate("[parameters('nope')]", scope)


def test_token_endpoint_signs_in_the_service_principal(rest: Rest) -> None:
    az = rest.az
    config = requests.get(
        f"{az.authority}/{az.tenant}/v2.0/.well-known/openid-configuration", verify=str(az.ca_path), timeout=10
    ).json()
    assert config["token_endpoint"] == f"{az.authority}/{az.tenant}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": az.client_id,
        "client_secret": az.client_secret,
        "scope": f"{az.url}.default",
    }
    token = requests.post(config["token_endpoint"], data=form, verify=str(az.ca_path), timeout=10).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    rest.token = token["access_token"]
    assert rest("GET", rest.ws()).status_code == 200
    bad = requests.post(
        config["token_endpoint"], data={**form, "client_secret": "wrong"}, verify=str(az.ca_path), timeout=10
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert "AADSTS7000215" in bad.json()["error_description"]
    other = requests.post(
        f"{az.authority}/other-tenant/oauth2/v2.0/token", data=form, verify=str(az.ca_path), timeout=10
    )
    assert other.status_code == 400 and "AADSTS90002" in other.json()["error_description"]


def test_injected_faults(rest: Rest) -> None:
    az = rest.az
    az.inject(503, times=2, path_contains="/datastores")
    statuses = [rest("GET", rest.ws("/datastores/workspaceblobstore")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    r429 = az.inject(429, retry_after=2, times=None, method="GET")
    throttled = rest("GET", rest.ws())
    assert throttled.status_code == 429 and error(throttled)["code"] == "TooManyRequests"
    assert throttled.headers["Retry-After"] == "2" and throttled.headers["retry-after-ms"] == "2000"
    assert rest("GET", rest.ws()).status_code == 429 and r429.times is None
    az.clear_faults()
    az.inject(429, retry_after=0.5)
    quick = rest("GET", rest.ws())
    assert "Retry-After" not in quick.headers and quick.headers["retry-after-ms"] == "500"
    az.clear_faults()
    assert rest("GET", rest.ws()).status_code == 200

    az.inject_reset(path_contains="/computes")
    with pytest.raises(requests.ConnectionError):
        rest("GET", rest.ws("/computes"))
    assert az.calls[-1].status == 0 and az.calls[-1].path.endswith("/computes")

    az.fail_operations(path_contains="/computes/", code="QuotaExceeded", message="No cores left.")
    put = rest("PUT", rest.ws("/computes/c1"), {"properties": {"computeType": "AmlCompute"}})
    status = rest.until_done(put.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Failed" and status["error"]["code"] == "QuotaExceeded"
    failed = rest("GET", rest.ws("/computes/c1")).json()["properties"]
    assert (
        failed["provisioningState"] == "Failed" and failed["provisioningErrors"][0]["error"]["code"] == "QuotaExceeded"
    )


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "azure"
    with LoopbackAzure(state) as first:
        rest = Rest(first)
        rest("PUT", rest.ws("/environments/sk/versions/1"), {"properties": {"image": "python:3.11"}})
        token, ca = rest.token, first.ca_path.read_bytes()
        first.add_workspace("mlw-qa", "rg-qa")
    with LoopbackAzure(state) as second:
        again = Rest(second)
        again.token = token  # what the first server issued is still good
        assert again("GET", again.ws("/environments/sk/versions/1")).json()["properties"]["image"] == "python:3.11"
        qa = again("GET", again.ws().replace("rg-loopback", "rg-qa").replace("mlw-loopback", "mlw-qa"))
        assert qa.status_code == 200
        assert second.ca_path.read_bytes() == ca


def test_command_line_serves_until_stopped(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.loopback_azure",
            "--port",
            "0",
            "--latency-ms",
            "1",
            "--state-dir",
            str(tmp_path / "s"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        printed = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(8))
        assert printed["url"].startswith("https://127.0.0.1:") and Path(printed["ca"]).is_file()
        config = requests.get(
            f"{printed['url']}{printed['tenant']}/v2.0/.well-known/openid-configuration",
            verify=printed["ca"],
            timeout=10,
        )
        assert config.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_what_if_tells_declared_properties_from_service_filled_ones(rest: Rest) -> None:
    az = rest.az
    rg = f"/subscriptions/{az.subscription_id}/resourcegroups/{az.resource_group}"
    assert rest("HEAD", rg, api="2025-04-01").status_code == 204
    assert rest("HEAD", rg.replace(az.resource_group, "rg-none"), api="2025-04-01").status_code == 404
    workspace = {
        "type": "Microsoft.MachineLearningServices/workspaces",
        "apiVersion": "2024-04-01",
        "name": "[parameters('name')]",
        "location": "westeurope",
        "tags": {"team": "ml", "cost": "1"},
        "properties": {"friendlyName": "[parameters('name')]"},
    }
    template = {"parameters": {"name": {"type": "string"}}, "resources": [workspace]}

    def what_if(name: str) -> list[dict[str, Any]]:
        r = rest(
            "POST",
            f"{rg}/providers/Microsoft.Resources/deployments/ws/whatIf",
            _deployment(template, name=name),
            api="2025-04-01",
        )
        return [
            c
            for c in rest.until_done(r.headers["Location"]).json()["properties"]["changes"]
            if c["resourceId"].endswith(f"/workspaces/{name}")
        ]

    [existing] = what_if(az.workspace)  # made by the ML API: its server-filled properties are not "deleted"
    kinds = {d["path"]: d["propertyChangeType"] for d in existing["delta"]}
    assert existing["changeType"] == "Modify"
    assert kinds == {"tags.team": "Create", "tags.cost": "Create"}  # friendlyName and location already match

    put = rest(
        "PUT",
        f"{rg}/providers/Microsoft.Resources/deployments/ws",
        _deployment(template, name="mlw-new"),
        api="2025-04-01",
    )
    rest.until_done(put.headers["Azure-AsyncOperation"])
    new_ws = az.workspace_id.replace(az.workspace, "mlw-new")
    assert rest("GET", f"{new_ws}/datastores/workspaceblobstore").status_code == 200  # made as a real one is
    assert [c["changeType"] for c in what_if("mlw-new")] == ["NoChange"]
    del workspace["tags"]["cost"]
    [dropped] = what_if("mlw-new")
    assert [(d["path"], d["propertyChangeType"]) for d in dropped["delta"]] == [("tags.cost", "Delete")]
