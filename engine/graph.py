"""The resource graph: a networkx DiGraph whose edges run from a dependency to its dependents.

Built in small named steps: nodes -> references -> depends_on -> parents -> acyclic check.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import networkx as nx

from mlplan.core import kinds
from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.core.suggest import did_you_mean
from mlplan.engine import references
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, Config, ResourceSpec
from mlplan.engine.references import BadReference, Reference


@dataclass
class Graph:
    dag: nx.DiGraph
    refs: dict[Address, list[Reference]] = field(default_factory=dict)
    data_sources: dict[Address, Reference] = field(default_factory=dict)
    # where each data source is first referenced: (file, line, address of the referencing resource)
    source_where: dict[Address, tuple[str, int, str]] = field(default_factory=dict)
    _order: list[Address] | None = None

    def dependencies(self, address: Address) -> list[Address]:
        return sorted(self.dag.predecessors(address))

    def order(self) -> list[Address]:
        """Dependencies first, generation by generation; each generation by address, for a stable plan."""
        if self._order is None:
            self._order = [a for gen in nx.topological_generations(self.dag) for a in sorted(gen, key=str)]
        return self._order


def build(config: Config) -> Graph:
    diags: list[Diagnostic] = []
    graph = Graph(nx.DiGraph())
    _add_nodes(config, graph)
    _add_references(config, graph, diags)
    _add_depends_on(config, graph)
    _add_parents(config, graph)
    if diags:
        raise ValidationFailed(diags)
    _check_acyclic(config, graph)
    return graph


def _add_nodes(config: Config, graph: Graph) -> None:
    for address in config.resources:
        graph.dag.add_node(address, managed=True)


def _add_references(config: Config, graph: Graph, diags: list[Diagnostic]) -> None:
    for address, res in config.resources.items():
        found: list[Reference] = []
        for ref in references.find(res.spec):
            if isinstance(ref, BadReference):
                diags.append(res.diag(f"{'.'.join(ref.path)}: {ref.message}", ref.path, hint=ref.hint))
                continue
            if ref.target == address:
                continue
            if ref.path in res.via:  # served through another node (a promotion's champion)
                ref = dataclasses.replace(ref, target=res.via[ref.path])
            found.append(ref)
            target = config.resources.get(ref.target)
            if target is not None and not ref.registry and makes(target, ref):
                if ref.output is not None and not _has_output(target, ref.output):
                    diags.append(_no_such_output(res, target, ref))
                graph.dag.add_edge(ref.target, address, via=ref.path)
            else:
                source = Address(ref.target.kind, _source_name(ref))
                graph.data_sources.setdefault(source, ref)
                graph.source_where.setdefault(source, (res.file, res.line_of(ref.path), str(address)))
                graph.dag.add_node(source, managed=False)
                graph.dag.add_edge(source, address)
        graph.refs[address] = found


def makes(target: ResourceSpec, ref: Reference) -> bool:
    """Whether ``ref`` names what the project makes of ``target``: the resource itself, its latest version or
    the version it declares. Another version of a project's asset is one that exists already (or never will):
    a data source, read and pinned like any other."""
    if ref.version in (None, "latest") or not kinds.facts(target.address.kind).versioned:
        return True
    declared = target.spec.get("version")
    return declared is not None and str(declared) == ref.version


# Outputs every Azure ML job has without declaring them.
IMPLICIT_OUTPUTS = frozenset({"artifacts", "default"})


def _has_output(job: ResourceSpec, output: str) -> bool:
    declared = job.spec.get("outputs")
    return output in IMPLICIT_OUTPUTS or (isinstance(declared, dict) and output in declared)


def _no_such_output(res: ResourceSpec, job: ResourceSpec, ref: Reference) -> Diagnostic:
    assert ref.output is not None
    declared = job.spec.get("outputs")
    names = sorted(declared) if isinstance(declared, dict) else []
    return res.diag(
        f"{'.'.join(ref.path)}: {ref.raw} names output {ref.output!r} of {job.address}, which has no such output"
        + did_you_mean(ref.output, names),
        ref.path,
        hint=f"outputs of {job.address} ({job.file}): {', '.join(names) or 'none'}; declare it under outputs:",
    )


def _source_name(ref: Reference) -> str:
    """Data sources are keyed by name and the version asked for (``name:3``, ``name@latest``)."""
    if ref.registry:  # azureml://registries/<registry>/<kind>/<name>/(versions|labels)/<v>
        parts = ref.raw.removeprefix("azureml://registries/").split("/")
        sep = "@" if "/labels/" in ref.raw else ":"
        tail = f"{sep}{parts[-1]}" if len(parts) >= 5 else ""
        return f"{parts[0]}/{ref.target.name}{tail}"
    if ref.version is None:
        return ref.target.name
    sep = "@" if ref.is_latest else ":"
    return f"{ref.target.name}{sep}{ref.version}"


def _add_depends_on(config: Config, graph: Graph) -> None:
    for address, res in config.resources.items():
        for dep in res.depends_on:
            graph.dag.add_edge(dep, address, via="depends_on")
        for dep in res.implicit_deps:
            graph.dag.add_edge(dep, address, via="implicit")


def _add_parents(config: Config, graph: Graph) -> None:
    for address in config.resources:
        parent = address.parent
        if parent is None:
            continue
        if parent in config.resources:
            graph.dag.add_edge(parent, address)
        else:
            graph.data_sources.setdefault(parent, Reference(("endpoint_name",), parent, None, f"azureml:{parent.name}"))
            res = config.resources[address]
            graph.source_where.setdefault(parent, (res.file, res.line_of(("endpoint_name",)), str(address)))
            graph.dag.add_node(parent, managed=False)
            graph.dag.add_edge(parent, address)


def _check_acyclic(config: Config, graph: Graph) -> None:
    try:
        graph.order()  # a topological sort fails exactly when there is a cycle
        return
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph.dag)
    members = [str(u) for u, _v in cycle]
    message = "dependency cycle: " + " -> ".join([*members, members[0]])
    hint = "remove one of these references or depends_on entries to break the cycle"
    # Point at an edge the user wrote: a depends_on entry in mlplan.yaml, else a reference in a file.
    for u, v in cycle:
        res = config.resources[v]
        if graph.dag.edges[u, v].get("via") == "depends_on":
            diag = Diagnostic(message, file=PROJECT_FILE, line=res.depends_on_line, address=str(v), hint=hint)
            break
    else:
        u, v = cycle[0]
        res = config.resources[v]
        via = graph.dag.edges[u, v].get("via")
        path = via if isinstance(via, tuple) else ()
        diag = res.diag(message, path, hint=hint)
    raise ValidationFailed([diag])
