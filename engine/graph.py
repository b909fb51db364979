"""The resource graph: a networkx DiGraph whose edges run from a dependency to its dependents.

Built in small named steps: nodes -> references -> depends_on -> parents -> acyclic check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.engine import references
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, Config
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
            found.append(ref)
            if ref.target in config.resources and not ref.registry:
                graph.dag.add_edge(ref.target, address, via=ref.path)
            else:
                source = Address(ref.target.kind, _source_name(ref))
                graph.data_sources.setdefault(source, ref)
                graph.source_where.setdefault(source, (res.file, res.line_of(ref.path), str(address)))
                graph.dag.add_node(source, managed=False)
                graph.dag.add_edge(source, address)
        graph.refs[address] = found


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
