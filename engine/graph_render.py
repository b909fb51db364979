"""The resource graph as Graphviz dot or Mermaid (which GitHub renders in comments)."""

from __future__ import annotations

from mlplan.engine.graph import Graph


def _id(node: object) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in str(node))


def to_mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    for node in sorted(graph.dag.nodes, key=str):
        managed = graph.dag.nodes[node].get("managed", True)
        label = str(node) if managed else f"{node} (data source)"
        lines.append(f'  {_id(node)}["{label}"]' if managed else f'  {_id(node)}[("{label}")]')
    for u, v in sorted(graph.dag.edges, key=lambda e: (str(e[0]), str(e[1]))):
        lines.append(f"  {_id(u)} --> {_id(v)}")
    return "\n".join(lines)


def to_dot(graph: Graph) -> str:
    lines = ["digraph mlplan {", "  rankdir=LR;"]
    for node in sorted(graph.dag.nodes, key=str):
        managed = graph.dag.nodes[node].get("managed", True)
        style = "" if managed else ", style=dashed"
        lines.append(f'  "{node}" [shape=box{style}];')
    for u, v in sorted(graph.dag.edges, key=lambda e: (str(e[0]), str(e[1]))):
        lines.append(f'  "{u}" -> "{v}";')
    lines.append("}")
    return "\n".join(lines)
