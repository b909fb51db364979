"""Lifecycle: removal (delete/archive), prevent_destroy, ignore_changes, create_before_destroy, ttl."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mlplan.core.errors import PlanError
from mlplan.engine.address import Address
from mlplan.engine.plan import Action
from mlplan.engine.planner import PlanOptions
from tests.unit.fakes import PROJECT, FakeProvider, Harness, actions, by_address, compute, data, deployment, endpoint


def _settings(block: str) -> str:
    return PROJECT + "settings:\n" + "".join(f"  {line}\n" for line in block.strip().splitlines())


# -- removal ---------------------------------------------------------------------------------


def test_removed_non_versioned_resource_is_deleted(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(), "res/other.yml": compute("other")})
    h.apply_ok()
    h.remove("res/other.yml")
    change = by_address(h.plan())["compute.other"]
    assert change.action is Action.DELETE
    assert "removed from the configuration" in change.reason
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.name) for c in h.provider.ops()] == [("delete", "other")]
    assert "compute.other" not in h.state().resources
    assert set(actions(h.plan()).values()) == {Action.NO_OP}


def test_removed_versioned_asset_is_archived(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(), "res/iris.yml": data()})
    h.apply_ok()
    h.remove("res/iris.yml")
    change = by_address(h.plan())["data.iris"]
    assert change.action is Action.ARCHIVE
    assert "archived" in change.reason
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.kind, c.version) for c in h.provider.ops()] == [("archive", "data", "1")]
    [stored] = h.provider.live("data", "iris")
    assert stored.archived


def test_removed_dependents_are_deleted_before_their_dependencies(h: Harness) -> None:
    h.write({"res/web.yml": endpoint(), "res/blue.yml": deployment(), "res/cpu.yml": compute()})
    h.apply_ok()
    h.remove("res/web.yml", "res/blue.yml")
    h.provider.reset()
    h.provider.name_delays["web/blue"] = 0.05
    h.apply_ok()
    assert h.provider.ended_before_started("web/blue", "web")
    assert [(c.op, c.kind) for c in h.provider.ops()] == [
        ("delete", "online_deployment"),
        ("delete", "online_endpoint"),
    ]


def test_on_remove_delete_deletes_a_removed_versioned_asset(h: Harness) -> None:
    """on_remove only matters once the resource file is gone: state remembers it, so the resource's
    settings can go with its file (settings for an address no file defines are an error)."""
    h.write({"mlplan.yaml": _settings("data.iris: {lifecycle: {on_remove: delete}}"), "res/iris.yml": data()})
    h.apply_ok()
    h.remove("res/iris.yml")
    h.write({"mlplan.yaml": PROJECT})
    change = by_address(h.plan())["data.iris"]
    assert change.action is Action.DELETE


def test_destroy_honours_on_remove_delete_when_the_provider_can(h: Harness) -> None:
    h.write(
        {
            "mlplan.yaml": _settings("data.iris: {lifecycle: {on_remove: delete}}"),
            "res/iris.yml": data(),
            "res/clf.yml": data("other"),
        }
    )
    h.apply_ok()
    plan = h.plan(PlanOptions(destroy=True))
    assert plan.mode == "destroy"
    assert actions(plan) == {"data.iris": Action.DELETE, "data.other": Action.ARCHIVE}
    h.provider.reset()
    h.apply_ok(plan)
    assert sorted((c.op, c.name) for c in h.provider.ops()) == [("archive", "other"), ("delete", "iris")]
    assert h.provider.live("data", "iris") == []


def test_on_remove_delete_falls_back_to_archive_when_the_provider_cannot(tmp_path: Path) -> None:
    h = Harness(tmp_path / "proj", FakeProvider(can_delete_versions=False))
    h.write({"mlplan.yaml": _settings("data.iris: {lifecycle: {on_remove: delete}}"), "res/iris.yml": data()})
    h.apply_ok()
    assert actions(h.plan(PlanOptions(destroy=True))) == {"data.iris": Action.ARCHIVE}


# -- prevent_destroy / ignore_changes / create_before_destroy -------------------------------------


def test_prevent_destroy_refuses_a_replacement(h: Harness) -> None:
    h.write({"mlplan.yaml": _settings("compute.cpu: {lifecycle: {prevent_destroy: true}}"), "res/cpu.yml": compute()})
    h.apply_ok()
    h.write({"res/cpu.yml": compute(size="large")})
    with pytest.raises(PlanError) as exc:
        h.plan()
    assert "prevent_destroy" in str(exc.value)
    assert "compute.cpu" in str(exc.value)


def test_prevent_destroy_allows_an_update(h: Harness) -> None:
    h.write({"mlplan.yaml": _settings("compute.cpu: {lifecycle: {prevent_destroy: true}}"), "res/cpu.yml": compute()})
    h.apply_ok()
    h.write({"res/cpu.yml": compute(max_instances=3)})
    assert actions(h.plan()) == {"compute.cpu": Action.UPDATE}


def test_ignore_changes_makes_an_ignored_field_a_no_op(h: Harness) -> None:
    h.write(
        {
            "mlplan.yaml": _settings("compute.cpu: {lifecycle: {ignore_changes: [description]}}"),
            "res/cpu.yml": compute(description="one"),
            "res/other.yml": compute("other", description="one"),
        }
    )
    h.apply_ok()
    h.write({"res/cpu.yml": compute(description="two"), "res/other.yml": compute("other", description="two")})
    plan = h.plan()
    assert actions(plan) == {"compute.cpu": Action.NO_OP, "compute.other": Action.UPDATE}
    h.write({"res/cpu.yml": compute(description="two", max_instances=4)})
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.UPDATE
    assert [c.path for c in change.changes] == ["max_instances"]


def test_create_before_destroy_creates_first(h: Harness) -> None:
    h.write(
        {
            "mlplan.yaml": _settings("compute.cpu: {lifecycle: {create_before_destroy: true}}"),
            "res/cpu.yml": compute(),
        }
    )
    h.apply_ok()
    old_id = h.state().resources["compute.cpu"].id
    h.write({"res/cpu.yml": compute(size="large")})
    change = by_address(h.plan())["compute.cpu"]
    assert change.action is Action.REPLACE
    assert change.replace_order == "create_first"
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.name) for c in h.provider.ops()] == [("create", "cpu"), ("delete", "cpu")]
    rs = h.state().resources["compute.cpu"]
    assert rs.id != old_id
    assert [s.id for s in h.provider.live("compute", "cpu")] == [rs.id]


# -- ttl -------------------------------------------------------------------------------------------


def _ttl_project(h: Harness) -> datetime:
    h.write({"mlplan.yaml": _settings("compute.dev: {lifecycle: {ttl: 24h}}"), "res/dev.yml": compute("dev")})
    h.apply_ok()
    return datetime.fromisoformat(h.state().resources["compute.dev"].created_at)


def test_ttl_not_expired_is_no_op(h: Harness) -> None:
    created = _ttl_project(h)
    plan = h.plan(PlanOptions(now=created + timedelta(hours=23)))
    assert actions(plan) == {"compute.dev": Action.NO_OP}


def test_ttl_expired_deletes_then_stays_reaped(h: Harness) -> None:
    created = _ttl_project(h)
    plan = h.plan(PlanOptions(now=created + timedelta(hours=25)))
    change = by_address(plan)["compute.dev"]
    assert change.action is Action.DELETE
    assert "ttl expired" in change.reason

    h.provider.reset()
    h.apply_ok(plan)
    assert [(c.op, c.name) for c in h.provider.ops()] == [("delete", "dev")]
    rs = h.state().resources["compute.dev"]
    assert rs.status == "reaped"

    # not recreated by the next plans, whatever the time
    for hours in (26, 100):
        later = h.plan(PlanOptions(now=created + timedelta(hours=hours)))
        assert actions(later) == {"compute.dev": Action.NO_OP}
    assert actions(h.plan()) == {"compute.dev": Action.NO_OP}

    # --replace brings it back
    replaced = h.plan(PlanOptions(replace=(Address("compute", "dev"),)))
    assert actions(replaced) == {"compute.dev": Action.CREATE}

    # so does a change of its inputs
    h.write({"res/dev.yml": compute("dev", max_instances=2)})
    changed = by_address(h.plan())["compute.dev"]
    assert changed.action is Action.CREATE
    h.provider.reset()
    h.apply_ok()
    assert [(c.op, c.name) for c in h.provider.ops()] == [("create", "dev")]
    rs = h.state().resources["compute.dev"]
    assert rs.status == "live"
    assert actions(h.plan()) == {"compute.dev": Action.NO_OP}


def test_a_deployment_reaped_by_ttl_gives_its_traffic_to_the_others_first(h: Harness) -> None:
    h.write(
        {
            "mlplan.yaml": _settings("online_deployment.web/blue: {lifecycle: {ttl: 24h}}"),
            "res/web.yml": endpoint(traffic={"blue": 70, "green": 30}),
            "res/blue.yml": deployment("blue"),
            "res/green.yml": deployment("green"),
        }
    )
    h.apply_ok()
    created = datetime.fromisoformat(h.state().resources["online_deployment.web/blue"].created_at)
    later = PlanOptions(now=created + timedelta(hours=25))
    plan = h.plan(later)
    changes = by_address(plan)
    assert changes["online_deployment.web/blue"].action is Action.DELETE
    shift = changes["traffic.web"]
    assert shift.action is Action.SHIFT_TRAFFIC
    assert shift.reason.startswith("blue deleted by ttl: traffic {green: 100}")
    h.provider.reset()
    h.apply_ok(plan)
    assert h.provider.ended_before_started("web", "web/blue"), "traffic moves off blue before blue is deleted"
    [split] = h.provider.live("traffic", "web")
    assert split.attributes["traffic"] == {"green": 100}
    # blue stays deleted, and so does its share, whatever the time
    for options in (later, PlanOptions()):
        assert {a: x for a, x in actions(h.plan(options)).items() if x is not Action.NO_OP} == {}
    # recreated on request: its share comes back after it exists
    again = h.plan(PlanOptions(replace=(Address("online_deployment", "web/blue"),)))
    assert by_address(again)["traffic.web"].action is Action.SHIFT_TRAFFIC
    h.provider.reset()
    h.apply_ok(again)
    assert h.provider.ended_before_started("web/blue", "web")
    [split] = h.provider.live("traffic", "web")
    assert split.attributes["traffic"] == {"blue": 70, "green": 30}


@pytest.mark.parametrize(
    "split,gone,expected",
    [
        ({"a": 50, "b": 30, "c": 20}, ["a"], {"b": 60, "c": 40}),
        ({"a": 34, "b": 33, "c": 33}, ["a"], {"b": 50, "c": 50}),
        ({"a": 1, "b": 33, "c": 33, "d": 33}, ["a"], {"b": 34, "c": 33, "d": 33}),
        ({"a": 100}, ["a"], {}),
        ({"a": 100, "b": 0}, ["a"], {}),
    ],
)
def test_rebalance_keeps_proportions_and_sums_to_100_or_0(
    split: dict[str, int], gone: list[str], expected: dict[str, int]
) -> None:
    from mlplan.engine.nodes.setting import rebalance

    assert rebalance(split, gone) == expected
