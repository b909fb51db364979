"""Model promotion end to end on the quickstart with a promotion policy, through the installed CLI and the
real Azure ML inference server: a weak first model becomes champion through min_accuracy, a better one is
evaluated and promoted while a client scores without a failed request, a weak one is kept out while the
champion keeps serving, rollback restores the previous champion, the history shows every decision, and an
apply killed during an evaluation converges on the next one."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_mlplan
from tests.e2e.test_quickstart import apply_while_scoring, endpoint, score
from tests.processes import alive, server_pids

pytestmark = pytest.mark.slow

POLICY = """
promotion:
  cancer-model:
    evaluation_data: azureml:cancer-eval@latest
    label_column: target
    endpoint: cancer
    min_accuracy: 0.6
"""
MAJORITY = ("--var", "algorithm=majority")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples/quickstart", root, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    (root / "mlplan.yaml").write_text((root / "mlplan.yaml").read_text() + POLICY)
    try:
        yield root
    finally:
        started = server_pids(root)
        run_mlplan("-C", str(root), "destroy", "--auto-approve")
        for pid in set(started) | set(server_pids(root)):
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


def state(root: Path) -> dict[str, Any]:
    return dict(json.loads(run_mlplan("-C", str(root), "state", "pull").out))


def served(root: Path) -> str:
    return str(state(root)["resources"]["online_deployment.cancer/blue"]["attributes"]["model"])


def deployments(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".mlplan/local-workspace/endpoints/cancer/deployments").iterdir())


def plan(root: Path, *args: str) -> dict[str, dict[str, Any]]:
    r = run_mlplan("-C", str(root), "plan", "--json", *args)
    assert r.code == 0, r.text
    return {c["address"]: c for c in json.loads(r.out)["changes"]}


def test_champion_and_challengers(project: Path) -> None:
    # 1. a weak first model: no champion to beat, it must reach min_accuracy (0.626 >= 0.6)
    changes = plan(project, *MAJORITY)
    assert changes["promotion.cancer-model"]["action"] == "evaluate"
    assert changes["online_deployment.cancer/blue"]["condition"] == "if promotion.cancer-model promotes"
    text = run_mlplan("-C", str(project), "plan", *MAJORITY).out
    assert "(evaluate)" in text and "(create, if promotion.cancer-model promotes)" in text, text
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", *MAJORITY)
    assert r.code == 0, r.text
    assert served(project) == "azureml:cancer-model:1"
    uri, key = endpoint(project)
    assert score(uri, key)[1] == {"predictions": [1, 1]}  # the majority class

    # 2. a better model: evaluated against the champion and promoted, without a failed request
    changes = plan(project)
    assert changes["promotion.cancer-model"]["action"] == "evaluate"
    assert "against champion azureml:cancer-model:1" in changes["promotion.cancer-model"]["reason"]
    r, codes = apply_while_scoring(project, uri, key)
    assert r.code == 0, r.text
    assert set(codes) == {200} and codes[200] > 10, codes
    assert served(project) == "azureml:cancer-model:2"
    assert score(uri, key)[1] == {"predictions": [0, 1]}
    assert "one-sided" in r.text and "p" in r.text  # the evidence is printed
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0

    # 3. a weak challenger: kept out, apply still succeeds, the champion keeps serving
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", *MAJORITY)
    assert r.code == 0, r.text
    assert "not promoted" in r.text, r.text
    assert served(project) == "azureml:cancer-model:2"
    assert score(uri, key)[1] == {"predictions": [0, 1]}
    assert deployments(project) == ["blue"]  # no temporary deployment left
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode", *MAJORITY).code == 0

    # 4. rollback: the champion before the current one
    r = run_mlplan("-C", str(project), "rollback", "cancer-model", "--reason", "drill", "--auto-approve", *MAJORITY)
    assert r.code == 0, r.text
    assert served(project) == "azureml:cancer-model:1"
    assert score(uri, key)[1] == {"predictions": [1, 1]}
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode", *MAJORITY).code == 0

    history = json.loads(run_mlplan("-C", str(project), "promotions", "--json").out)
    assert [(h["decision"], h["champion"]) for h in history] == [
        ("promoted", "azureml:cancer-model:1"),
        ("promoted", "azureml:cancer-model:2"),
        ("kept", "azureml:cancer-model:2"),
        ("rollback", "azureml:cancer-model:1"),
    ]
    assert history[1]["evidence"]["c"] > history[1]["evidence"]["b"]
    assert history[2]["challenger"] == "azureml:cancer-model:3"
    assert all(h["by"]["user"] for h in history)
    shown = run_mlplan("-C", str(project), "promotions", "cancer-model").out
    assert "rollback" in shown and "drill" in shown


def test_an_apply_killed_during_an_evaluation_converges(project: Path) -> None:
    assert run_mlplan("-C", str(project), "apply", "--auto-approve", *MAJORITY).code == 0
    r = run_mlplan("-C", str(project), "apply", "--auto-approve", env={"MLPLAN_CRASHPOINT": "mid_evaluation"})
    assert r.code == -signal.SIGKILL, r.text
    assert "blue-challenger" in deployments(project)  # what the killed evaluation left
    changes = plan(project)
    assert changes["promotion.cancer-model"]["action"] == "evaluate"
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert deployments(project) == ["blue"]
    assert served(project) == "azureml:cancer-model:2"
    decisions = [h["decision"] for h in state(project)["promotions"]]
    assert decisions == ["promoted", "promoted"]  # the killed evaluation decided nothing: made once
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0


def test_promote_and_rollback_refuse_what_they_cannot_do(project: Path) -> None:
    r = run_mlplan("-C", str(project), "promote", "cancer-modle", "--version", "1", "--reason", "x", "--auto-approve")
    assert r.code == 1 and "no promotion policy" in r.err and "did you mean 'cancer-model'" in r.err, r.text
    r = run_mlplan("-C", str(project), "promote", "cancer-model", "--version", "7", "--reason", "x", "--auto-approve")
    assert r.code == 1 and "model cancer-model has no version '7'" in r.err, r.text
    r = run_mlplan("-C", str(project), "rollback", "cancer-model", "--auto-approve")
    assert r.code == 1 and "no earlier champion" in r.err and "--to" in r.err, r.text
    assert not (project / ".mlplan/state/local.json").exists() or state(project)["promotions"] == []
