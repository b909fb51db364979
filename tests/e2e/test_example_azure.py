"""examples/azure through the installed ``mlplan``, its dev environment pointed at the loopback Azure (the only
change: the workspace's coordinates, the cloud and the credential): ARM what-if in the plan, the cluster, the
data, the training job on Azure ML compute, the model it registers, the promotion's evaluation through the
endpoint, the deployment serving the champion, a no-op re-plan, a weaker model kept out, studio-side drift, the
outputs, destroy. qa and prd validate offline as written."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_mlplan
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]  # azure-ai-ml's notices


def example(tmp_path: Path, az: LoopbackAzure) -> Path:
    """examples/azure beside the quickstart it reads, its dev environment on the loopback Azure."""
    for name in ("azure", "quickstart"):
        shutil.copytree(REPO / "examples" / name, tmp_path / name, ignore=shutil.ignore_patterns(".mlplan"))
    root = tmp_path / "azure"
    config = yaml.safe_load((root / "mlplan.yaml").read_text())
    dev = config["environments"]["dev"]
    dev["workspace"].update(
        subscription_id=az.subscription_id, resource_group=az.resource_group, workspace_name=az.workspace
    )
    dev.update(cloud=az.cloud_config, credential="environment")
    (root / "mlplan.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def labels(root: Path) -> dict[tuple[float, ...], int]:
    """The evaluation set's true label by feature row, for a scorer that stands in for a good model."""
    with (root.parent / "quickstart/data/eval.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    return {tuple(round(float(v), 6) for v in row[:-1]): int(row[-1]) for row in rows[1:]}


def mlplan(root: Path, *args: str) -> tuple[int, str]:
    r = run_mlplan("-C", str(root), "-e", "dev", *args, timeout=120)
    return r.code, r.text


def test_the_azure_example_on_a_loopback_workspace(tmp_path: Path, loopback_azure_storage: LoopbackAzure) -> None:
    az = loopback_azure_storage
    root = example(tmp_path, az)
    ws = az.workspace_id
    truth = labels(root)
    quality = {"1": "right", "2": "majority"}  # what each version of cancer-model predicts

    def scorer(deployment: str) -> Any:
        def score(body: bytes) -> Any:
            served = az.az.store.get(f"{ws}/onlineEndpoints/cancer-dev/deployments/{deployment}".lower())
            version = str(served["properties"]["model"]).rsplit("/", 1)[1]
            rows = json.loads(body)["data"]
            if quality[version] == "majority":
                return {"predictions": [1 for _ in rows]}
            return {"predictions": [truth[tuple(round(float(v), 6) for v in row)] for row in rows]}

        return score

    for name in ("blue", "blue-challenger"):
        az.set_scorer("cancer-dev", scorer(name), deployment=name)

    for env in ("qa", "prd"):  # as written, offline
        r = run_mlplan("-C", str(root), "-e", env, "validate", env={"AZURE_SUBSCRIPTION_ID": az.subscription_id})
        assert r.code == 0 and "11 resource(s)" in r.out, r.text

    code, out = mlplan(root, "plan")
    assert code == 0, out
    assert "+ arm_deployment.monitoring  (create)" in out, out
    assert "+ Microsoft.Insights/components/cancer-dev-insights" in out, out  # what ARM what-if predicts
    assert "(evaluate)" in out and "if promotion.cancer-model promotes" in out, out

    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert "promoted" in out, out
    blue = az.resource(f"{ws}/onlineEndpoints/cancer-dev/deployments/blue")
    assert blue is not None and blue["properties"]["model"].endswith("/models/cancer-model/versions/1"), out
    assert az.resource(f"{ws}/onlineEndpoints/cancer-dev")["properties"]["traffic"] == {"blue": 100}
    [run] = [j for j in az.az.store.children(f"{ws}/jobs")]
    assert run["properties"]["status"] == "Completed" and run["properties"]["experimentName"] == "cancer-azure"
    code, out = mlplan(root, "output", "--json")
    assert code == 0, out
    outputs = json.loads(out)["outputs"]
    assert outputs["app_insights"] == "cancer-dev-insights" and outputs["model_version"] == "1", outputs
    assert outputs["scoring_uri"].startswith("https://"), outputs
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out  # every kind read back as planned: nothing to do

    # a weaker model: trained and registered on Azure, evaluated, kept out; the champion keeps serving
    code, out = mlplan(root, "apply", "--auto-approve", "--var", "algorithm=majority")
    assert code == 0, out
    assert "not promoted" in out, out
    assert az.resource(f"{ws}/models/cancer-model/versions/2") is not None
    blue = az.resource(f"{ws}/onlineEndpoints/cancer-dev/deployments/blue")
    assert blue is not None and blue["properties"]["model"].endswith("/models/cancer-model/versions/1"), out

    # a change made in the studio is named by drift
    az.edit(
        f"{ws}/computes/cpu-cluster", lambda b: b["properties"]["properties"]["scaleSettings"].update(maxNodeCount=5)
    )
    code, out = mlplan(root, "drift", "--var", "algorithm=majority")
    assert code != 0 and "max_instances changed: 1 -> 5" in out, out

    code, out = mlplan(root, "destroy", "--auto-approve", "--var", "algorithm=majority")
    assert code == 0, out
    assert az.resource(f"{ws}/onlineEndpoints/cancer-dev") is None
    assert az.resource(f"{ws}/computes/cpu-cluster") is None
    # the version state holds is archived (Azure ML keeps versions); earlier ones are history, left as they are
    assert az.resource(f"{ws}/models/cancer-model/versions/2")["properties"]["isArchived"] is True
