"""The project's variables: their values (``--var`` > ``MLPLAN_VAR_<name>`` > the environment's ``variables:``
block > the default), each checked against its declared type, which are sensitive, and the hints of
interpolation errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from mlplan.core.errors import Diagnostic
from mlplan.core.suggest import did_you_mean
from mlplan.engine.config import PROJECT_FILE
from mlplan.engine.interpolate import Interpolator, line_for_path
from mlplan.engine.yamlio import LineDict, line_of, plain

ENV_PREFIX = "MLPLAN_VAR_"  # as Terraform's TF_VAR_<name>

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_WHAT = {"string": "a string", "number": "a number", "boolean": "a boolean", "list": "a list", "map": "a map"}
_HOW = {
    "string": 'quote it ("3.10"): YAML reads 3.10 as the number 3.1',
    "number": "write a number, e.g. 3 or 0.5",
    "boolean": "write true or false",
    "list": "write a list, e.g. [a, b]",
    "map": "write a map, e.g. {key: value}",
}


def hint(message: str) -> str:
    """What to do about an interpolation error, by its message."""
    if message.endswith("has no value"):
        return (
            f"pass --var NAME=VALUE, set {ENV_PREFIX}NAME, set it in the environment's variables: block,"
            " or give it a default"
        )
    if message.startswith("unknown variable"):
        return "declare it under variables: in mlplan.yaml, or fix the name"
    if message.startswith(("unterminated", "malformed")):
        return "write ${var.NAME} or ${env:NAME}, closed by `}` (`$${` writes a literal `${`)"
    return "set it in the environment before running mlplan"


@dataclass(frozen=True)
class _Declared:
    type: str | None
    sensitive: bool
    line: int | None  # of its `type:` (else of its name), where messages about its values point


class _Bad:
    """A value that does not have the variable's type."""


BAD = _Bad()


def resolve(
    doc: LineDict,
    env_name: str,
    cli_vars: Mapping[str, str],
    environ: Mapping[str, str],
    out: list[Diagnostic],
) -> tuple[dict[str, Any], set[str]]:
    """The value of each variable and the names of the sensitive ones; a value of the wrong type, or for a
    variable nobody declared, is a Diagnostic in ``out``.

    Precedence: --var > MLPLAN_VAR_<name> > the environment's variables block > defaults (checked by the
    schema). ``MLPLAN_VAR_`` variables of names the project does not declare are ignored, as Terraform
    ignores ``TF_VAR_``: one CI environment may serve several projects.
    """
    block = doc.get("variables")
    block = block if isinstance(block, dict) else {}
    declared = _declarations(doc, block)
    values: dict[str, Any] = {}
    for name, decl in block.items():
        if isinstance(decl, dict):
            if "default" in decl:
                values[name] = plain(decl["default"])
        else:
            values[name] = plain(decl)  # shorthand `name: default`
    envs = doc.get("environments") or {}
    env_block = envs.get(env_name) if isinstance(envs, dict) else None
    if isinstance(env_block, dict) and isinstance(env_block.get("variables"), dict):
        _from_environment_block(doc, env_name, env_block["variables"], declared, environ, values, out)
    for name, decl in declared.items():
        if ENV_PREFIX + name in environ:
            _set_text(name, decl, environ[ENV_PREFIX + name], f"environment variable {ENV_PREFIX}{name}", values, out)
    for name, text in cli_vars.items():
        if name not in declared:
            out.append(
                Diagnostic(
                    f"--var {name}=... sets a variable that is not declared" + did_you_mean(name, declared),
                    file=PROJECT_FILE,
                    line=line_of(doc, "variables"),
                    hint=f"declare {name!r} under variables: in mlplan.yaml, or fix the name",
                )
            )
            continue
        _set_text(name, declared[name], text, "--var", values, out)
    return values, {name for name, decl in declared.items() if decl.sensitive}


def _declarations(doc: LineDict, block: Mapping[str, Any]) -> dict[str, _Declared]:
    found = {}
    for name, decl in block.items():
        decl_type = str(decl["type"]) if isinstance(decl, dict) and "type" in decl else None
        line = line_of(decl, "type") if decl_type is not None else line_for_path(doc, ("variables", name))
        sensitive = bool(decl.get("sensitive")) if isinstance(decl, dict) else False
        found[name] = _Declared(decl_type, sensitive, line)
    return found


def _from_environment_block(
    doc: LineDict,
    env_name: str,
    block: Mapping[str, Any],
    declared: Mapping[str, _Declared],
    environ: Mapping[str, str],
    values: dict[str, Any],
    out: list[Diagnostic],
) -> None:
    env_only = Interpolator({}, environ)
    for name, raw in block.items():
        path = ("environments", env_name, "variables", name)
        line = line_for_path(doc, path)
        decl = declared.get(name)
        if decl is None:
            out.append(
                Diagnostic(
                    f"environment {env_name!r} sets undeclared variable {name!r}" + did_you_mean(name, declared),
                    file=PROJECT_FILE,
                    line=line,
                    hint="declare it under variables: with a default, or fix the name",
                )
            )

        def on_err(msg: str, _p: tuple[str, ...], line: int | None = line) -> None:
            out.append(Diagnostic(msg, file=PROJECT_FILE, line=line, hint=hint(msg)))

        errors = len(out)
        value = plain(env_only.value(raw, on_err, path))
        if decl is None or decl.type is None or len(out) > errors:  # an unset ${env:X} is reported already
            values[name] = value
            continue
        # `${env:X}` gives text: read it as --var text is; a value written in YAML has its YAML type
        typed = from_text(value, decl.type) if isinstance(raw, str) and "${" in raw else _typed(value, decl.type)
        if typed is BAD:
            where = f"the variables: of environment {env_name!r} set {_shown(value, decl)}"
            out.append(_bad(name, decl, where, PROJECT_FILE, line))
        else:
            values[name] = typed


def _set_text(
    name: str, decl: _Declared, text: str, source: str, values: dict[str, Any], out: list[Diagnostic]
) -> None:
    value = from_text(text, decl.type)
    if value is BAD:
        out.append(_bad(name, decl, f"{source} sets {_shown(text, decl)}", PROJECT_FILE, decl.line))
    else:
        values[name] = value


def from_text(text: str, type_name: str | None) -> Any:
    """Command-line or environment text as the declared type (lists and maps in YAML flow or JSON form);
    ``BAD`` when it is not one; the text itself when no type is declared."""
    if type_name == "number":
        number = text.strip()
        if not _NUMBER.match(number):
            return BAD
        return int(number) if re.fullmatch(r"[+-]?\d+", number) else float(number)
    if type_name == "boolean":
        return {"true": True, "false": False}.get(text.strip().lower(), BAD)
    if type_name in ("list", "map"):
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            return BAD
        return _typed(parsed, type_name)
    return text


def _typed(value: Any, type_name: str) -> Any:
    """A value read from YAML, as it is when it has the declared type; ``BAD`` when it does not."""
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "list": isinstance(value, list),
        "map": isinstance(value, dict),
    }.get(type_name, True)
    return value if ok else BAD


def _shown(value: Any, decl: _Declared) -> str:
    """The offending value as messages show it: never a sensitive one."""
    if decl.sensitive:
        return f"a value that is not {_WHAT.get(str(decl.type), decl.type)} (not shown: the variable is sensitive)"
    if isinstance(value, str):
        return repr(value)
    return str(yaml.safe_dump(value, default_flow_style=True)).strip().removesuffix("...").strip()


def _bad(name: str, decl: _Declared, where: str, file: str, line: int | None) -> Diagnostic:
    expected = _WHAT.get(str(decl.type), str(decl.type))
    return Diagnostic(
        f"variable {name!r} expects {expected}, but {where}",
        file=file,
        line=line,
        hint=_HOW.get(str(decl.type), "see the variable's type: in mlplan.yaml"),
    )


def interpolator(doc: LineDict, values: Mapping[str, Any], environ: Mapping[str, str]) -> Interpolator:
    """Substitutes ``${var.x}`` (the declared variables, with their values) and ``${env:X}``."""
    decls = doc.get("variables")
    declared = frozenset(decls.keys()) if isinstance(decls, dict) else frozenset()
    return Interpolator(values, environ, declared)
