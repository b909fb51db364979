"""The plan as a person reads it on a terminal: symbols, colour (rich), values as YAML, long values as
diffs, each reason once. Reads only the plan's JSON form, like every renderer.

Colour is on for a terminal and off for files, pipes and CI logs, with ``--no-color`` or ``NO_COLOR``;
the words are the same either way.
"""

from __future__ import annotations

import difflib
import io
from typing import Any

from mlplan.core.content import is_digest
from mlplan.core.diffing import show
from mlplan.engine.plan import Action

# action -> style of its symbol and address
_STYLE = {
    "create": "green",
    "new_version": "green",
    "adopt": "green",
    "update": "yellow",
    "shift_traffic": "yellow",
    "replace": "magenta",
    "train": "cyan",
    "evaluate": "cyan",
    "promote": "cyan",
    "delete": "red",
    "archive": "red",
    "forget": "red",
    "read": "dim",
    "no_op": "dim",
}
# actions that bring something new: their planned attributes are shown when no field changes are
_SHOWS_AFTER = frozenset({"create", "new_version", "adopt", "train", "shift_traffic", "evaluate"})
LONG = 60  # values longer than this (or on several lines) are shown as a -/+ diff, whole
_INDENT = "      "
# how a reconciliation shows: what apply will do about an interrupted operation
SETTLE_SYMBOL = {"adopt": "+s", "retry": "!", "completed": "-s", "not_done": "!"}
# a predicted change to a resource, and to one of its properties: the symbols `az deployment group what-if` uses
PREDICTED_SYMBOL = {
    "create": ("+", "green"),
    "modify": ("~", "yellow"),
    "delete": ("-", "red"),
    "deploy": ("!", "yellow"),
    "ignore": ("*", "dim"),
    "no_change": ("=", "dim"),
    "unsupported": ("x", "dim"),
    "array": ("~", "yellow"),
    "no_effect": ("x", "dim"),
}
_UNCHANGING = frozenset({"ignore", "no_change"})


def symbol(action: str) -> str:
    return Action(action).symbol if action in Action._value2member_map_ else "?"


def text(plan: dict[str, Any], color: bool = False, verbose: bool = False, summary_line: str = "") -> str:
    """The text plan; ``color``: with ANSI colour (rich), for a terminal."""
    from rich.console import Console
    from rich.text import Text

    out = Text()

    def line(*parts: tuple[str, str] | str) -> None:
        for part in parts:
            if isinstance(part, tuple):
                out.append(part[0], style=part[1])
            else:
                out.append(part)
        out.append("\n")

    head = f"Project {plan['project']}, environment {plan['environment']}"
    head += {"destroy": " (destroy)", "refresh-only": " (refresh only)"}.get(plan.get("mode", ""), "")
    line((head + f" (state serial {plan['serial']}):", "bold"))
    changes = plan["changes"] if verbose else [c for c in plan["changes"] if c["action"] not in ("no_op", "read")]
    for c in changes:
        style = _STYLE.get(c["action"], "")
        when = f", {c['condition']}" if c.get("condition") else ""
        line((f"  {symbol(c['action']):>3} {c['address']}", f"bold {style}"), (f"  ({c['action']}{when})", style))
        line(_INDENT, c["reason"])
        for part in _details(c):
            line(*part)
        for depth, mark, words, style in prediction_lines(c.get("predicted")):
            if depth < 0:
                line(_INDENT, (words, "bold"))
            else:
                line(_INDENT + "  " + "    " * depth, (mark + " ", style), words)
    for r in plan.get("reconcile", []):
        line(
            (f"  {SETTLE_SYMBOL.get(r['outcome'], '?'):>3} {r['address']}", "bold yellow"),
            f"  (interrupted {r['action']}: {r['outcome']})",
        )
        line(_INDENT, r["reason"])
    for d in plan.get("diagnostics", []):
        line(("  Warning: ", "bold yellow"), d)
    if not plan.get("executable", True):
        line(("  Warning: ", "bold yellow"), "this plan was saved by an older mlplan: it can be shown, not applied")
    out.append(summary_line, style="bold")
    sink = io.StringIO()
    console = Console(
        file=sink,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        soft_wrap=True,  # long lines wrap on the terminal, whole: never cut
        width=10_000,
    )
    console.print(out, end="")
    return sink.getvalue()


def _details(c: dict[str, Any]) -> list[tuple[tuple[str, str] | str, ...]]:
    """The field changes a reader needs beyond the reason; or, for something new, what it will be."""
    reason = c["reason"]
    shown: list[tuple[tuple[str, str] | str, ...]] = []
    changes = c.get("changes", [])
    for ch in changes:
        path, before, after = ch["path"], ch["before"], ch["after"]
        if is_digest(before) and is_digest(after):
            continue  # content digests: the reason names the files that changed
        if _said(reason, path, before, after):
            continue  # the reason already says it: once is enough
        shown += _change(path, before, after)
    if c["action"] in _SHOWS_AFTER and not changes and c.get("after"):
        for key, value in sorted(c["after"].items()):
            if value in (None, {}, []) or is_digest(value):
                continue
            shown += _added(key, value)
    return shown


def prediction_lines(predicted: list[dict[str, Any]] | None) -> list[tuple[int, str, str, str]]:
    """What the provider predicts for the resources a change manages (ARM what-if), as ``(depth, symbol, words,
    style)`` (depth -1: the heading): each resource that changes with its property changes, each that stays with
    a note (a removal's), and how many others stay as they are."""
    if not predicted:
        return []
    out: list[tuple[int, str, str, str]] = [(-1, "", "predicted changes to the resources it manages:", "")]
    quiet = 0
    for p in predicted:
        if p["change"] in _UNCHANGING and not p.get("note"):
            quiet += 1
            continue
        mark, style = PREDICTED_SYMBOL.get(p["change"], ("?", ""))
        name = p["resource_id"].rsplit("/", 1)[-1]
        what = f"{p['resource_type']}/{name}" if p.get("resource_type") else p["resource_id"]
        note = f": {p['note']}" if p.get("note") else ""
        out.append((0, mark, f"{what}  ({p['change'].replace('_', ' ')}){note}", style))
        out += _delta_lines(p.get("delta") or [], 1)
    if quiet:
        out.append((0, "=", f"{quiet} other resource(s) unchanged or left alone", "dim"))
    if len(out) == 2 and out[1][2].endswith("left alone"):
        out[0] = (-1, "", "predicted changes to the resources it manages: none", "")
        del out[1]
    return out


def _delta_lines(delta: list[dict[str, Any]], depth: int) -> list[tuple[int, str, str, str]]:
    out: list[tuple[int, str, str, str]] = []
    for d in delta:
        mark, style = PREDICTED_SYMBOL.get(d["change"], ("?", ""))
        path, change = d["path"], d["change"]
        if change == "create":
            words = f"{path}: {show(d.get('after'))}"
        elif change == "delete":
            words = f"{path}: {show(d.get('before'))}"
        elif change in ("modify", "no_effect"):
            words = f"{path}: {show(d.get('before'))} -> {show(d.get('after'))}"
        else:
            words = f"{path}:"
        out.append((depth, mark, words, style))
        out += _delta_lines(d.get("children") or [], depth + 1)
    return out


def _said(reason: str, path: str, before: Any, after: Any) -> bool:
    text = f"{path} changed: {show(before)} -> {show(after)}"
    return len(text) <= 2 * LONG and text in reason


def _long(value: Any) -> bool:
    rendered = show(value)
    return len(rendered) > LONG or "\n" in rendered or (isinstance(value, str) and "\n" in value)


def _change(path: str, before: Any, after: Any) -> list[tuple[tuple[str, str] | str, ...]]:
    if before is None:
        return _added(path, after)
    if after is None:
        return [(_INDENT, ("- ", "red"), f"{path}: ", (show(before), "red"))]
    if not (_long(before) or _long(after)):
        return [(_INDENT, ("~ ", "yellow"), f"{path}: ", (show(before), "red"), " -> ", (show(after), "green"))]
    out: list[tuple[tuple[str, str] | str, ...]] = [(_INDENT, ("~ ", "yellow"), f"{path}:")]
    old, new = _lines(before), _lines(after)
    for diff_line in difflib.ndiff(old, new):
        mark, body = diff_line[:1], diff_line[2:]
        if mark == "-":
            out.append((_INDENT + "    ", (f"- {body}", "red")))
        elif mark == "+":
            out.append((_INDENT + "    ", (f"+ {body}", "green")))
        elif mark == " " and len(old) > 1:
            out.append((_INDENT + "    ", (f"  {body}", "dim")))
    return out


def _added(key: str, value: Any) -> list[tuple[tuple[str, str] | str, ...]]:
    if not _long(value) or (isinstance(value, str) and "\n" not in value):  # a long line wraps on screen
        return [(_INDENT, ("+ ", "green"), f"{key}: ", show(value))]
    return [(_INDENT, ("+ ", "green"), f"{key}:")] + [(_INDENT + "    ", line) for line in _lines(value)]


def _lines(value: Any) -> list[str]:
    """A long value on lines: a string by its lines, a mapping one key a line, a list one item a line."""
    if isinstance(value, str):
        return value.splitlines() or [""]
    if isinstance(value, dict):
        return [f"{show(k)}: {show(v)}" for k, v in value.items()]
    if isinstance(value, list):
        return [f"- {show(v)}" for v in value]
    return [show(value)]
