"""Rendering plans and results as text, markdown (PR comments) and JSON.

Renderers read only the plan's JSON form, so every format shows the same facts.
"""

from __future__ import annotations

import json
from typing import Any

from mlplan.core.diffing import short
from mlplan.engine import events as ev
from mlplan.engine.render_text import SETTLE_SYMBOL, prediction_lines, symbol

_ORDER = [
    "create",
    "new_version",
    "update",
    "replace",
    "delete",
    "archive",
    "adopt",
    "forget",
    "train",
    "evaluate",
    "promote",
    "shift_traffic",
    "read",
    "no_op",
]
_VERB = {
    "create": "to create",
    "new_version": "new version(s)",
    "update": "to update",
    "replace": "to replace",
    "delete": "to delete",
    "archive": "to archive",
    "adopt": "to adopt",
    "forget": "to forget",
    "train": "to train",
    "evaluate": "to evaluate",
    "promote": "to promote",
    "shift_traffic": "traffic shift(s)",
}


def summary(plan: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for c in plan["changes"]:
        counts[c["action"]] = counts.get(c["action"], 0) + 1
    if plan.get("mode") == "refresh-only":
        drift = counts.get("update", 0) + counts.get("forget", 0)
        return (
            f"Drift: {drift} resource(s) changed outside mlplan." if drift else "No drift: state matches the workspace."
        )
    parts = [f"{counts[a]} {_VERB[a]}" for a in _ORDER if a in _VERB and counts.get(a)]
    settle = len(plan.get("reconcile", []))
    if settle:
        parts.append(f"{settle} interrupted operation(s) to settle")
    if not parts:
        return "No changes. The workspace matches the configuration."
    unchanged = counts.get("no_op", 0)
    return "Plan: " + ", ".join(parts) + (f"; {unchanged} unchanged." if unchanged else ".")


def _changed(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan["changes"] if c["action"] not in ("no_op", "read")]


def _has_work(plan: dict[str, Any]) -> bool:
    return bool(_changed(plan) or plan.get("reconcile"))


def text(plan: dict[str, Any], verbose: bool = False, color: bool = False) -> str:
    """The plan for a terminal (``color``: with ANSI colour) or a log."""
    from mlplan.engine.render_text import text as render_text

    return render_text(plan, color=color, verbose=verbose, summary_line=summary(plan))


# GitHub refuses comments over 65,536 characters; keep room for what CI wraps around the plan.
COMMENT_LIMIT = 60_000
_FOOTER_ROOM = 400


def markdown(plan: dict[str, Any], limit: int = COMMENT_LIMIT) -> str:
    """A PR comment: summary first, then a table and the field changes in a details block.

    A plan too long for one comment keeps its summary and warnings whole, shows as many rows and
    field changes as fit within ``limit`` characters, and says how many it left out.
    """
    out = [f"### mlplan: `{plan['project']}` / `{plan['environment']}`", "", f"**{summary(plan)}**", ""]
    for d in plan.get("diagnostics", []):
        out += [f"> **Warning:** {d}", ""]
    changed = _changed(plan)
    if not _has_work(plan):
        return "\n".join(out) + "\n"
    size = sum(len(line) + 1 for line in out)
    budget = max(0, limit - _FOOTER_ROOM)

    def fits(lines: list[str]) -> bool:
        nonlocal size
        more = sum(len(line) + 1 for line in lines)
        if size + more > budget:
            return False
        size += more
        return True

    rows = ["| | address | action | why |", "|---|---|---|---|"]
    for r in plan.get("reconcile", []):
        reason = r["reason"].replace("|", "\\|")
        rows.append(f"| `{SETTLE_SYMBOL[r['outcome']]}` | `{r['address']}` | settle: {r['outcome']} | {reason} |")
    fits(rows)
    shown = 0
    for c in changed:
        reason = c["reason"].replace("|", "\\|")
        action = f"{c['action']} ({c['condition']})" if c.get("condition") else c["action"]
        row = f"| `{symbol(c['action'])}` | `{c['address']}` | {action} | {reason} |"
        if not fits([row]):
            break
        rows.append(row)
        shown += 1
    out += rows
    if shown < len(changed):
        out.append(f"| | *{len(changed) - shown} more change(s) not shown* | | |")
    details = [c for c in changed[:shown] if c.get("changes")]
    blocks = []
    for c in details:
        block = [f"# {c['address']}"]
        for ch in c["changes"]:
            block.append(f"- {ch['path']}: {short(ch['before'], 120)}")
            block.append(f"+ {ch['path']}: {short(ch['after'], 120)}")
        if not fits(block):
            break
        blocks.append(block)
    if blocks:
        out += ["", "<details><summary>Field changes</summary>", "", "```diff"]
        out += [line for block in blocks for line in block]
        if len(blocks) < len(details):
            out.append(f"# ... field changes of {len(details) - len(blocks)} more resource(s) not shown")
        out += ["```", "", "</details>"]
    predicted = [c for c in changed[:shown] if c.get("predicted")]
    forecasts = []
    for c in predicted:
        block = [f"# {c['address']}"]
        for depth, mark, words, _style in prediction_lines(c["predicted"]):
            if depth >= 0:
                block.append(f"{mark} {'    ' * depth}{words}")
            elif words.endswith("none"):
                block.append("# no change predicted")
        if not fits(block):
            break
        forecasts.append(block)
    if forecasts:
        out += ["", "<details open><summary>Predicted changes (what-if)</summary>", "", "```diff"]
        out += [line for block in forecasts for line in block]
        if len(forecasts) < len(predicted):
            out.append(f"# ... predictions of {len(predicted) - len(forecasts)} more resource(s) not shown")
        out += ["```", "", "</details>"]
    if shown < len(changed) or len(blocks) < len(details) or len(forecasts) < len(predicted):
        out += ["", "*The plan is too long for one comment: `mlplan show PLANFILE` prints all of it.*"]
    return "\n".join(out) + "\n"


def as_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=True, default=str)


def render(plan: dict[str, Any], fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return as_json(plan)
    if fmt == "markdown":
        return markdown(plan)
    return text(plan, color=color)


def progress_line(event: ev.Event) -> str | None:
    """One line of progress for an event (None: not worth a line)."""
    match event:
        case ev.RefreshStarted(count):
            return f"Refreshing {count} resource(s)..."
        case ev.Reconciled(address, outcome):
            return f"{address}: interrupted operation reconciled: {outcome}"
        case ev.OperationStarted(address, action, _reason):
            return f"{address}: {action}..."
        case ev.OperationDone(address, action, elapsed, _id, version):
            extra = f" (version {version})" if version else ""
            return f"{address}: {action} done{extra} in {elapsed:.1f}s"
        case ev.OperationFailed(address, error):
            return f"{address}: FAILED: {error}"
        case ev.ConditionNotMet(address, reason):
            return f"{address}: condition not met: {reason}"
        case ev.Skipped(address, reason):
            return f"{address}: skipped: {reason}"
        case ev.Interrupting(running, cancelling):
            names = ", ".join(running) or "nothing"
            if cancelling:
                return f"Cancelling {names}: what they started stays recorded, the next apply reconciles it..."
            return f"Interrupted: finishing {names}, then saving state (Ctrl-C again cancels them)..."
        case ev.Note(message):
            return f"Note: {message}"
    return None
