"""Loading resource files: names from the kind facts, resources derived from others and what they come from."""

from __future__ import annotations

from mlplan.engine.address import Address
from tests.unit.fakes import SCHEMA, Harness, deployment, endpoint, job


def test_derived_resources_name_their_source(h: Harness) -> None:
    h.write(
        {
            "res/train.yml": job(
                outputs={"m": {"type": "custom_model", "name": "clf"}, "scratch": {"type": "uri_folder"}}
            ),
            "res/web.yml": endpoint(traffic={"blue": 100}),
            "res/blue.yml": deployment(),
        }
    )
    config, _graph = h.load()
    derived = {str(a): r.derived_from for a, r in config.resources.items() if r.derived_from is not None}
    assert derived == {"model.clf": Address("job", "train"), "traffic.web": Address("online_endpoint", "web")}
    assert config.resources[Address("model", "clf")].produced_by == Address("job", "train")
    assert config.resources[Address("traffic", "web")].produced_by is None


def test_names_follow_the_kind_facts(h: Harness) -> None:
    h.write(
        {
            "res/nightly.yml": job().replace("name: train\n", ""),  # a job is named after its file
            "res/main.template.yml": f"$schema: {SCHEMA.format('deploymentTemplate')}\ntemplate: ./t.json\n",
            "res/t.json": "{}",
            "res/blue.yml": deployment(endpoint_name="iris"),  # a deployment is named after its endpoint
        }
    )
    config, _graph = h.load()
    assert {str(a) for a in config.resources} == {
        "job.nightly",
        "arm_deployment.main",
        "online_deployment.iris/blue",
    }
