"""Promotion as plan and apply see it (engine only, the fake provider scores): the chain the plan shows,
promote or keep, the history state keeps, and the next plan a no-op."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlplan.core.errors import UsageError
from mlplan.engine import champions as champion_history
from mlplan.engine import render
from mlplan.engine.nodes.base import ChampionRequest
from mlplan.engine.plan import Action
from mlplan.engine.planner import PlanOptions
from mlplan.providers.base import TAG_CHAMPION
from tests.unit.fakes import PROJECT, Harness, actions, by_address, data, deployment, endpoint, model

N = 40  # evaluation rows: x = 0..39, label y = x % 2


def perfect(rows: list[Any]) -> list[int]:
    return [int(r[0]) % 2 for r in rows]


def decent(rows: list[Any]) -> list[int]:  # wrong on x % 10 in (0, 1, 2): 70% right
    return [1 - int(r[0]) % 2 if int(r[0]) % 10 < 3 else int(r[0]) % 2 for r in rows]


def constant(rows: list[Any]) -> list[int]:  # always 0: 50% right
    return [0 for _ in rows]


POLICY = """
promotion:
  clf:
    evaluation_data: azureml:eval@latest
    label_column: y
    endpoint: web
    min_accuracy: 0.6
"""


@pytest.fixture
def ph(h: Harness) -> Harness:
    h.write(
        {
            "mlplan.yaml": PROJECT + POLICY,
            "res/clf.yml": model(),
            "res/web.yml": endpoint(traffic={"blue": 100}),
            "res/blue.yml": deployment(model="azureml:clf@latest"),
            "res/eval.yml": data(name="eval", path="../files/eval.csv"),
            "files/eval.csv": "x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(N)),
        }
    )
    h.provider.data_files["eval"] = h.root / "files/eval.csv"
    return h


def new_weights(h: Harness, text: str) -> None:
    h.write({"files/model/weights.txt": text})


def champions(h: Harness) -> list[str]:
    """The versions of model clf the workspace marks as champion."""
    return [str(s.version) for s in h.provider.live("model", "clf") if s.tags.get(TAG_CHAMPION) == "true"]


def served(h: Harness) -> str:
    return str(h.state().resources["online_deployment.web/blue"].attributes["model"])


def test_the_first_model_is_served_when_it_reaches_min_accuracy(ph: Harness) -> None:
    ph.provider.predict["1"] = decent
    plan = ph.plan()
    changes = by_address(plan)
    assert changes["promotion.clf"].action is Action.EVALUATE
    assert "first model" in changes["promotion.clf"].reason and "0.6" in changes["promotion.clf"].reason
    blue = changes["online_deployment.web/blue"]
    assert (blue.action, blue.condition) == (Action.CREATE, "if promotion.clf promotes")
    # the chain: the model, then its evaluation, then the deployment that serves the champion
    assert "model.clf" in {str(d) for d in changes["promotion.clf"].depends_on}
    assert "promotion.clf" in {str(d) for d in blue.depends_on}
    ph.apply_ok(plan)
    assert served(ph) == "azureml:clf:1"
    [decision] = ph.state().promotions
    assert (decision["decision"], decision["champion"]) == ("promoted", "azureml:clf:1")
    assert decision["champion_before"] is None
    assert not ph.provider.live("online_deployment", "web/blue-challenger")  # the temporary deployment is gone
    assert set(actions(ph.plan()).values()) <= {Action.NO_OP, Action.READ}


def test_a_worse_model_is_kept_out_and_a_better_one_promoted(ph: Harness) -> None:
    ph.provider.predict.update({"1": decent, "2": constant, "3": perfect})
    ph.apply_ok()
    new_weights(ph, "w2\n")
    plan = ph.plan()
    changes = by_address(plan)
    assert actions(plan)["model.clf"] is Action.NEW_VERSION
    assert changes["promotion.clf"].action is Action.EVALUATE
    assert "against champion azureml:clf:1" in changes["promotion.clf"].reason
    assert changes["online_deployment.web/blue"].condition == "if promotion.clf promotes"
    result = ph.apply(plan)
    assert result.ok and "promotion.clf" in result.not_met, result  # a rejected challenger is not a failure
    assert "online_deployment.web/blue" in result.skipped
    assert served(ph) == "azureml:clf:1"
    kept = ph.state().promotions[-1]
    assert (kept["decision"], kept["challenger"], kept["champion"]) == ("kept", "azureml:clf:2", "azureml:clf:1")
    assert kept["evidence"]["b"] + kept["evidence"]["c"] > 0
    assert set(actions(ph.plan()).values()) <= {Action.NO_OP, Action.READ}  # evaluated already: not again
    assert not ph.provider.live("online_deployment", "web/blue-challenger")

    assert champions(ph) == ["1"]  # the marker in the workspace

    new_weights(ph, "w3\n")
    ph.apply_ok()
    assert served(ph) == "azureml:clf:3"
    assert champions(ph) == ["3"]
    promoted = ph.state().promotions[-1]
    assert (promoted["decision"], promoted["champion_before"], promoted["champion"]) == (
        "promoted",
        "azureml:clf:1",
        "azureml:clf:3",
    )
    assert promoted["evidence"]["c"] == 12 and promoted["evidence"]["b"] == 0
    assert set(actions(ph.plan()).values()) <= {Action.NO_OP, Action.READ}


def test_a_deployment_that_pins_a_version_of_a_governed_model_is_refused(ph: Harness) -> None:
    ph.write({"res/blue.yml": deployment(model="azureml:clf:1")})
    with pytest.raises(Exception) as err:
        ph.plan()
    assert "res/blue.yml" in str(err.value) and "azureml:clf@latest" in str(err.value)


def test_a_policy_whose_endpoint_serves_no_version_of_the_model_is_refused(ph: Harness) -> None:
    ph.remove("res/blue.yml")
    with pytest.raises(Exception) as err:
        ph.plan()
    assert "mlplan.yaml:5" in str(err.value), err.value  # promotion: clf:
    assert "no deployment of endpoint web serves azureml:clf@latest" in str(err.value)


def test_a_champion_chosen_by_hand_is_served_and_rollback_goes_back(ph: Harness) -> None:
    ph.provider.predict.update({"1": decent, "2": constant})
    ph.apply_ok()
    new_weights(ph, "w2\n")
    assert "promotion.clf" in ph.apply().not_met  # v2 is kept out
    manual = PlanOptions(champions=(ChampionRequest("clf", "2", "manual", "offline review"),))
    plan = ph.plan(manual)
    changes = by_address(plan)
    assert changes["promotion.clf"].action is Action.PROMOTE
    assert (
        "manual requested: champion azureml:clf:1 -> azureml:clf:2 (offline review)" in changes["promotion.clf"].reason
    )
    assert (changes["online_deployment.web/blue"].action, changes["online_deployment.web/blue"].condition) == (
        Action.UPDATE,
        "",
    )
    ph.apply_ok(plan)
    assert (served(ph), champions(ph)) == ("azureml:clf:2", ["2"])
    assert set(actions(ph.plan()).values()) <= {Action.NO_OP, Action.READ}  # v2 is not evaluated again
    assert champion_history.previous(ph.state(), "clf") == "1"
    ph.apply_ok(ph.plan(PlanOptions(champions=(ChampionRequest("clf", "1", "rollback", "drill"),))))
    assert (served(ph), champions(ph)) == ("azureml:clf:1", ["1"])
    assert [d["decision"] for d in ph.state().promotions] == ["promoted", "kept", "manual", "rollback"]
    with pytest.raises(UsageError, match="no earlier champion"):  # a rollback is not undone by another
        champion_history.previous(ph.state(), "clf")


def test_the_plan_shows_the_chain_in_every_format(ph: Harness) -> None:
    ph.provider.predict["1"] = decent
    shown = ph.plan().to_json()
    markdown = render.markdown(shown)
    assert "| `*e` | `promotion.clf` | evaluate |" in markdown
    assert "| `online_deployment.web/blue` | create (if promotion.clf promotes) |" in markdown
    text = render.text(shown)
    assert (
        "*e promotion.clf  (evaluate)" in text
        and "online_deployment.web/blue  (create, if promotion.clf promotes)" in text
    )
    [promotion] = [c for c in json.loads(render.as_json(shown))["changes"] if c["address"] == "promotion.clf"]
    assert promotion["desired"]["spec"]["challenger"]["name"] == "blue-challenger"
    assert promotion["desired"]["spec"]["policy"]["method"] == "midp"  # defaults included: apply uses these


def test_an_answer_that_cannot_be_read_fails_the_evaluation_and_the_champion_keeps_serving(ph: Harness) -> None:
    ph.provider.predict.update({"1": decent, "2": lambda rows: {"oops": "not predictions"}})
    ph.apply_ok()
    new_weights(ph, "w2\n")
    result = ph.apply()
    error = result.failed["promotion.clf"]
    assert "blue-challenger" in error and "oops" in error, error
    assert served(ph) == "azureml:clf:1"
    assert not ph.provider.live("online_deployment", "web/blue-challenger")
    assert [d["decision"] for d in ph.state().promotions] == ["promoted"]  # nothing decided
    assert actions(ph.plan())["promotion.clf"] is Action.EVALUATE  # planned again, with the reason


def test_while_no_version_is_promoted_the_deployments_wait_and_nothing_is_created(ph: Harness) -> None:
    ph.provider.predict.update({"1": constant, "2": decent})
    result = ph.apply()
    assert result.ok and "promotion.clf" in result.not_met  # 0.5 < min_accuracy 0.6
    changes = by_address(ph.plan())
    assert changes["online_deployment.web/blue"].action is Action.NO_OP
    assert changes["online_deployment.web/blue"].reason.startswith("waits for promotion.clf: ")
    assert changes["traffic.web"].action is Action.NO_OP and "waits for online_deployment.web/blue" in (
        changes["traffic.web"].reason
    )
    assert ph.apply().ok and not ph.provider.live("online_deployment", "web/blue")
    new_weights(ph, "w2\n")  # a version good enough: promoted, and served
    ph.apply_ok()
    assert served(ph) == "azureml:clf:2"


@pytest.mark.parametrize(("sized", "most"), [({}, 1), ({"instance_count": 2}, 2)])
def test_an_evaluation_sends_no_more_requests_at_once_than_the_deployment_is_sized_for(
    ph: Harness, sized: dict[str, Any], most: int
) -> None:
    """Azure answers 429 beyond instance_count x max_concurrent_requests_per_instance (default 1 x 1), and the
    champion is serving live traffic meanwhile."""
    import threading
    import time

    lock, active, peak = threading.Lock(), [0], [0]

    def slow(rows: list[Any]) -> list[int]:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return decent(rows)

    ph.write({"res/blue.yml": deployment(model="azureml:clf@latest", **sized)})
    ph.provider.predict["1"] = slow
    ph.write({"mlplan.yaml": PROJECT + POLICY + "    batch_size: 5\n"})  # 8 requests
    ph.apply_ok()
    assert served(ph) == "azureml:clf:1"
    assert peak[0] == most, peak
