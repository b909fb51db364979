"""Markdown for PR comments: whole when it fits, cut to GitHub's comment limit when it does not."""

from __future__ import annotations

from typing import Any

from mlplan.engine.render import COMMENT_LIMIT, markdown


def plan_of(n: int) -> dict[str, Any]:
    changes = [
        {
            "address": f"compute.c{i:05d}",
            "action": "update",
            "reason": f"max_instances changed: {i} -> {i + 1}",
            "changes": [{"path": "max_instances", "before": i, "after": i + 1}],
        }
        for i in range(n)
    ]
    return {"project": "p", "environment": "dev", "serial": 1, "mode": "normal", "changes": changes}


def test_a_plan_that_fits_is_shown_whole() -> None:
    text = markdown(plan_of(10))
    assert "**Plan: 10 to update.**" in text
    assert all(f"`compute.c{i:05d}`" in text for i in range(10))
    assert text.count("+ max_instances:") == 10
    assert "not shown" not in text


def test_a_long_plan_is_cut_to_the_comment_limit_and_says_so() -> None:
    plan = plan_of(3000)
    plan["diagnostics"] = ["a warning that must survive"]
    text = markdown(plan)
    assert len(text) <= COMMENT_LIMIT
    assert "**Plan: 3000 to update.**" in text and "> **Warning:** a warning that must survive" in text
    rows = text.count("| `~` | `compute.c")
    assert 100 < rows < 3000
    assert f"*{3000 - rows} more change(s) not shown*" in text
    assert "`mlplan show PLANFILE` prints all of it" in text
    assert text.rstrip().endswith("prints all of it.*")


def _predicted(i: int) -> dict[str, Any]:
    rid = f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st{i:05d}"
    delta = [{"path": "sku.name", "change": "modify", "before": "Standard_LRS", "after": "Standard_GRS"}]
    return {
        "change": "modify",
        "resource_id": rid,
        "resource_type": "Microsoft.Storage/storageAccounts",
        "delta": delta,
    }


def test_predicted_changes_are_in_the_comment_within_its_limit() -> None:
    plan = plan_of(1)
    plan["changes"] = [
        {
            "address": "arm_deployment.infra",
            "action": "update",
            "reason": "template changed: main.json",
            "predicted": [_predicted(1), {**_predicted(2), "change": "no_change", "delta": []}],
        }
    ]
    text = markdown(plan)
    assert "<details open><summary>Predicted changes (what-if)</summary>" in text
    assert (
        "# arm_deployment.infra\n~ Microsoft.Storage/storageAccounts/st00001  (modify)\n"
        "~     sku.name: Standard_LRS -> Standard_GRS\n= 1 other resource(s) unchanged or left alone\n"
    ) in text
    plan["changes"][0]["predicted"] = [_predicted(i) for i in range(2000)]
    cut = markdown(plan)
    assert len(cut) <= COMMENT_LIMIT
    assert "`arm_deployment.infra`" in cut and "prints all of it" in cut
