"""Promotion policies (mlplan.yaml ``promotion:``) as nodes of the graph.

A policy for model M governing endpoint E becomes the node ``promotion.M``. The deployments of E that
serve ``azureml:M@latest`` serve M's *champion* instead: their model reference resolves through
``promotion.M`` (whose result is the champion version), so a new version of M reaches them only when the
promotion node promotes it. ``promotion.M``'s spec carries everything its evaluation uses: the challenger
(``azureml:M@latest``), the evaluation data, the statistical policy with its defaults, the request shape,
and ``challenger``: the spec of the temporary deployment the challenger is scored through (a copy of the
deployment that serves the champion, under another name), so that the plan shows it and apply uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from hashlib import sha256
from typing import Any

from mlplan.core.errors import Diagnostic
from mlplan.engine import references
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, ResourceSpec
from mlplan.engine.interpolate import line_for_path
from mlplan.engine.promotion import Policy

DEFAULT_BATCH = 100
MAX_NAME = 32  # Azure ML online deployment names: 3-32 characters


def challenger_name(deployment: str) -> str:
    """The temporary deployment's name: ``<deployment>-challenger``, or a short stable one when too long."""
    name = f"{deployment}-challenger"
    return name if len(name) <= MAX_NAME else f"challenger-{sha256(deployment.encode()).hexdigest()[:12]}"


def derive(
    policies: Mapping[str, Any], body: Any, resources: dict[Address, ResourceSpec], out: list[Diagnostic]
) -> None:
    """Add ``promotion.<model>`` for each policy whose model and endpoint the project has (other policies
    are reported by project.check_promotion), and route the governed deployments' model through it."""
    for model, policy in sorted(policies.items()):
        model_address = Address("model", str(model))
        if not isinstance(policy, Mapping) or model_address not in resources:
            continue
        endpoint = Address("online_endpoint", str(policy.get("endpoint", "")))
        try:
            stats = Policy.from_config(policy)
        except ValueError:  # reported with its line by project.check_promotion
            continue
        if endpoint not in resources:
            continue
        line = line_for_path(body, ("promotion", str(model))) or 1
        governed = _governed(model_address, endpoint, resources, out)
        if not governed:
            out.append(
                Diagnostic(
                    f"promotion policy for model {model}: no deployment of endpoint {endpoint.name} serves"
                    f" azureml:{model}@latest",
                    file=PROJECT_FILE,
                    line=line,
                    address=f"promotion.{model}",
                    hint=f"write `model: azureml:{model}@latest` in the deployment the policy governs",
                )
            )
            continue
        template = _champion_deployment(governed, resources[endpoint])
        address = Address("promotion", str(model))
        for dep in governed:
            dep.via = {**dep.via, ("model",): address}
        short = template.address.name.split("/", 1)[1]
        challenger = {**template.spec, "name": challenger_name(short)}
        challenger.pop("$schema", None)
        spec = {
            "model": f"azureml:{model}@latest",
            "endpoint": endpoint.name,
            "deployment": short,
            "evaluation_data": policy.get("evaluation_data"),
            "label_column": policy.get("label_column"),
            "policy": dataclasses.asdict(stats),
            "scoring": policy.get("scoring", "default"),
            "batch_size": int(policy.get("batch_size", DEFAULT_BATCH)),
            "challenger": challenger,
        }
        deps = {endpoint} | {
            r.target
            for r in references.find(template.spec)
            if isinstance(r, references.Reference) and r.target in resources and r.target != model_address
        }
        resources[address] = ResourceSpec(
            address=address,
            spec=spec,
            file=PROJECT_FILE,
            line=line,
            base_dir=template.base_dir,
            implicit_deps=tuple(sorted(deps, key=str)),
            produced_by=model_address,  # what it decides (the champion) is known once it has evaluated
            derived_from=model_address,
        )


def _governed(
    model: Address, endpoint: Address, resources: Mapping[Address, ResourceSpec], out: list[Diagnostic]
) -> list[ResourceSpec]:
    """The deployments of ``endpoint`` whose ``model:`` is ``azureml:<model>@latest``; one that pins another
    version of the model is an error (the policy decides which version serves)."""
    found = []
    for address, res in sorted(resources.items(), key=lambda kv: str(kv[0])):
        if address.kind != "online_deployment" or address.parent != endpoint:
            continue
        value = res.spec.get("model")
        ref = references.parse(value, ("model",)) if isinstance(value, str) else None
        if not isinstance(ref, references.Reference) or ref.target != model:
            continue
        if not ref.is_latest:
            out.append(
                res.diag(
                    f"model {value} pins a version of {model.name}, whose promotion policy decides which version"
                    f" endpoint {endpoint.name} serves",
                    ("model",),
                    hint=f"write `model: azureml:{model.name}@latest`: it then serves the champion",
                )
            )
            continue
        found.append(res)
    return found


def _champion_deployment(governed: list[ResourceSpec], endpoint: ResourceSpec) -> ResourceSpec:
    """The governed deployment with the largest share of the endpoint's declared traffic (then by name):
    the challenger is a copy of it, and the champion is scored through it."""
    traffic = endpoint.spec.get("traffic") or {}

    def share(res: ResourceSpec) -> int:
        value = traffic.get(res.address.name.split("/", 1)[1], 0) if isinstance(traffic, Mapping) else 0
        return value if isinstance(value, int) else 0

    return sorted(governed, key=lambda r: (-share(r), str(r.address)))[0]
