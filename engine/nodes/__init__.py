"""Node kinds: one module per kind of node, each with how it plans and how it applies.

Which node kind handles an address kind is a kind fact (``core.kinds.KindFacts.node``); adding a node
kind is one module here and one entry in ``NODE_KINDS``.
"""

from __future__ import annotations

from mlplan.core.kinds import REGISTRY
from mlplan.engine.nodes.asset import AssetNode
from mlplan.engine.nodes.base import ENGINE_TYPES, NodeKind
from mlplan.engine.nodes.promotion import PromotionNode, PromotionType
from mlplan.engine.nodes.resource import ResourceNode
from mlplan.engine.nodes.run import RunNode
from mlplan.engine.nodes.setting import SettingNode
from mlplan.engine.nodes.source import SourceNode

SOURCE = SourceNode()
NODE_KINDS: dict[str, NodeKind] = {
    n.name: n for n in (ResourceNode(), AssetNode(), RunNode(), SettingNode(), PromotionNode(), SOURCE)
}
ENGINE_TYPES[PromotionType.kind] = PromotionType


def for_kind(kind: str) -> NodeKind:
    """The node kind that plans and applies resources of the address kind ``kind``."""
    return NODE_KINDS[REGISTRY[kind].node]


def named(name: str) -> NodeKind:
    return NODE_KINDS[name]
