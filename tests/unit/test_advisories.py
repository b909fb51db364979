"""Plan warnings about the configuration: carried by the plan, never blocking apply."""

from __future__ import annotations

from typing import Any

import pytest

from mlplan.engine.planner import PlanOptions
from tests.unit.fakes import Harness, deployment, endpoint


@pytest.mark.parametrize("traffic", [None, {}, {"blue": 0, "green": 0}])
def test_an_endpoint_that_routes_no_traffic_warns_and_still_applies(h: Harness, traffic: Any) -> None:
    fields = {} if traffic is None else {"traffic": traffic}
    h.write(
        {
            "res/ep.yml": endpoint(**fields),
            "res/blue.yml": deployment(),
            "res/green.yml": deployment(name="green"),
            "res/other.yml": endpoint(name="other"),  # no deployments: nothing to route, no warning
        }
    )
    plan = h.plan()
    [warning] = plan.diagnostics
    assert warning.startswith("res/ep.yml:")
    assert "endpoint web has deployments (blue, green) but sends them no traffic" in warning
    assert warning.endswith("requests get 503; add traffic: {blue: 100}")
    h.apply_ok(plan)
    assert h.plan(PlanOptions(destroy=True)).diagnostics == ()  # a destroy routes nothing anyway
    if traffic is None:  # once deployments exist, no `traffic:` leaves their split as it is: maybe set by hand
        assert h.plan().diagnostics == ()
    else:  # the configuration still routes nothing
        assert h.plan().diagnostics == plan.diagnostics


def test_an_endpoint_with_a_share_of_traffic_has_no_warning(h: Harness) -> None:
    h.write(
        {
            "res/ep.yml": endpoint(traffic={"blue": 0, "green": 100}),
            "res/blue.yml": deployment(),
            "res/green.yml": deployment(name="green"),
        }
    )
    assert h.plan().diagnostics == ()
