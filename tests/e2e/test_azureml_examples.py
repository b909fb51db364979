"""Azure ML CLI v2 YAML written the way Azure/azureml-examples writes it (tests/fixtures/azureml_examples)
through the installed CLI on the local provider.

Accepted projects validate, plan the expected actions, apply, score or run, and destroy. Everything else
is refused at plan time with exit 1, ``file:line`` of the offending key and "not supported by the local
provider". Expected line numbers are looked up in the fixture files, so they always name the real key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Result, run_mlplan
from tests.processes import alive, server_pids

pytestmark = pytest.mark.slow

FIXTURES = REPO / "tests" / "fixtures" / "azureml_examples"
NOT_LOCAL = "not supported by the local provider"
CURATED = "environment.AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"

ACCEPTED: dict[str, dict[str, str]] = {
    "managed-online": {
        "environment.sample-scoring-env": "create",
        "model.sample-regression-model": "create",
        "online_endpoint.sample-endpoint": "create",
        "online_deployment.sample-endpoint/blue": "create",
        "online_deployment.sample-endpoint/green": "create",
        "traffic.sample-endpoint": "shift_traffic",
    },
    "managed-online-inline": {
        "online_endpoint.inline-endpoint": "create",
        "online_deployment.inline-endpoint/blue": "create",
        "traffic.inline-endpoint": "shift_traffic",
    },
    "command-jobs": {
        CURATED: "read",  # a curated environment: a data source that exists
        "compute.cpu-cluster": "create",
        "data.iris-csv": "create",
        "job.hello-world": "train",  # no `name:`: addressed by its file name
        "job.hello-world-env-var": "train",
        "job.hello-iris-file": "train",
    },
    # no $schema in any file: each kind from its `type:`, every YAML file found by the default globs
    "command-jobs-no-schema": {
        CURATED: "read",
        "compute.cpu-cluster": "create",
        "data.iris-csv": "create",
        "job.job": "train",  # type: command
    },
}


# -- helpers -------------------------------------------------------------------------------------------
def copy_project(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name.replace("/", "-")
    shutil.copytree(FIXTURES / name, dest, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    return dest


def line_of(path: Path, key_text: str) -> int:
    """The 1-based line of the first line of ``path`` that starts (after indentation) with ``key_text``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.lstrip().startswith(key_text):
            return number
    raise AssertionError(f"{key_text!r} is not in {path}")


def plan_json(root: Path) -> dict[str, dict[str, Any]]:
    r = run_mlplan("-C", str(root), "plan", "--json")
    assert r.code == 0, r.text
    assert "Traceback" not in r.text, r.text
    return {c["address"]: c for c in json.loads(r.out)["changes"]}


def destroy(root: Path, started: list[int]) -> Result:
    """``destroy --auto-approve``, then kill whatever server it left behind (never leave one running)."""
    r = run_mlplan("-C", str(root), "destroy", "--auto-approve")
    for pid in set(started) | set(server_pids(root)):
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
    return r


def score(uri: str, key: str, body: Any, deployment: str) -> tuple[int, Any, str]:
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
        "azureml-model-deployment": deployment,
    }
    req = urllib.request.Request(uri, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("azureml-model-deployment", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), ""


@pytest.fixture
def online(tmp_path: Path) -> Iterator[Path]:
    """The managed-online project, applied; destroyed afterwards whatever happens."""
    root = copy_project(tmp_path, "managed-online")
    started: list[int] = []
    try:
        r = run_mlplan("-C", str(root), "apply", "--auto-approve")
        started = server_pids(root)
        assert r.code == 0, r.text
        assert "Traceback" not in r.text, r.text
        yield root
    finally:
        destroy(root, started)


# -- accepted ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_project_validates_and_plans(tmp_path: Path, name: str) -> None:
    root = copy_project(tmp_path, name)
    r = run_mlplan("-C", str(root), "validate", "--no-sdk")
    assert r.code == 0, r.text
    assert "The configuration is valid" in r.out, r.text
    assert "Traceback" not in r.text, r.text
    changes = plan_json(root)
    assert {a: c["action"] for a, c in changes.items()} == ACCEPTED[name]
    if name == "managed-online-inline":
        inline = changes["online_deployment.inline-endpoint/blue"]["after"]["model"]
        assert inline.startswith("azureml:anonymous-") and inline.endswith(":1"), inline
    elif name == "managed-online":
        blue = changes["online_deployment.sample-endpoint/blue"]
        green = changes["online_deployment.sample-endpoint/green"]
        assert set(blue["depends_on"]) >= {"model.sample-regression-model", "online_endpoint.sample-endpoint"}
        assert "environment.sample-scoring-env" in green["depends_on"]
        assert set(changes["traffic.sample-endpoint"]["depends_on"]) >= {blue["address"], green["address"]}
        assert changes["traffic.sample-endpoint"]["after"]["traffic"] == {"blue": 90, "green": 10}
    elif name == "command-jobs-no-schema":
        assert {"compute.cpu-cluster", "data.iris-csv", CURATED} <= set(changes["job.job"]["depends_on"])
    else:
        assert "data.iris-csv" in changes["job.hello-iris-file"]["depends_on"]
        for job in ("job.hello-world", "job.hello-world-env-var", "job.hello-iris-file"):
            assert {"compute.cpu-cluster", CURATED} <= set(changes[job]["depends_on"]), job


def test_managed_online_serves_both_deployments_and_destroys(online: Path) -> None:
    r = run_mlplan("-C", str(online), "output", "--json", "--show-sensitive")
    assert r.code == 0, r.text
    endpoint = json.loads(r.out)["resources"]["online_endpoint.sample-endpoint"]
    uri, key = endpoint["scoring_uri"], endpoint["keys"]["primary_key"]
    body = json.loads((FIXTURES / "managed-online/sample-request.json").read_text())
    for deployment in ("blue", "green"):
        # score.py: 10 + 0.5*1 + 2*2 - 1*3 + 0.25*4 = 12.5, and the intercept for the zero row
        assert score(uri, key, body, deployment) == (200, [12.5, 10.0], deployment)
    r = run_mlplan("-C", str(online), "plan", "--detailed-exitcode")
    assert r.code == 0, r.text
    assert "No changes" in r.out, r.text
    pids = server_pids(online)
    assert len(pids) == 3 and all(alive(p) for p in pids)  # a router and two inference servers
    r = destroy(online, pids)
    assert r.code == 0, r.text
    assert not any(alive(p) for p in pids)
    assert run_mlplan("-C", str(online), "state", "list").out.strip() == ""


def test_inline_environment_conda_change_updates_the_deployment(online: Path) -> None:
    # blue's environment is inline (conda_file + image, as in the sample); green's is the registered
    # environment built from the same conda file. Azure ML makes a new anonymous environment when the
    # inline conda file changes, so blue must be updated too, not only green.
    conda = online / "environment/conda.yml"
    conda.write_text(conda.read_text() + "      - numpy\n")
    changes = plan_json(online)
    assert changes["environment.sample-scoring-env"]["action"] == "new_version"
    assert changes["online_deployment.sample-endpoint/green"]["action"] == "update"
    blue = changes["online_deployment.sample-endpoint/blue"]
    assert blue["action"] == "update", f"blue's inline conda_file changed, but: {blue['action']} ({blue['reason']})"


def test_an_inline_model_is_served_and_a_new_version_of_it_updates_the_deployment(tmp_path: Path) -> None:
    """Microsoft's sample shape: `model: {path: ...}` in the deployment, registered anonymously by content."""
    root = copy_project(tmp_path, "managed-online-inline")
    started: list[int] = []
    try:
        r = run_mlplan("-C", str(root), "apply", "--auto-approve")
        started = server_pids(root)
        assert r.code == 0, r.text
        r = run_mlplan("-C", str(root), "output", "--json", "--show-sensitive")
        endpoint = json.loads(r.out)["resources"]["online_endpoint.inline-endpoint"]
        uri, key = endpoint["scoring_uri"], endpoint["keys"]["primary_key"]
        body = json.loads((FIXTURES / "managed-online-inline/sample-request.json").read_text())
        assert score(uri, key, body, "blue") == (200, [12.5, 10.0], "blue")
        assert run_mlplan("-C", str(root), "plan", "--detailed-exitcode").code == 0
        model = root / "model/linear_model.json"
        model.write_text(model.read_text().replace('"intercept": 10.0', '"intercept": 20.0'))
        change = plan_json(root)["online_deployment.inline-endpoint/blue"]
        assert change["action"] == "update", change
        assert [c["path"] for c in change["changes"]] == ["model"], change["changes"]
        r = run_mlplan("-C", str(root), "apply", "--auto-approve")
        assert r.code == 0, r.text
        assert score(uri, key, body, "blue") == (200, [22.5, 20.0], "blue")
        anonymous = sorted(p.name for p in (root / ".mlplan/local-workspace/models").iterdir())
        assert len(anonymous) == 2 and all(n.startswith("anonymous-") for n in anonymous), anonymous
        assert run_mlplan("-C", str(root), "plan", "--detailed-exitcode").code == 0
    finally:
        destroy(root, started)


def test_command_jobs_run_and_destroy(tmp_path: Path) -> None:
    root = copy_project(tmp_path, "command-jobs")
    try:
        r = run_mlplan("-C", str(root), "apply", "--auto-approve")
        assert r.code == 0, r.text
        assert "Traceback" not in r.text, r.text
        assert "[job.hello-world] hello world" in r.text
        assert "[job.hello-world-env-var] env: hello from the environment" in r.text
        assert "[job.hello-world-env-var] string: hello world" in r.text
        assert "[job.hello-world-env-var] number: 42" in r.text
        assert "[job.hello-iris-file] rows: 6" in r.text
        assert "[job.hello-iris-file] species: {'setosa': 2, 'versicolor': 2, 'virginica': 2}" in r.text
        # the uri_file input is the local path of the registered data asset version
        assert re.search(r"\[job\.hello-iris-file\] --iris-csv: \S+/data/iris-csv/1/\S*iris\.csv", r.text), r.text
        r = run_mlplan("-C", str(root), "plan", "--detailed-exitcode")
        assert r.code == 0, r.text
        assert "No changes" in r.out, r.text
    finally:
        r = run_mlplan("-C", str(root), "destroy", "--auto-approve")
    assert r.code == 0, r.text
    assert run_mlplan("-C", str(root), "state", "list").out.strip() == ""


def test_files_without_schema_run_as_the_kind_their_type_names(tmp_path: Path) -> None:
    root = copy_project(tmp_path, "command-jobs-no-schema")
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "[job.job] rows: 6" in r.text, r.text
    kinds = {line.split(".")[0] for line in run_mlplan("-C", str(root), "state", "list").out.split()}
    assert kinds == {"compute", "data", "job"}
    assert run_mlplan("-C", str(root), "plan", "--detailed-exitcode").code == 0


def test_registry_environment_is_accepted_or_refused_with_file_and_line(tmp_path: Path) -> None:
    """``environment: azureml://registries/azureml/...`` (hello-dataset.yml): the `azureml` registry holds the
    curated environments, so the local provider may take it as existing, like `AzureML-` names; if it does
    not, the refusal must name the file and line of `environment:` and say it is not supported."""
    root = copy_project(tmp_path, "registry-environment")
    r = run_mlplan("-C", str(root), "plan", "--json")
    assert "Traceback" not in r.text, r.text
    if r.code == 0:
        changes = {c["address"]: c["action"] for c in json.loads(r.out)["changes"]}
        assert changes["job.hello-dataset"] == "train", changes
        assert changes["data.sampledata"] == "create", changes
        return
    check_refused(r, root, [("hello-dataset.yml", "environment:", "job.hello-dataset", "azureml://registries/")])


def test_accepted_projects_pass_the_azure_ai_ml_loaders(tmp_path: Path) -> None:
    """``mlplan validate`` without --no-sdk: azure-ai-ml's own loaders accept every file."""
    failures = []
    for name in sorted(ACCEPTED):
        r = run_mlplan("-C", str(copy_project(tmp_path, name)), "validate")
        if r.code != 0 or "Traceback" in r.text or "The configuration is valid" not in r.out:
            errors = "\n".join(ln for ln in r.text.splitlines() if "experimental class" not in ln)
            failures.append(f"{name}: exit {r.code}\n{errors}")
    assert not failures, "\n\n".join(failures)


# -- refused -------------------------------------------------------------------------------------------
# project -> [(file, text the offending key's line starts with, address, what the message says)]
REFUSED: dict[str, list[tuple[str, str, str, str]]] = {
    "sweep-job": [("hello-sweep.yml", "type: sweep", "job.hello-sweep", "sweep jobs")],
    "pipeline-job": [("hello-pipeline.yml", "type: pipeline", "job.hello-pipeline", "pipeline jobs")],
    "kubernetes-online": [
        ("kubernetes-endpoint.yml", "$schema:", "online_endpoint.k8s-endpoint", "kubernetes endpoints"),
        # the deployment also says `type: kubernetes`: the error points at that key
        ("kubernetes-blue-deployment.yml", "type: kubernetes", "online_deployment.k8s-endpoint/blue", "kubernetes"),
    ],
    # as in azureml-examples: no $schema; azure-ai-ml loads an endpoint with `compute:` as a
    # KubernetesOnlineEndpoint and a deployment with `type: kubernetes` as a KubernetesOnlineDeployment
    "kubernetes-online-no-schema": [
        ("endpoints/kubernetes-endpoint.yml", "compute:", "online_endpoint.k8s-endpoint", "kubernetes"),
        (
            "deployments/kubernetes-blue-deployment.yml",
            "type: kubernetes",
            "online_deployment.k8s-endpoint/blue",
            "kubernetes",
        ),
    ],
    "aml-token-endpoint": [("endpoint.yml", "auth_mode: aml_token", "online_endpoint.token-endpoint", "aml_token")],
    "distributed-pytorch": [
        ("job.yml", "distribution:", "job.job", "distribution"),
        ("job.yml", "instance_count: 2", "job.job", "instance_count 2"),
    ],
    "datastore-input": [
        (
            "hello-iris-datastore-file.yml",
            "path: azureml://datastores/",
            "job.hello-iris-datastore-file",
            "azureml://datastores/workspaceblobstore/paths/example-data/iris.csv",
        ),
        ("sklearn-iris-job.yml", "path: wasbs://", "job.sklearn-iris-job", "wasbs://"),
    ],
    "https-data": [("data/iris-https.yml", "path: https://", "data.iris-https", "https://")],
    # the key is missing altogether: the message points at the deployment's first line
    "mlflow-no-code": [
        ("sklearn-deployment.yml", "$schema:", "online_deployment.mlflow-endpoint/sklearn-deployment", "code_config")
    ],
    # the exact shape of the managed/sample deployment: `model: {path: ...}` inline
}


def check_refused(r: Result, root: Path, expected: list[tuple[str, str, str, str]]) -> None:
    text = r.text
    assert r.code == 1, f"exit code {r.code}, expected 1:\n{text}"
    assert "Traceback" not in text, text
    errors = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    for file, key_text, address, says in expected:
        where = re.compile(re.escape(f"{file}:{line_of(root / file, key_text)}") + r"(?!\d)")
        found = [ln for ln in errors if where.search(ln) and address in ln and NOT_LOCAL in ln and says in ln]
        assert found, f"no error names {where.pattern} ({key_text!r}), {address}, {says!r} and {NOT_LOCAL!r}:\n{text}"
    assert len(errors) == len(expected), f"expected {len(expected)} error(s):\n{text}"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_yaml_is_refused_with_file_and_line(tmp_path: Path, name: str) -> None:
    root = copy_project(tmp_path, f"refused/{name}")
    expected = REFUSED[name]
    check_refused(run_mlplan("-C", str(root), "validate", "--no-sdk"), root, expected)
    check_refused(run_mlplan("-C", str(root), "plan"), root, expected)
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    check_refused(r, root, expected)
    assert "nothing was changed" in r.text, r.text
    assert run_mlplan("-C", str(root), "state", "list").out.strip() == ""
    assert not (root / ".mlplan/local-workspace/endpoints").exists() or not any(
        (root / ".mlplan/local-workspace/endpoints").iterdir()
    )
