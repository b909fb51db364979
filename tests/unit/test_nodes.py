"""Node kinds, each planned and applied through the recording fake: a run and the asset it registers, a
run's inputs, a setting, and the "condition not met" outcome a node kind can end with."""

from __future__ import annotations

import pytest

from mlplan.core.errors import ValidationFailed
from mlplan.engine import nodes
from mlplan.engine.address import Address
from mlplan.engine.nodes.base import ApplyContext, Outcome
from mlplan.engine.nodes.run import RunNode
from mlplan.engine.plan import Action, ResourceChange
from mlplan.engine.planner import PlanOptions
from tests.unit.fakes import Harness, actions, by_address, data, deployment, endpoint, job, model

TRAINED = {
    "res/train.yml": job(outputs={"model": {"type": "custom_model", "name": "clf"}}),
    "res/web.yml": endpoint(),
    "res/blue.yml": deployment(model="azureml:clf@latest"),
}


def _changes(h: Harness, **kw: object) -> dict[str, Action]:
    return {a: x for a, x in actions(h.plan(PlanOptions(**kw))).items() if x is not Action.NO_OP}


def test_a_run_registers_its_output_from_the_run_apply_made(h: Harness) -> None:
    h.write(TRAINED)
    plan = h.plan()
    model = by_address(plan)["model.clf"]
    assert model.action is Action.CREATE and model.reason == "registered from the new run of job.train"
    assert [(b.path, str(b.source), b.template) for b in model.bindings] == [
        (("spec", "path"), "job.train", "azureml://jobs/{run}/outputs/model")
    ]
    h.apply_ok(plan)
    run = h.state().resources["job.train"].outputs["run"]
    [create] = [c for c in h.provider.ops("create") if c.name == "clf"]
    assert create.spec is not None and create.spec["path"] == f"azureml://jobs/{run}/outputs/model"
    assert _changes(h) == {}


def test_a_targeted_run_is_followed_by_its_dependents_in_the_next_plan(h: Harness) -> None:
    """`apply --target job.train` trains; the model still comes from the previous run: the next plan
    registers the new run's output and updates the deployment that serves it (it used to say no changes)."""
    h.write(TRAINED)
    h.apply_ok()
    h.write({"res/train.yml": job(command="python train.py --better", outputs=TRAINED_OUTPUTS)})
    targeted = h.plan(PlanOptions(targets=(Address("job", "train"),)))
    assert actions(targeted) == {"job.train": Action.TRAIN}
    h.apply_ok(targeted)
    run = h.state().resources["job.train"].outputs["run"]
    plan = h.plan()
    assert actions(plan)["model.clf"] is Action.NEW_VERSION
    assert by_address(plan)["model.clf"].reason == f"job.train has a run ({run}) this version was not registered from"
    assert actions(plan)["online_deployment.web/blue"] is Action.UPDATE
    h.apply_ok(plan)
    assert h.state().resources["online_deployment.web/blue"].attributes["model"] == "azureml:clf:2"
    assert _changes(h) == {}


TRAINED_OUTPUTS = {"model": {"type": "custom_model", "name": "clf"}}

# model.clf written in a file of its own, registered from job.train's output by its URI
BY_URI = {
    "res/train.yml": job(outputs={"model": {"type": "custom_model"}}),
    "res/clf.yml": model(type="custom_model", path="azureml://jobs/train/outputs/model"),
}


def test_an_asset_whose_path_is_a_job_output_is_registered_from_the_run(h: Harness) -> None:
    """`path: azureml://jobs/train/outputs/model` is what a job output with `name:` is: the asset depends on
    the job and is registered from the run apply makes (it used to fail at apply: content.path added)."""
    h.write(BY_URI)
    config, graph = h.load()
    assert config.resources[Address("model", "clf")].produced_by == Address("job", "train")
    assert (Address("job", "train"), Address("model", "clf")) in graph.dag.edges
    plan = h.plan()
    clf = by_address(plan)["model.clf"]
    assert clf.action is Action.CREATE and clf.reason == "registered from the new run of job.train"
    assert [(b.path, str(b.source), b.template) for b in clf.bindings] == [
        (("spec", "path"), "job.train", "azureml://jobs/{run}/outputs/model")
    ]
    h.apply_ok(plan)
    run = h.state().resources["job.train"].outputs["run"]
    [create] = [c for c in h.provider.ops("create") if c.name == "clf"]
    assert create.spec is not None and create.spec["path"] == f"azureml://jobs/{run}/outputs/model"
    assert _changes(h) == {}
    h.write({"res/train.yml": job(command="python train.py --v2", outputs={"model": {"type": "custom_model"}})})
    assert _changes(h) == {"job.train": Action.TRAIN, "model.clf": Action.NEW_VERSION}


def test_a_job_reading_another_jobs_output_reads_its_run(h: Harness) -> None:
    inputs = {"m": {"type": "custom_model", "path": "azureml://jobs/train/outputs/model"}}
    h.write({**BY_URI, "res/score.yml": job("score", inputs=inputs)})
    h.apply_ok()
    run = h.state().resources["job.train"].outputs["run"]
    [score] = [c for c in h.provider.ops("create") if c.name == "score"]
    assert score.spec is not None and score.spec["inputs"]["m"]["path"] == f"azureml://jobs/{run}/outputs/model"
    h.write({"res/train.yml": job(command="python train.py --v2", outputs={"model": {"type": "custom_model"}})})
    assert _changes(h)["job.score"] is Action.TRAIN, "a new run upstream is a new input"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (
            "azureml://jobs/train/outputs/modle",
            "output 'modle' of job.train, which has no such output; did you mean 'model'?",
        ),
        ("azureml://jobs/trian/outputs/model", "did you mean 'azureml://jobs/train/outputs/model'?"),
    ],
    ids=["output", "job"],
)
def test_a_job_output_nobody_makes_is_refused_at_plan_time(h: Harness, path: str, says: str) -> None:
    h.write({**BY_URI, "res/clf.yml": model(type="custom_model", path=path)})
    with pytest.raises(ValidationFailed) as exc:
        h.plan()
    [diag] = exc.value.diagnostics
    assert says in diag.message
    assert (diag.file, diag.line, diag.address) == ("res/clf.yml", 3, "model.clf")  # path:
    assert diag.hint is not None
    assert not h.provider.ops()


def test_an_asset_registered_from_a_run_of_the_workspace_reads_that_run(h: Harness) -> None:
    h.provider.preload("job", "old-run", {"command": "python train.py"})
    h.write({"res/clf.yml": model(type="custom_model", path="azureml://jobs/old-run/outputs/model")})
    plan = h.plan()
    assert actions(plan) == {"job.old-run": Action.READ, "model.clf": Action.CREATE}
    assert by_address(plan)["model.clf"].reason == "registered from run old-run of the workspace"
    h.apply_ok(plan)
    [create] = [c for c in h.provider.ops("create") if c.name == "clf"]
    assert create.spec is not None and create.spec["path"] == "azureml://jobs/old-run/outputs/model"
    assert _changes(h) == {"job.old-run": Action.READ}


def test_a_run_counts_the_versions_it_reads_as_inputs(h: Harness) -> None:
    h.write(
        {
            "res/iris.yml": data(),
            "res/train.yml": job(inputs={"d": {"type": "uri_file", "path": "azureml:iris@latest"}}),
        }
    )
    h.apply_ok()
    assert _changes(h) == {}
    (h.root / "files/iris.csv").write_text("a,b\n9,9\n")
    plan = h.plan()
    train = by_address(plan)["job.train"]
    assert train.action is Action.TRAIN
    assert "data.iris changes in this plan" in train.reason
    h.apply_ok(plan)
    [create] = [c for c in h.provider.ops("create") if c.name == "train"][-1:]
    assert create.spec is not None and create.spec["inputs"]["d"]["path"] == "azureml:iris:2"


def test_a_run_counts_depends_on_inputs_but_not_a_bigger_cluster(h: Harness) -> None:
    from tests.unit.fakes import PROJECT, compute

    settings = PROJECT + "settings:\n  job.train: {depends_on: [data.iris]}\n"
    h.write(
        {
            "mlplan.yaml": settings,
            "res/iris.yml": data(),
            "res/cpu.yml": compute(),
            "res/train.yml": job(compute="azureml:cpu"),
        }
    )
    h.apply_ok()
    train = h.state().resources["job.train"]
    h.write({"res/cpu.yml": compute(max_instances=4)})
    assert _changes(h) == {"compute.cpu": Action.UPDATE}, "a bigger cluster retrains nothing"
    h.apply_ok()
    (h.root / "files/iris.csv").write_text("a,b\n5,5\n")
    assert _changes(h) == {"data.iris": Action.NEW_VERSION, "job.train": Action.TRAIN}
    h.apply_ok()
    assert h.state().resources["job.train"].input_hash != train.input_hash


def test_a_traffic_setting_is_set_as_planned(h: Harness) -> None:
    h.write({"res/web.yml": endpoint(traffic={"blue": 100}), "res/blue.yml": deployment()})
    plan = h.plan()
    split = by_address(plan)["traffic.web"]
    assert split.action is Action.SHIFT_TRAFFIC and split.desired is not None
    assert split.desired.spec["traffic"] == {"blue": 100}
    h.apply_ok(plan)
    [stored] = h.provider.live("traffic", "web")
    assert stored.attributes["traffic"] == {"blue": 100}
    h.write({"res/web.yml": endpoint()})  # traffic: removed from the file
    forget = by_address(h.plan())["traffic.web"]
    assert forget.action is Action.FORGET and "left as it is" in forget.reason


class _Gate(RunNode):
    """A node kind that ends "condition not met" (as a rejected challenger will): nothing is trained."""

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        return Outcome(not_met="accuracy 0.61 is below the 0.90 the policy asks for")


def test_a_condition_not_met_skips_the_dependents_and_is_not_a_failure(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(nodes.NODE_KINDS, "run", _Gate())  # registering a node kind is one entry
    h.write(TRAINED)
    result = h.apply()
    assert result.ok, "a condition not met is not a failure"
    assert result.not_met == {"job.train": "accuracy 0.61 is below the 0.90 the policy asks for"}
    assert sorted(result.skipped) == ["model.clf", "online_deployment.web/blue"]
    assert result.why_skipped["model.clf"].startswith("job.train: accuracy 0.61")
    assert sorted(result.done) == ["online_endpoint.web"]
    state = h.state()
    assert "job.train" not in state.resources and not state.pending


def test_a_state_written_by_format_1_retrains_nothing_for_the_change_of_hash_formula(h: Harness) -> None:
    import json

    from mlplan.engine.desired import ContentCache
    from mlplan.engine.legacy import legacy_hashes

    h.write({**TRAINED, "res/iris.yml": data()})
    h.apply_ok()
    config, graph = h.load()
    old = legacy_hashes(config, graph, ContentCache())
    doc = json.loads(h.backend.path.read_text())
    doc["format_version"] = 1
    for addr, rs in doc["resources"].items():
        rs["input_hash"] = old[Address.parse(addr)]  # as format 1 wrote them
    h.backend.path.write_text(json.dumps(doc))
    h.backend.journal_path.unlink(missing_ok=True)
    assert h.state().resources["job.train"].input_hash.startswith("v1:")
    assert _changes(h) == {}, "an upgrade alone trains nothing"
    h.write({"res/train.yml": job(command="python train.py --v2", outputs=TRAINED_OUTPUTS)})
    assert _changes(h) == {
        "job.train": Action.TRAIN,
        "model.clf": Action.NEW_VERSION,
        "online_deployment.web/blue": Action.UPDATE,
    }
