"""Scoring an evaluation set through a local endpoint: the quickstart applied (the real Azure ML inference
server behind the endpoint's router), its eval data fetched from the workspace and scored through the
endpoint with the local provider's ``invoke`` and ``engine.scoring.score``."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mlplan.core.errors import ProviderError, ScoringError
from mlplan.engine.scoring import Table, read_table, request_format, score
from mlplan.providers.base import Context, Observed, ResourceType
from mlplan.providers.local import LocalProvider
from mlplan.providers.local.paths import asset_dir
from tests.conftest import REPO, run_mlplan, write
from tests.processes import kill_leftovers, server_pids

pytestmark = pytest.mark.slow

# A second deployment on the quickstart's endpoint (0 % traffic) whose run() answers what is no prediction.
GARBAGE = {
    "deploy/garbage.yml": """
    $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
    name: garbage
    endpoint_name: cancer
    model: azureml:cancer-model@latest
    code_configuration:
      code: ./garbage
      scoring_script: score.py
    environment: azureml:sklearn@latest
    instance_type: Standard_DS3_v2
    instance_count: 1
    """,
    "deploy/garbage/score.py": """
    def init():
        pass


    def run(raw_data):
        return "<html><body>Service temporarily unavailable</body></html>"
    """,
}


@dataclass
class Served:
    root: Path
    ctx: Context
    endpoints: ResourceType
    endpoint: Observed
    table: Table

    def invoke(self, deployment: str, body: bytes, content_type: str) -> bytes:
        return self.endpoints.invoke(self.ctx, self.endpoint, deployment, body, content_type)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("scoring") / "quickstart"
    shutil.copytree(REPO / "examples/quickstart", root, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    write(root, GARBAGE)
    provider = LocalProvider()
    started: list[int] = []
    try:
        r = run_mlplan("-C", str(root), "apply", "--auto-approve", timeout=300)
        started = server_pids(root)
        assert r.code == 0, r.text
        ctx = Context("quickstart", "local", root, {})
        endpoints, data = provider.resource_type("online_endpoint"), provider.resource_type("data")
        assert endpoints is not None and data is not None
        endpoint, asset = endpoints.lookup(ctx, "cancer", None), data.lookup(ctx, "cancer-eval", None)
        assert endpoint is not None and asset is not None
        table = read_table(data.fetch(ctx, asset), "target", f"data asset cancer-eval:{asset.version}")
        yield Served(root, ctx, endpoints, endpoint, table)
    finally:
        provider.close()
        run_mlplan("-C", str(root), "destroy", "--auto-approve", timeout=300)
        kill_leftovers(root, started)


def test_the_eval_set_scored_through_the_endpoint_is_what_the_model_predicts(served: Served) -> None:
    seen: list[tuple[int, int]] = []
    fmt = request_format("default", served.root)
    predictions = score(served.invoke, "blue", served.table, fmt, 50, 4, lambda done, total: seen.append((done, total)))
    assert len(predictions) == len(served.table) == 171
    [pkl] = asset_dir(served.ctx, "model", "cancer-model", "1").rglob("model.pkl")
    with pkl.open("rb") as fh:
        model = pickle.load(fh)  # the model version blue serves, called in-process
    assert predictions.tolist() == model.predict(np.asarray(served.table.rows, dtype=float)).tolist()
    assert float((predictions == served.table.labels).mean()) > 0.9
    assert seen[-1] == (171, 171) and len(seen) == 4  # batches of 50, 50, 50, 21


def test_a_deployment_the_endpoint_does_not_have_is_an_error_naming_it_and_the_status(served: Served) -> None:
    with pytest.raises(ProviderError) as err:
        score(served.invoke, "green", served.table, request_format("default", served.root), 50)
    message = str(err.value)
    assert message.startswith("endpoint 'cancer', deployment 'green': the scoring request failed with HTTP 404: ")
    assert "deployment 'green' not found on this endpoint" in message
    keys = served.endpoints.credentials(served.ctx, served.endpoint)
    assert keys and not any(key in message for key in keys.values())


def test_a_request_the_scoring_script_fails_on_is_an_error_with_the_status(served: Served) -> None:
    # blue's run() reads {"data": ...}; the MLflow shape makes it raise: the inference server answers 500
    with pytest.raises(ProviderError, match=r"deployment 'blue': the scoring request failed with HTTP 500: "):
        score(served.invoke, "blue", served.table, request_format("mlflow", served.root), 50)


def test_a_deployment_that_answers_garbage_is_an_error_showing_the_answer(served: Served) -> None:
    with pytest.raises(ScoringError) as err:
        score(served.invoke, "garbage", served.table, request_format("default", served.root), 50)
    assert str(err.value) == (
        "deployment 'garbage' answered what mlplan cannot read as predictions: it is not JSON; the answer:"
        ' "<html><body>Service temporarily unavailable</body></html>"'
    )
