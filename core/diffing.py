"""Field-level differences between what is and what should be (deepdiff), with human reasons."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

SENSITIVE = "(sensitive)"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field: its dotted path, and its value before and after."""

    path: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


def _value(v: Any) -> Any:
    return None if isinstance(v, NotPresent) else v


def field_changes(before: dict[str, Any], after: dict[str, Any], sensitive: frozenset[str]) -> list[FieldChange]:
    """Dotted-path changes from ``before`` to ``after``; sensitive fields show as (sensitive)."""
    if before == after:
        return []
    diff = DeepDiff(before, after, view="tree", ignore_order=False, verbose_level=2)
    out: list[FieldChange] = []
    for levels in diff.values():
        for level in levels:
            parts = [str(p) for p in level.path(output_format="list")]
            path = ".".join(parts)
            b, a = _value(level.t1), _value(level.t2)
            if parts and parts[0] in sensitive:
                b = SENSITIVE if b is not None else None
                a = SENSITIVE if a is not None else None
            out.append(FieldChange(path, b, a))
    out.sort(key=lambda c: c.path)
    return out


_NEEDS_QUOTES = re.compile(r"^$|^[\s\[\]{}&*!|>'\"%@`#,?:-]|\s$|: | #|^(true|false|null|yes|no|~|[-+]?[0-9.]+)$", re.I)


def show(value: Any) -> str:
    """A value as a person reads it in YAML: ``true``, ``null``, ``{blue: 100}``, ``[a, b]``; strings bare
    unless they would read as something else (then JSON-quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value) if _NEEDS_QUOTES.search(value) or "\n" in value else value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def short(value: Any, limit: int = 60) -> str:
    """``show`` cut to ``limit`` characters, for one-line reasons; None reads (none)."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else show(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fits(value: Any, limit: int = 60) -> bool:
    return len(value if isinstance(value, str) else show(value)) <= limit


def reason_for(changes: list[FieldChange], limit: int = 3) -> str:
    """``image changed: python:3.10 -> python:3.11`` style text for the first few changes."""
    parts = []
    for c in changes[:limit]:
        if c.path == "running" and c.before is False and c.after is True:
            parts.append("not running (stopped or died): will be started again")
        elif c.before is None:
            parts.append(f"{c.path} added: {short(c.after)}")
        elif c.after is None:
            parts.append(f"{c.path} removed")
        elif _fits(c.before) and _fits(c.after):
            parts.append(f"{c.path} changed: {short(c.before)} -> {short(c.after)}")
        else:  # too long for one line: the plan shows the values whole, as a diff
            parts.append(f"{c.path} changed")
    if len(changes) > limit:
        parts.append(f"and {len(changes) - limit} more")
    return "; ".join(parts)
