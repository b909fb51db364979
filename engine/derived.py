"""Resources derived from others: the assets a job registers from its named outputs, an endpoint's
``traffic:`` split as its own ``traffic`` resource; and what an asset written with a job's output as its
``path:`` is produced by.

``DERIVATIONS`` maps a source kind to the function that derives resources from one resource of that kind;
adding a derivation is one function and one entry. A derived resource has no file of its own: its
``derived_from`` names the resource whose file it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mlplan.core import kinds
from mlplan.core.errors import Diagnostic
from mlplan.core.suggest import did_you_mean
from mlplan.engine import references
from mlplan.engine.address import Address
from mlplan.engine.config import ResourceSpec

# (the source resource, every resource loaded from files, diagnostics) -> the resources derived from it
Derivation = Callable[[ResourceSpec, Mapping[Address, ResourceSpec], list[Diagnostic]], list[ResourceSpec]]

OUTPUT_KINDS = kinds.TYPE_KINDS  # a job output's type -> the kind of asset it registers


def job_outputs(
    job: ResourceSpec, _resources: Mapping[Address, ResourceSpec], out: list[Diagnostic]
) -> list[ResourceSpec]:
    """Each job output with a ``name:`` registers an asset (a model or data version) once the job has run: an
    asset whose ``path`` is the job's output, as if written ``path: azureml://jobs/<job>/outputs/<output>``."""
    found = []
    for output, decl in (job.spec.get("outputs") or {}).items():
        if not isinstance(decl, dict) or not decl.get("name"):
            continue
        otype = str(decl.get("type", "uri_folder")).lower()
        kind = OUTPUT_KINDS.get(otype)
        if kind is None:
            out.append(
                job.diag(
                    f"output {output!r}: type {otype!r} cannot be registered",
                    ("outputs", output, "type"),
                    hint=f"use one of {', '.join(OUTPUT_KINDS)}",
                )
            )
            continue
        spec = {
            "name": str(decl["name"]),
            "type": otype,
            "path": f"azureml://jobs/{job.address.name}/outputs/{output}",
        }
        for key in ("version", "description", "tags"):
            if key in decl:
                spec[key] = decl[key]
        found.append(
            ResourceSpec(
                address=Address(kind, str(decl["name"])),
                spec=spec,
                file=job.file,
                line=job.line_of(("outputs", output)),
                base_dir=job.base_dir,
                subtype=otype,
                lines=job.lines.sub("outputs", output) if job.lines is not None else None,
                implicit_deps=(job.address,),
                produced_by=job.address,
                derived_from=job.address,
            )
        )
    return found


def traffic_split(
    endpoint: ResourceSpec, resources: Mapping[Address, ResourceSpec], out: list[Diagnostic]
) -> list[ResourceSpec]:
    """An endpoint's ``traffic:`` becomes its own step, after every deployment of the endpoint."""
    traffic = endpoint.spec.get("traffic")
    if traffic is None:
        return []
    name = endpoint.address.name
    kind = endpoint.address.kind
    deployments = sorted(a for a in resources if kinds.facts(a.kind).parent == kind and a.name.startswith(name + "/"))
    known = {a.name.split("/", 1)[1] for a in deployments}
    if not isinstance(traffic, dict) or not all(isinstance(v, int) and 0 <= v <= 100 for v in traffic.values()):
        out.append(
            endpoint.diag(
                "traffic must map deployment names to whole percentages",
                ("traffic",),
                hint="e.g. traffic: {blue: 90, green: 10}",
            )
        )
        return []
    unknown = sorted(set(traffic) - known)
    if unknown:
        out.append(
            endpoint.diag(
                f"traffic names {', '.join(unknown)}, which is not a deployment of endpoint {name}"
                + did_you_mean(unknown[0], known),
                ("traffic",),
                hint=f"deployments of {name} in this project: {', '.join(sorted(known)) or 'none'}",
            )
        )
        return []
    total = sum(traffic.values())
    if total not in (0, 100):
        out.append(
            endpoint.diag(
                f"traffic adds up to {total}; it must add up to 100 (or 0)", ("traffic",), hint="adjust the percentages"
            )
        )
        return []
    return [
        ResourceSpec(
            address=Address("traffic", name),
            spec={"endpoint_name": name, "traffic": dict(traffic)},
            file=endpoint.file,
            line=endpoint.line_of(("traffic",)),
            base_dir=endpoint.base_dir,
            implicit_deps=(endpoint.address, *deployments),
            derived_from=endpoint.address,
        )
    ]


# source kind -> how resources are derived from one resource of that kind
DERIVATIONS: dict[str, Derivation] = {
    "job": job_outputs,
    "online_endpoint": traffic_split,
}


def derive(resources: dict[Address, ResourceSpec], out: list[Diagnostic]) -> None:
    """Add the resources derived from those loaded from files; one that a file also defines is an error."""
    found: list[ResourceSpec] = []
    for res in list(resources.values()):
        derivation = DERIVATIONS.get(res.address.kind)
        if derivation is not None:
            found += derivation(res, resources, out)
    for spec in found:
        if spec.address in resources:
            other = resources[spec.address]
            out.append(
                spec.diag(
                    f"{spec.address} is produced by {spec.file} and also defined in {other.file}:{other.line}",
                    hint="remove one of the two definitions (a job output with a name registers the asset)",
                )
            )
            continue
        resources[spec.address] = spec
    for res in resources.values():
        res.produced_by = res.produced_by or producer(res)


def producer(res: ResourceSpec) -> Address | None:
    """The job whose output an asset is registered from, when its ``path`` is one (a job of the project,
    or a run in the workspace): what it holds is only known once it is registered."""
    if not kinds.facts(res.address.kind).versioned or "path" not in kinds.facts(res.address.kind).path_fields:
        return None
    path = res.spec.get("path")
    ref = references.parse(path, ("path",)) if isinstance(path, str) else None
    return ref.target if isinstance(ref, references.Reference) and ref.output is not None else None
