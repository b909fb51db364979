"""``${var.name}`` and ``${env:NAME}`` interpolation; Azure ML's own ``${{...}}`` bindings are left alone."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from mlplan.core.suggest import did_you_mean
from mlplan.engine.yamlio import LineDict

# `$${` escapes a literal `${`; `${{` is an Azure ML binding and never matches. The last alternative is a
# reference begun and not finished (`${var.x` with no `}`, `${var.a b}`, `${env:HOME` at the end): an error,
# where a lone `${` of a shell command (`${HOME}`, `${env:-x}`) is left alone.
_REF = re.compile(
    r"\$\$\{"
    r"|\$\{(?!\{)\s*(var\.([A-Za-z_][A-Za-z0-9_-]*)|env:([A-Za-z_][A-Za-z0-9_]*))\s*\}"
    r"|(\$\{(?!\{)\s*(?:var\.[^}\s]*\}?|env:[A-Za-z_][A-Za-z0-9_]*(?=\s|$)))"
)
_WHOLE = re.compile(r"^\$\{\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}$")

# Called with (message, path) for every unknown name; path is the key path to the value.
OnError = Callable[[str, tuple[str, ...]], None]


class Interpolator:
    def __init__(
        self,
        variables: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        declared: frozenset[str] = frozenset(),
    ) -> None:
        self.variables = variables
        self.environ = os.environ if environ is None else environ
        self.declared = declared  # declared without a value: a different message than a typo

    def _missing(self, name: str) -> str:
        if name in self.declared:
            return f"variable {name!r} has no value"
        return f"unknown variable {name!r}" + did_you_mean(name, {*self.declared, *self.variables})

    def string(self, text: str, path: tuple[str, ...], on_error: OnError) -> Any:
        if "$" not in text:
            return text
        whole = _WHOLE.match(text)
        if whole:
            name = whole.group(1)
            if name in self.variables:
                return self.variables[name]
            on_error(self._missing(name), path)
            return text

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            if match.group(4) is not None:
                on_error(_unfinished(match.group(4)), path)
                return match.group(0)
            var, env = match.group(2), match.group(3)
            if var is not None:
                if var not in self.variables:
                    on_error(self._missing(var), path)
                    return match.group(0)
                value = self.variables[var]
                return value if isinstance(value, str) else _scalar(value)
            if env not in self.environ:
                on_error(f"environment variable {env!r} is not set", path)
                return match.group(0)
            return self.environ[env]

        return _REF.sub(sub, text)

    def value(self, value: Any, on_error: OnError, path: tuple[str, ...] = ()) -> Any:
        """Interpolate a nested value, keeping line information of mappings."""
        if isinstance(value, str):
            return self.string(value, path, on_error)
        if isinstance(value, LineDict):
            out = LineDict()
            out.line, out.key_lines = value.line, value.key_lines
            for k, v in value.items():
                out[k] = self.value(v, on_error, (*path, k))
            return out
        if isinstance(value, dict):
            return {k: self.value(v, on_error, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, on_error, (*path, str(i))) for i, v in enumerate(value)]
        return value


def _unfinished(fragment: str) -> str:
    what = "malformed" if fragment.endswith("}") else "unterminated"
    return f"{what} variable reference {fragment!r}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def line_for_path(root: Any, path: tuple[str, ...]) -> int | None:
    """The line of the deepest mapping key on ``path`` that we know."""
    node, line = root, getattr(root, "line", None) or None
    for part in path:
        if isinstance(node, LineDict):
            line = node.key_lines.get(part, line)
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            line = getattr(node, "line", None) or line
        else:
            break
    return line
