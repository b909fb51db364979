"""The project's variables: their values (``--var`` > the environment's ``variables:`` block > the default),
``--var`` text coerced by the declared type, which are sensitive, and the hints of interpolation errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from mlplan.core.errors import Diagnostic
from mlplan.engine.config import PROJECT_FILE
from mlplan.engine.interpolate import Interpolator, line_for_path
from mlplan.engine.yamlio import LineDict, line_of, plain


def hint(message: str) -> str:
    """What to do about an interpolation error, by its message."""
    if message.endswith("has no value"):
        return "pass --var NAME=VALUE, set it in the environment's variables: block, or give it a default"
    if message.startswith("unknown variable"):
        return "declare it under variables: in mlplan.yaml, or pass --var NAME=VALUE"
    return "set it in the environment before running mlplan"


def resolve(
    doc: LineDict,
    env_name: str,
    cli_vars: Mapping[str, str],
    environ: Mapping[str, str],
    out: list[Diagnostic],
) -> tuple[dict[str, Any], set[str]]:
    """The value of each variable and the names of the sensitive ones.

    Precedence: --var > the environment's variables block > defaults.
    """
    declared = doc.get("variables") or {}
    values: dict[str, Any] = {}
    sensitive: set[str] = set()
    types: dict[str, str] = {}
    if isinstance(declared, dict):
        for name, decl in declared.items():
            if isinstance(decl, dict):
                if "default" in decl:
                    values[name] = plain(decl["default"])
                if decl.get("sensitive"):
                    sensitive.add(name)
                if "type" in decl:
                    types[name] = str(decl["type"])
            else:
                values[name] = plain(decl)  # shorthand `name: default`
    envs = doc.get("environments") or {}
    env_block = envs.get(env_name) if isinstance(envs, dict) else None
    if isinstance(env_block, dict) and isinstance(env_block.get("variables"), dict):
        env_only = Interpolator({}, environ)
        for name, value in env_block["variables"].items():
            path = ("environments", env_name, "variables", name)
            if name not in values and name not in types:
                out.append(
                    Diagnostic(
                        f"environment {env_name!r} sets undeclared variable {name!r}",
                        file=PROJECT_FILE,
                        line=line_for_path(doc, path),
                        hint="declare it under variables: with a default",
                    )
                )

            def on_err(msg: str, p: tuple[str, ...], path: tuple[str, ...] = path) -> None:
                out.append(Diagnostic(msg, file=PROJECT_FILE, line=line_for_path(doc, path), hint=hint(msg)))

            values[name] = plain(env_only.value(value, on_err, path))
    for name, text in cli_vars.items():
        if name not in values and name not in types:
            out.append(
                Diagnostic(
                    f"--var {name}=... sets a variable that is not declared",
                    file=PROJECT_FILE,
                    line=line_of(doc, "variables"),
                    hint=f"declare {name!r} under variables: in mlplan.yaml, or fix the name",
                )
            )
            continue
        values[name] = coerce(text, types.get(name))
    return values, sensitive


def coerce(text: str, type_name: str | None) -> Any:
    """A --var value as its declared type (number, boolean, list, map: parsed as YAML); else the text."""
    if type_name in ("number", "boolean", "list", "map"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    return text


def interpolator(doc: LineDict, values: Mapping[str, Any], environ: Mapping[str, str]) -> Interpolator:
    """Substitutes ``${var.x}`` (the declared variables, with their values) and ``${env:X}``."""
    decls = doc.get("variables")
    declared = frozenset(decls.keys()) if isinstance(decls, dict) else frozenset()
    return Interpolator(values, environ, declared)
