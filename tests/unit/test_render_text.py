"""The text plan, plain (files, pipes, CI logs) and coloured (a terminal), against golden files.

Set MLPLAN_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then read the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mlplan.core.diffing import show
from mlplan.engine.render import text

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
PLAN = json.loads((GOLDEN / "plan.json").read_text())
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("color,name", [(False, "plan.txt"), (True, "plan.ansi.txt")])
def test_the_text_plan_matches_its_golden_file(color: bool, name: str) -> None:
    rendered = text(PLAN, color=color)
    if os.environ.get("MLPLAN_UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(rendered)
    assert rendered == (GOLDEN / name).read_text()


def test_colour_changes_only_the_colours() -> None:
    plain, coloured = text(PLAN), text(PLAN, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain


def test_what_a_reader_needs_is_there_once() -> None:
    plain = text(PLAN)
    assert "data.shared@latest" not in plain, "reads and no-ops are not changes"
    assert "compute.same" not in plain
    assert plain.count("size changed: small -> large") == 1, "the reason is not repeated as a field change"
    assert "~ max_instances: 1 -> 2" in plain
    assert "1111111111" not in plain and "conda_file changed: conda.yml" in plain, "files, not digests"
    inputs = (
        "      + inputs:\n          train: {type: uri_file, path: azureml:churn-data:3}\n          n_estimators: 20\n"
    )
    assert inputs in plain, "a new run shows its inputs"
    assert "+ ssh_public_access_enabled: false" in plain and "+ ssh_settings: (sensitive)" in plain
    whole = "--out ${{outputs.scores}} --batch 512"
    assert f"+ python score.py --model ${{{{inputs.model}}}} --data ${{{{inputs.data}}}} {whole}" in plain, "not cut"
    assert "Warning: endpoint churn has deployments but sends them no traffic" in plain
    assert "+s compute.gpu  (interrupted create: adopt)" in plain


@pytest.mark.parametrize(
    "value,shown",
    [
        (True, "true"),
        (None, "null"),
        ({"blue": 100}, "{blue: 100}"),
        (["a", 1], "[a, 1]"),
        ("a: b", '"a: b"'),
        ("3", '"3"'),
    ],
)
def test_values_are_shown_as_yaml_not_python(value: object, shown: str) -> None:
    assert show(value) == shown


def test_predictions_show_what_changes_with_its_properties_and_count_what_stays() -> None:
    plain = text(PLAN)
    storage = (
        "      predicted changes to the resources it manages:\n"
        "        ~ Microsoft.Storage/storageAccounts/stchurn  (modify)\n"
        "            ~ properties.minimumTlsVersion: TLS1_0 -> TLS1_2\n"
        "            ~ properties.networkAcls.ipRules:\n"
        '                - properties.networkAcls.ipRules.0: {value: "203.0.113.7"}\n'
        "        + Microsoft.Insights/components/ai-churn  (create)\n"
        "        = 2 other resource(s) unchanged or left alone\n"
    )
    assert storage in plain
    assert "kv-churn" not in plain and "mlw-dev" not in plain, "what stays as it is is counted, not listed"
    assert "* Microsoft.Network/virtualNetworks/vnet-ml  (ignore): stays in the resource group" in plain
