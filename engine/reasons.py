"""The human reason of a change: which files changed, which fields, and what a dependency became."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlplan.core.content import Content, describe_change, is_digest
from mlplan.core.diffing import FieldChange, reason_for
from mlplan.engine.plan import Binding
from mlplan.state.model import ResourceState


def diff_reason(rs: ResourceState, content: Mapping[str, Content], diffs: Iterable[FieldChange]) -> str:
    """``code changed: train.py; image changed: python:3.10 -> python:3.11`` for a resource in state."""
    diffs = list(diffs)
    parts = []
    for field_name, c in content.items():
        old = rs.content.get(field_name)
        if old is not None and old != c.files:
            parts.append(f"{field_name} changed: {describe_change(old, c.files)}")
    # the digests of what was just named say nothing more
    other = [d for d in diffs if not (is_digest(d.before) and is_digest(d.after))] if parts else diffs
    if other:
        parts.append(reason_for(other))
    return "; ".join(parts) or reason_for(diffs)


def binding_reason(bindings: Iterable[Binding]) -> str:
    """What makes values of this change known only after apply: ``data.iris gets a new version``."""
    sources = sorted({str(b.source) for b in bindings})
    return "; ".join(f"{s} changes in this plan (its result is known after apply)" for s in sources)
