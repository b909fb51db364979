"""The quickstart end to end through the CLI: train, register, deploy, score over real HTTP, change, destroy."""

from __future__ import annotations

import collections
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Result, run_mlplan
from tests.processes import alive, server_pids

pytestmark = pytest.mark.slow

SAMPLE = json.loads((REPO / "examples/quickstart/sample-request.json").read_text())


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[Path]:
    project = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples/quickstart", project, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    started = server_pids(project)
    try:
        yield project
    finally:
        run_mlplan("-C", str(project), "destroy", "--auto-approve")
        for pid in set(started) | set(server_pids(project)):  # a safety net: never leave servers behind
            if alive(pid):
                import os
                import signal

                os.killpg(pid, signal.SIGKILL)


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses listening on ``port`` (from /proc/net/tcp: state 0A is LISTEN)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def endpoint(project: Path) -> tuple[str, str]:
    r = run_mlplan("-C", str(project), "output", "--json", "--show-sensitive")
    data = json.loads(r.out)
    return data["outputs"]["scoring_uri"], data["resources"]["online_endpoint.cancer"]["keys"]["primary_key"]


def score(uri: str, key: str | None, body: Any = SAMPLE, deployment: str | None = None) -> tuple[int, Any, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    req = urllib.request.Request(uri, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("azureml-model-deployment", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), ""


def plan_changes(project: Path, *args: str) -> dict[str, dict[str, Any]]:
    r = run_mlplan("-C", str(project), "plan", "--json", *args)
    assert r.code == 0, r.text
    return {c["address"]: c for c in json.loads(r.out)["changes"]}


class Client(threading.Thread):
    """Scores in a loop until stopped, counting status codes."""

    def __init__(self, uri: str, key: str) -> None:
        super().__init__(daemon=True)
        self.uri, self.key = uri, key
        self.codes: collections.Counter[int] = collections.Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and sum(self.codes.values()) < 20000:
            self.codes[score(self.uri, self.key)[0]] += 1


def apply_while_scoring(project: Path, uri: str, key: str) -> tuple[Result, collections.Counter[int]]:
    """``apply --auto-approve`` while a client scores in a loop; the status codes the client saw."""
    client = Client(uri, key)
    client.start()
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    client.stop.set()
    client.join(timeout=60)
    return r, client.codes


def test_outputs_name_what_read_reports(quickstart: Path) -> None:
    """An output of mlplan.yaml may read what each kind declares (``output_fields``): all that state records."""
    from mlplan.providers import load_provider

    provider = load_provider("local")
    state = json.loads(run_mlplan("-C", str(quickstart), "state", "pull").out)
    kinds = set()
    for rs in state["resources"].values():
        kinds.add(rs["kind"])
        assert set(rs["outputs"]) <= provider.resource_type(rs["kind"]).output_fields, rs
    assert kinds >= {"data", "environment", "model", "compute", "job", "online_endpoint", "online_deployment"}


def test_quickstart_serves_predictions_with_a_key(quickstart: Path) -> None:
    uri, key = endpoint(quickstart)
    assert uri.startswith("http://127.0.0.1:")
    status, body, deployment = score(uri, key)
    assert status == 200 and deployment == "blue"
    assert body == {"predictions": [0, 1]}  # the sample's true labels
    assert score(uri, None)[0] == 401
    assert score(uri, "not-the-key")[0] == 401
    # the deployment's own server is reachable on loopback only, behind the endpoint's key check
    ws = quickstart / ".mlplan/local-workspace/endpoints/cancer"
    for server_file in (*ws.glob("deployments/blue/*/server.json"), ws / "router.json"):
        port = json.loads(server_file.read_text())["port"]
        assert listening_addresses(port) == {"127.0.0.1"}, server_file
    r = run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode")
    assert r.code == 0, r.text
    state = json.loads(run_mlplan("-C", str(quickstart), "state", "pull").out)
    job = state["resources"]["job.train"]
    assert job["outputs"]["metrics"]["validation_accuracy"] > 0.9
    assert key not in json.dumps(state)  # endpoint keys are kept as hashes only


def test_code_change_retrains_and_updates_without_a_failed_request(quickstart: Path) -> None:
    train = quickstart / "train/src/train.py"
    train.write_text(train.read_text().replace("max_iter=1000", "max_iter=2000"))
    changes = plan_changes(quickstart)
    assert changes["job.train"]["action"] == "train"
    assert changes["job.train"]["reason"].startswith("code changed: train.py")
    assert changes["model.cancer-model"]["action"] == "new_version"
    assert changes["online_deployment.cancer/blue"]["action"] == "update"
    uri, key = endpoint(quickstart)
    r, codes = apply_while_scoring(quickstart, uri, key)
    assert r.code == 0, r.text
    assert codes[200] > 20, codes
    assert set(codes) == {200}, codes
    state = json.loads(run_mlplan("-C", str(quickstart), "state", "pull").out)
    assert state["resources"]["model.cancer-model"]["version"] == "2"
    assert state["resources"]["online_deployment.cancer/blue"]["attributes"]["model"] == "azureml:cancer-model:2"
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0


def test_scoring_code_change_updates_without_training(quickstart: Path) -> None:
    script = quickstart / "deploy/score/score.py"
    script.write_text(script.read_text().replace('return {"predictions":', 'return {"scorer": "v2", "predictions":'))
    changes = plan_changes(quickstart)
    assert changes["job.train"]["action"] == "no_op"
    assert changes["online_deployment.cancer/blue"]["action"] == "update"
    assert "score.py" in changes["online_deployment.cancer/blue"]["reason"]
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "job.train: train" not in r.err
    uri, key = endpoint(quickstart)
    assert score(uri, key)[1] == {"scorer": "v2", "predictions": [0, 1]}


def test_weak_algorithm_trains_a_worse_model(quickstart: Path) -> None:
    changes = plan_changes(quickstart, "--var", "algorithm=majority")
    assert changes["job.train"]["action"] == "train"
    assert "algorithm" in changes["job.train"]["reason"]
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve", "--var", "algorithm=majority")
    assert r.code == 0, r.text
    state = json.loads(run_mlplan("-C", str(quickstart), "state", "pull").out)
    assert state["resources"]["job.train"]["outputs"]["metrics"]["validation_accuracy"] < 0.7
    uri, key = endpoint(quickstart)
    assert score(uri, key)[1] == {"predictions": [1, 1]}  # always the majority class


def test_traffic_split_and_targeted_deployment(quickstart: Path) -> None:
    blue = (quickstart / "deploy/blue.yml").read_text()
    endpoint_file = quickstart / "deploy/endpoint.yml"
    original = endpoint_file.read_text()
    uri, key = endpoint(quickstart)
    # a new deployment at 0 %: only requests that name it reach it
    (quickstart / "deploy/green.yml").write_text(blue.replace("name: blue", "name: green"))
    endpoint_file.write_text(original.replace("blue: 100", "blue: 100\n  green: 0"))
    changes = plan_changes(quickstart)
    assert changes["online_deployment.cancer/green"]["action"] == "create"
    assert run_mlplan("-C", str(quickstart), "apply", "--auto-approve").code == 0
    assert {score(uri, key)[2] for _ in range(50)} == {"blue"}
    assert score(uri, key, deployment="green")[2] == "green"
    assert score(uri, key, deployment="nope")[0] == 404
    # 70/30: the split holds within 5 % over 1,000 requests
    endpoint_file.write_text(original.replace("blue: 100", "blue: 70\n  green: 30"))
    changes = plan_changes(quickstart)
    assert changes["traffic.cancer"]["action"] == "shift_traffic"
    assert changes["online_deployment.cancer/green"]["action"] == "no_op"
    assert run_mlplan("-C", str(quickstart), "apply", "--auto-approve").code == 0
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(1000):
        status, _body, deployment = score(uri, key)
        assert status == 200
        seen[deployment] += 1
    assert abs(seen["green"] / 1000 - 0.30) <= 0.05, seen
    assert abs(seen["blue"] / 1000 - 0.70) <= 0.05, seen
    # removing green: traffic moves off it before it is deleted, and no request fails
    (quickstart / "deploy/green.yml").unlink()
    endpoint_file.write_text(original)
    r, codes = apply_while_scoring(quickstart, uri, key)
    assert r.code == 0, r.text
    assert r.err.index("traffic.cancer: shift_traffic done") < r.err.index("online_deployment.cancer/green: delete...")
    assert set(codes) == {200}, codes
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0


def test_killed_server_is_drift_that_apply_repairs(quickstart: Path) -> None:
    import os
    import signal

    ws = quickstart / ".mlplan/local-workspace/endpoints/cancer"
    server = json.loads(next(ws.glob("deployments/blue/*/server.json")).read_text())
    os.killpg(server["pid"], signal.SIGKILL)
    changes = plan_changes(quickstart)
    assert changes["online_deployment.cancer/blue"]["action"] == "update"
    assert "running" in changes["online_deployment.cancer/blue"]["reason"]
    assert changes["job.train"]["action"] == "no_op"
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve")
    assert r.code == 0, r.text
    uri, key = endpoint(quickstart)
    assert score(uri, key)[0] == 200
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0


def test_destroy_stops_every_server(quickstart: Path) -> None:
    pids = server_pids(quickstart)
    assert len(pids) == 2 and all(alive(p) for p in pids)
    r = run_mlplan("-C", str(quickstart), "destroy", "--auto-approve")
    assert r.code == 0, r.text
    assert not any(alive(p) for p in pids)
    assert not (quickstart / ".mlplan/local-workspace/endpoints/cancer").exists()
    assert not list((quickstart / ".mlplan/local-workspace/computes").iterdir())  # no slot files left
    assert run_mlplan("-C", str(quickstart), "state", "list").out.strip() == ""


def test_endpoint_update_keeps_traffic_and_serving(quickstart: Path) -> None:
    endpoint_file = quickstart / "deploy/endpoint.yml"
    endpoint_file.write_text(endpoint_file.read_text().replace("Breast cancer classifier.", "Classifier v2."))
    changes = plan_changes(quickstart)
    assert changes["online_endpoint.cancer"]["action"] == "update"
    assert changes["traffic.cancer"]["action"] == "no_op"
    assert changes["online_deployment.cancer/blue"]["action"] == "no_op"
    uri, key = endpoint(quickstart)
    r, codes = apply_while_scoring(quickstart, uri, key)
    assert r.code == 0, r.text
    assert set(codes) == {200}, codes
    assert score(uri, key)[2] == "blue"  # traffic untouched by the endpoint's update
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0
    # no `traffic:` any more: traffic is no longer managed, and left as it is (not set to 0 %)
    endpoint_file.write_text(endpoint_file.read_text().replace("traffic:\n  blue: 100\n", ""))
    changes = plan_changes(quickstart)
    assert changes["traffic.cancer"]["action"] == "forget"
    assert "left as it is" in changes["traffic.cancer"]["reason"]
    assert run_mlplan("-C", str(quickstart), "apply", "--auto-approve").code == 0
    assert score(uri, key)[:1] == (200,)
    assert "traffic.cancer" not in run_mlplan("-C", str(quickstart), "state", "list").out
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0


def test_ttl_reaps_the_deployment_after_draining_it_and_replace_brings_it_back(quickstart: Path) -> None:
    config = quickstart / "mlplan.yaml"
    config.write_text(config.read_text() + 'settings:\n  "online_deployment.cancer/blue": {lifecycle: {ttl: 24h}}\n')
    uri, key = endpoint(quickstart)
    later = {"MLPLAN_NOW": "2099-01-01T00:00:00+00:00"}
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve", env=later)
    assert r.code == 0, r.text
    assert r.err.index("traffic.cancer: shift_traffic done") < r.err.index("online_deployment.cancer/blue: delete...")
    assert not list((quickstart / ".mlplan/local-workspace/endpoints/cancer/deployments").glob("blue/*/server.json"))
    assert score(uri, key)[0] != 200  # nothing left to serve
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode", env=later).code == 0
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve", "--replace", "online_deployment.cancer/blue")
    assert r.code == 0, r.text
    assert score(uri, key)[:1] == (200,)
    assert run_mlplan("-C", str(quickstart), "plan", "--detailed-exitcode").code == 0


def test_an_endpoint_routing_no_traffic_is_a_warning_that_does_not_block_apply(quickstart: Path) -> None:
    endpoint_file = quickstart / "deploy/endpoint.yml"
    endpoint_file.write_text(endpoint_file.read_text().replace("blue: 100", "blue: 0"))
    warning = "deploy/endpoint.yml:5: endpoint cancer has deployments (blue) but sends them no traffic"
    for fmt in ("text", "json", "markdown"):
        r = run_mlplan("-C", str(quickstart), "plan", "--format", fmt)
        assert r.code == 0 and warning in r.out, r.text
    r = run_mlplan("-C", str(quickstart), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert warning in r.out and "requests get 503; add traffic: {blue: 100}" in r.out
    uri, key = endpoint(quickstart)
    assert r.out.endswith(f"\nOutputs:\n\nmodel_version = 1\nscoring_uri = {uri}\n"), r.out
    assert score(uri, key)[0] == 503  # what the warning said
    assert score(uri, key, deployment="blue")[0] == 200
