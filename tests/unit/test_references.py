"""References between resources: graph edges, (known after apply), data sources, bad references."""

from __future__ import annotations

import pytest

from mlplan.core.errors import MlplanError, ValidationFailed
from mlplan.engine.address import Address
from mlplan.engine.plan import UNKNOWN, Action
from tests.unit.fakes import Harness, actions, by_address, compute, data, deployment, endpoint, environment, job, model

ENV = Address("environment", "env")
CPU = Address("compute", "cpu")
IRIS = Address("data", "iris")
TRAIN = Address("job", "train")
EP = Address("online_endpoint", "web")
BLUE = Address("online_deployment", "web/blue")
URI = "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/environments/env/versions/1"


def _edges(h: Harness) -> set[tuple[Address, Address]]:
    _config, graph = h.load()
    return set(graph.dag.edges)


@pytest.mark.parametrize(
    "ref",
    ["azureml:env:1", "azureml:env@latest", URI, "azureml:env"],
    ids=["name:version", "@latest", "uri", "bare"],
)
def test_environment_reference_forms_make_an_edge_to_the_managed_env(h: Harness, ref: str) -> None:
    # a version is the project's when the environment declares it
    h.write({"res/env.yml": environment(version="1"), "res/train.yml": job(environment=ref)})
    _config, graph = h.load()
    assert (ENV, TRAIN) in graph.dag.edges
    assert graph.dag.nodes[ENV]["managed"] is True
    assert not graph.data_sources, "a managed target is not a data source"
    assert [r.target for r in graph.refs[TRAIN]] == [ENV]


def test_job_references_compute_data_and_env_and_deployment_its_endpoint(h: Harness) -> None:
    h.write(
        {
            "res/cpu.yml": compute(),
            "res/env.yml": environment(version="1"),
            "res/iris.yml": data(version="1"),
            "res/train.yml": job(
                environment="azureml:env:1",
                compute="azureml:cpu",
                inputs={"d": {"type": "uri_file", "path": "azureml:iris:1"}},
            ),
            "res/web.yml": endpoint(),
            "res/blue.yml": deployment(environment=URI),
        }
    )
    assert _edges(h) >= {(ENV, TRAIN), (CPU, TRAIN), (IRIS, TRAIN), (EP, BLUE), (ENV, BLUE)}
    plan = h.plan()
    assert set(by_address(plan)["job.train"].depends_on) == {CPU, IRIS, ENV}
    assert set(by_address(plan)["online_deployment.web/blue"].depends_on) == {EP, ENV}


def test_latest_of_a_new_env_version_is_known_after_apply_and_resolved_at_apply(h: Harness) -> None:
    h.write(
        {
            "res/env.yml": environment(),
            "res/web.yml": endpoint(),
            "res/blue.yml": deployment(environment="azureml:env@latest"),
        }
    )
    first = by_address(h.plan())["online_deployment.web/blue"]
    assert first.after is not None and first.after["environment"] == UNKNOWN
    h.apply_ok()
    [created] = [c for c in h.provider.ops("create") if c.kind == "online_deployment"]
    assert created.spec is not None and created.spec["environment"] == "azureml:env:1"

    h.write({"files/conda.yml": "name: env\ndependencies: [python=3.12]\n"})
    plan = h.plan()
    assert actions(plan)["environment.env"] is Action.NEW_VERSION
    dep = by_address(plan)["online_deployment.web/blue"]
    assert dep.action is Action.UPDATE
    assert dep.before is not None and dep.before["environment"] == "azureml:env:1"
    assert dep.after is not None and dep.after["environment"] == UNKNOWN
    assert [c.path for c in dep.changes] == ["environment"]
    assert actions(plan)["online_endpoint.web"] is Action.NO_OP

    h.provider.reset()
    h.apply_ok(plan)
    ops = h.provider.ops()
    assert [(c.op, c.kind, c.version) for c in ops] == [
        ("create", "environment", "2"),
        ("update", "online_deployment", None),
    ]
    assert ops[1].spec is not None and ops[1].spec["environment"] == "azureml:env:2"
    assert h.state().resources["online_deployment.web/blue"].attributes["environment"] == "azureml:env:2"
    assert set(actions(h.plan()).values()) == {Action.NO_OP}


def test_unmanaged_reference_is_a_read_data_source(h: Harness) -> None:
    h.provider.preload("compute", "gpu", {"size": "big"})
    h.write({"res/train.yml": job(compute="azureml:gpu")})
    _config, graph = h.load()
    assert graph.dag.nodes[Address("compute", "gpu")]["managed"] is False
    plan = h.plan()
    read = by_address(plan)["compute.gpu"]
    assert read.action is Action.READ
    assert not read.action.changes
    assert by_address(plan)["job.train"].action is Action.TRAIN


def test_unmanaged_versioned_reference_is_a_read_data_source(h: Harness) -> None:
    h.provider.preload("environment", "shared", {"image": "x"}, version="3")
    h.write({"res/train.yml": job(environment="azureml:shared:3")})
    plan = h.plan()
    reads = [c for c in plan.changes if c.action is Action.READ]
    assert len(reads) == 1 and reads[0].address.kind == "environment"
    assert "shared" in str(reads[0].address)


def test_missing_unmanaged_reference_fails_the_plan_naming_it(h: Harness) -> None:
    h.write({"res/train.yml": job(compute="azureml:nowhere")})
    with pytest.raises(MlplanError) as exc:
        h.plan()
    rendered = exc.value.render()
    assert "azureml:nowhere" in rendered
    assert "job.train" in rendered, "says which resource uses it"


def test_missing_unmanaged_versioned_reference_fails_the_plan_naming_it(h: Harness) -> None:
    h.write({"res/train.yml": job(environment="azureml:ghost:7")})
    with pytest.raises(MlplanError) as exc:
        h.plan()
    assert "azureml:ghost:7" in exc.value.render()


def test_bare_model_reference_is_an_error_with_a_hint(h: Harness) -> None:
    h.write({"res/clf.yml": model(), "res/web.yml": endpoint(), "res/blue.yml": deployment(model="azureml:clf")})
    with pytest.raises(ValidationFailed) as exc:
        h.load()
    [diag] = exc.value.diagnostics
    assert diag.address == "online_deployment.web/blue"
    assert diag.file == "res/blue.yml" and diag.line is not None
    assert "without a version" in diag.message
    assert diag.hint is not None and "azureml:clf:<version>" in diag.hint and "azureml:clf@latest" in diag.hint


def test_another_version_of_a_project_asset_is_a_pinned_data_source(h: Harness) -> None:
    """`azureml:env:1` when the project's env is at version 2: the version that exists, read and pinned, and
    no edge: the job keeps reading version 1 whatever the project registers next."""
    h.write({"res/env.yml": environment()})
    h.apply_ok()
    h.write(
        {
            "files/conda.yml": "name: env\ndependencies: [python=3.12]\n",
            "res/train.yml": job(environment="azureml:env:1"),
        }
    )
    _config, graph = h.load()
    assert Address("environment", "env:1") in graph.data_sources
    assert (ENV, TRAIN) not in graph.dag.edges
    plan = h.plan()
    read = by_address(plan)["environment.env:1"]
    assert read.action is Action.READ and read.pin is not None and read.pin.version == "1"
    assert actions(plan)["environment.env"] is Action.NEW_VERSION
    h.apply_ok(plan)
    [train] = [c for c in h.provider.ops("create") if c.name == "train"]  # no edge: env:2 may be made after it
    assert train.spec is not None and train.spec["environment"] == "azureml:env:1"


def test_a_version_the_project_never_registers_is_refused_at_plan_time(h: Harness) -> None:
    h.write({"res/clf.yml": model()})
    h.apply_ok()
    h.write({"res/ep.yml": endpoint(), "res/blue.yml": deployment(model="azureml:clf:7")})
    h.provider.reset()
    with pytest.raises(ValidationFailed) as exc:
        h.plan()
    [diag] = exc.value.diagnostics
    assert (diag.file, diag.line, diag.address) == ("res/blue.yml", 6, "online_deployment.web/blue")  # model:
    assert "version 7 of model clf, which this project registers (res/clf.yml:1)" in diag.message
    assert "the workspace has version 1" in diag.message
    assert diag.hint is not None and "azureml:clf@latest" in diag.hint and "version: 7" in diag.hint
    assert not h.provider.ops("create") and not h.provider.ops("update")


def test_a_declared_version_is_the_projects_even_before_it_exists(h: Harness) -> None:
    h.write(
        {"res/clf.yml": model(version="7"), "res/ep.yml": endpoint(), "res/blue.yml": deployment(model="azureml:clf:7")}
    )
    _config, graph = h.load()
    assert (Address("model", "clf"), BLUE) in graph.dag.edges and not graph.data_sources
    h.apply_ok()
    assert h.state().resources["online_deployment.web/blue"].attributes["model"] == "azureml:clf:7"


def test_a_missing_reference_suggests_the_projects_closest_name(h: Harness) -> None:
    h.write(
        {"res/iris.yml": data(), "res/train.yml": job(inputs={"d": {"type": "uri_file", "path": "azureml:irs@latest"}})}
    )
    with pytest.raises(ValidationFailed) as exc:
        h.plan()
    [diag] = exc.value.diagnostics
    assert diag.message == (
        "azureml:irs@latest refers to a data asset that neither this project nor the workspace has;"
        " did you mean 'azureml:iris@latest'?"
    )
    assert (diag.file, diag.address) == ("res/train.yml", "job.train")
    assert diag.hint is not None and "res/iris.yml" in diag.hint
