"""The resource graph: order, cycles, rendering, targets."""

from __future__ import annotations

import pytest

from mlplan.core.errors import ValidationFailed
from mlplan.engine.address import Address
from mlplan.engine.graph_render import to_dot, to_mermaid
from mlplan.engine.plan import Action
from mlplan.engine.planner import PlanOptions
from tests.unit.fakes import PROJECT, Harness, compute, data, deployment, endpoint, environment, job


def _project(h: Harness) -> None:
    h.write(
        {
            "res/cpu.yml": compute(),
            "res/other.yml": compute("other"),
            "res/env.yml": environment(),
            "res/iris.yml": data(),
            "res/train.yml": job(
                environment="azureml:env@latest",
                compute="azureml:cpu",
                inputs={"d": {"type": "uri_file", "path": "azureml:iris@latest"}},
            ),
            "res/web.yml": endpoint(),
            "res/blue.yml": deployment(environment="azureml:env@latest"),
        }
    )


def test_order_puts_dependencies_first(h: Harness) -> None:
    _project(h)
    _config, graph = h.load()
    order = graph.order()
    pos = {a: i for i, a in enumerate(order)}
    assert set(order) == set(graph.dag.nodes)
    for u, v in graph.dag.edges:
        assert pos[u] < pos[v], f"{u} must come before {v}"
    assert pos[Address("online_endpoint", "web")] < pos[Address("online_deployment", "web/blue")]
    assert graph.order() == order, "stable"


def test_plan_changes_follow_dependency_order(h: Harness) -> None:
    _project(h)
    plan = h.plan()
    pos = {c.address: i for i, c in enumerate(plan.changes)}
    for c in plan.changes:
        for dep in c.depends_on:
            assert pos[dep] < pos[c.address]


def test_cycle_error_lists_the_addresses(h: Harness) -> None:
    h.write(
        {
            "mlplan.yaml": PROJECT
            + "settings:\n"
            + "  compute.cpu-a: {depends_on: [compute.cpu-b]}\n"
            + "  compute.cpu-b: {depends_on: [compute.cpu-c]}\n"
            + "  compute.cpu-c: {depends_on: [compute.cpu-a]}\n",
            "res/a.yml": compute("cpu-a"),
            "res/b.yml": compute("cpu-b"),
            "res/c.yml": compute("cpu-c"),
            "res/d.yml": compute("cpu-d"),
        }
    )
    with pytest.raises(ValidationFailed) as exc:
        h.load()
    [diag] = exc.value.diagnostics
    assert "cycle" in diag.message
    for name in ("compute.cpu-a", "compute.cpu-b", "compute.cpu-c"):
        assert name in diag.message
    assert "compute.cpu-d" not in diag.message
    assert diag.hint


def test_depends_on_setting_adds_an_edge(h: Harness) -> None:
    h.write(
        {
            "mlplan.yaml": PROJECT + "settings:\n  compute.cpu-a: {depends_on: [compute.cpu-b]}\n",
            "res/a.yml": compute("cpu-a"),
            "res/b.yml": compute("cpu-b"),
        }
    )
    _config, graph = h.load()
    assert (Address("compute", "cpu-b"), Address("compute", "cpu-a")) in graph.dag.edges


def test_mermaid_and_dot_contain_the_edges(h: Harness) -> None:
    _project(h)
    h.provider.preload("compute", "gpu")
    h.write({"res/score.yml": job("score", compute="azureml:gpu")})
    _config, graph = h.load()
    mermaid = to_mermaid(graph)
    dot = to_dot(graph)
    assert mermaid.startswith("flowchart")
    assert "n_environment_env --> n_job_train" in mermaid
    assert "n_online_endpoint_web --> n_online_deployment_web_blue" in mermaid
    assert '"environment.env" -> "job.train";' in dot
    assert '"online_endpoint.web" -> "online_deployment.web/blue";' in dot
    assert '"compute.gpu" -> "job.score";' in dot
    assert "compute.gpu (data source)" in mermaid
    for u, v in graph.dag.edges:
        assert f'"{u}" -> "{v}";' in dot


# -- targets ---------------------------------------------------------------------------------


def test_target_keeps_the_target_and_its_dependencies_only(h: Harness) -> None:
    _project(h)
    plan = h.plan(PlanOptions(targets=(Address("job", "train"),)))
    assert {str(c.address) for c in plan.changes} == {"job.train", "environment.env", "compute.cpu", "data.iris"}
    # a job is a run whatever the provider (core.kinds): it trains, the rest is created
    assert all(c.action is (Action.TRAIN if c.address.kind == "job" else Action.CREATE) for c in plan.changes)


def test_target_does_not_pull_in_dependents(h: Harness) -> None:
    _project(h)
    plan = h.plan(PlanOptions(targets=(Address("environment", "env"),)))
    assert [str(c.address) for c in plan.changes] == ["environment.env"]


def test_targeted_apply_touches_only_the_targets(h: Harness) -> None:
    _project(h)
    h.apply_ok(plan_options=PlanOptions(targets=(Address("online_deployment", "web/blue"),)))
    assert sorted(h.state().resources) == ["environment.env", "online_deployment.web/blue", "online_endpoint.web"]
    assert {(c.kind, c.name) for c in h.provider.ops()} == {
        ("environment", "env"),
        ("online_endpoint", "web"),
        ("online_deployment", "web/blue"),
    }
