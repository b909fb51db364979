"""The provider's predictions (ARM what-if) in the engine, through the recording fake: carried by the plan (and its
JSON, older plans read without them), a change outside mlplan to what a resource deployed makes an unchanged one an
update, a removal shows what it does to them, planning writes nothing, and apply refuses a plan whose predictions
moved before it acts."""

from __future__ import annotations

import json

from mlplan.engine.plan import Action, Plan
from mlplan.engine.planner import PlanOptions
from mlplan.providers.base import PredictedChange, PropertyDelta
from tests.unit.fakes import SCHEMA, Harness, by_address

ST = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
CREATE = PredictedChange("create", ST, "Microsoft.Storage/storageAccounts")
SAME = PredictedChange("no_change", ST, "Microsoft.Storage/storageAccounts")
LEFT = PredictedChange("ignore", WS, "Microsoft.MachineLearningServices/workspaces")
MODIFY = PredictedChange(
    "modify",
    ST,
    "Microsoft.Storage/storageAccounts",
    (PropertyDelta("properties.minimumTlsVersion", "modify", "TLS1_0", "TLS1_2"),),
)


def arm_project(h: Harness, sku: str = "S1") -> None:
    h.write(
        {
            "res/infra.template.yml": f"$schema: {SCHEMA.format('deploymentTemplate')}\ntemplate: ./infra.json\n",
            "res/infra.json": json.dumps({"resources": [], "sku": sku}),
        }
    )


def test_a_create_carries_the_prediction_through_the_plans_json_and_planning_writes_nothing(h: Harness) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [LEFT, CREATE]
    plan = h.plan()
    change = by_address(plan)["arm_deployment.infra"]
    assert change.action is Action.CREATE and change.predicted == (LEFT, CREATE)
    assert [c.op for c in h.provider.calls if c.op == "predict"] == ["predict"]
    assert h.provider.ops() == [], "plan asked, it changed nothing"
    again = Plan.from_json(json.loads(plan.dumps()))
    assert by_address(again)["arm_deployment.infra"].predicted == (LEFT, CREATE)


def test_kinds_without_predictions_carry_none_and_older_plans_read_without_them(h: Harness) -> None:
    arm_project(h)
    plan = h.plan()  # the fake predicts nothing for names it was not given
    assert by_address(plan)["arm_deployment.infra"].predicted is None
    saved = json.loads(plan.dumps())
    for c in saved["changes"]:
        del c["predicted"]  # as a plan saved before predictions existed
    assert by_address(Plan.from_json(saved))["arm_deployment.infra"].predicted is None


def test_an_unchanged_resource_whose_deployed_resources_drifted_is_an_update_saying_so(h: Harness) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [LEFT, CREATE]
    h.apply_ok()
    h.provider.predictions["infra"] = [LEFT, SAME]
    assert by_address(h.plan())["arm_deployment.infra"].action is Action.NO_OP

    h.provider.predictions["infra"] = [LEFT, MODIFY]  # someone changed the storage account in the portal
    change = by_address(h.plan())["arm_deployment.infra"]
    assert change.action is Action.UPDATE
    assert change.reason == (
        "configuration unchanged, but what it deployed drifted: the fake provider predicts"
        " modify Microsoft.Storage/storageAccounts/st (properties.minimumTlsVersion)"
    )
    assert change.predicted == (LEFT, MODIFY)
    h.apply_ok()
    assert [c.op for c in h.provider.ops()][-1] == "update"

    # with refresh off, nothing is read, nothing predicted for an unchanged resource
    plan = h.plan(PlanOptions(refresh=False))
    assert by_address(plan)["arm_deployment.infra"].action is Action.NO_OP


def test_a_template_change_is_an_update_with_the_prediction(h: Harness) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [CREATE]
    h.apply_ok()
    arm_project(h, sku="S2")
    h.provider.predictions["infra"] = [MODIFY]
    change = by_address(h.plan())["arm_deployment.infra"]
    assert change.action is Action.UPDATE and change.predicted == (MODIFY,)


def test_apply_refuses_a_plan_whose_predictions_moved_and_does_nothing_for_it(h: Harness) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [CREATE]
    plan = h.plan()
    h.provider.predictions["infra"] = [CREATE, PredictedChange("delete", WS, "Microsoft.MachineLearningServices/ws")]
    result = h.apply(plan)
    assert not result.ok
    message = result.failed["arm_deployment.infra"]
    assert message.startswith("the plan is stale: the fake provider now predicts other changes for")
    assert (
        "(the plan shows: nothing else; now predicted instead: delete Microsoft.MachineLearningServices/ws/ws)"
    ) in message
    assert "Run `mlplan plan` again" in message
    assert h.provider.ops() == [], "nothing was deployed"
    state = h.state()
    assert "arm_deployment.infra" not in state.resources and not state.failures and not state.pending

    fresh = h.plan()  # planned again: the new prediction is shown, and apply goes ahead
    assert by_address(fresh)["arm_deployment.infra"].predicted is not None
    h.apply_ok(fresh)
    assert [c.op for c in h.provider.ops()] == ["create"]


def test_a_removal_shows_what_the_provider_predicts_for_what_it_deployed(h: Harness) -> None:
    arm_project(h)
    h.apply_ok()
    stays = PredictedChange("ignore", ST, "Microsoft.Storage/storageAccounts", note="stays in the resource group")
    h.provider.predictions["infra"] = [stays]
    h.remove("res/infra.template.yml")
    change = by_address(h.plan())["arm_deployment.infra"]
    assert change.action is Action.DELETE and change.predicted == (stays,)
    destroy = by_address(h.plan(PlanOptions(destroy=True)))["arm_deployment.infra"]
    assert destroy.predicted == (stays,)


def test_what_stays_as_it_is_does_not_make_a_plan_stale(h: Harness) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [CREATE]
    plan = h.plan()
    h.provider.predictions["infra"] = [LEFT, CREATE]  # a resource added next to it: left alone (Incremental)
    h.apply_ok(plan)


def test_drift_names_what_changed_in_what_it_deployed_while_the_configuration_is_what_was_applied(
    h: Harness,
) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [LEFT, CREATE]
    h.apply_ok()
    h.provider.reset()
    h.provider.predictions["infra"] = [LEFT, SAME]
    drift = by_address(h.plan(PlanOptions(refresh_only=True)))["arm_deployment.infra"]
    assert drift.action is Action.NO_OP

    h.provider.predictions["infra"] = [LEFT, MODIFY]
    drift = by_address(h.plan(PlanOptions(refresh_only=True)))["arm_deployment.infra"]
    assert drift.action is Action.UPDATE and drift.predicted == (LEFT, MODIFY)
    assert drift.reason == (
        "changed outside mlplan: what it deployed drifted; the fake provider predicts that deploying it again would"
        " modify Microsoft.Storage/storageAccounts/st (properties.minimumTlsVersion)"
    )
    assert h.provider.ops() == []

    arm_project(h, sku="S2")  # the template changed too: what-if would mix that in, so drift does not ask
    before = len(h.provider.ops("predict"))
    drift = by_address(h.plan(PlanOptions(refresh_only=True)))["arm_deployment.infra"]
    assert drift.action is Action.NO_OP and len(h.provider.ops("predict")) == before


def test_what_the_provider_cannot_predict_is_shown_but_never_taken_for_drift(h: Harness) -> None:
    arm_project(h)
    h.provider.predictions["infra"] = [CREATE]
    h.apply_ok()
    unsure = PredictedChange("unsupported", WS, "Microsoft.Resources/deployments", note="uses reference()")
    no_effect = PredictedChange(
        "modify", ST, "Microsoft.Storage/storageAccounts", (PropertyDelta("properties.x", "no_effect", 1, 2),)
    )
    h.provider.predictions["infra"] = [unsure, no_effect]
    assert by_address(h.plan())["arm_deployment.infra"].action is Action.NO_OP
