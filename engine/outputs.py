"""Outputs: the declared ``outputs:`` of mlplan.yaml, checked against the configuration when it is loaded
and resolved from state after apply; endpoint keys on request.

A value is a template: ``${var.x}`` and ``${env:X}`` are substituted first (so a resource named after a
variable can be read: ``${online_endpoint.${var.endpoint}.scoring_uri}``), then each
``${KIND.NAME.ATTR}`` is read from state: the resource's outputs, its attributes, its id or version.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mlplan.core.errors import Diagnostic, MlplanError
from mlplan.core.suggest import closest
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, Config, ResourceSpec
from mlplan.engine.desired import make_desired, observed_of
from mlplan.engine.interpolate import Interpolator
from mlplan.engine.nodes.base import find_type
from mlplan.engine.variables import hint as variable_hint
from mlplan.providers.base import Provider, secret_hash
from mlplan.state.model import ResourceState, State

if TYPE_CHECKING:
    from mlplan.engine.session import Session

_ATTRIBUTE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_.\-/]+?)\.([A-Za-z0-9_]+)\s*\}")
# what is left that looks like a reference but is none (an unknown variable is reported as such)
_ANY = re.compile(r"\$\{(?!\{)(?!\s*(?:var\.|env:))[^}]*\}")
_ALWAYS = ("id", "version")  # every resource in state has them
NOT_KNOWN = "(known after apply)"
# `$${` writes a literal `${`: held apart while references are looked for, written back at the end
_ESCAPED, _HELD = "$${", "\x00{"


def _template(config: Config, name: str, decl: dict[str, Any], out: list[Diagnostic] | None = None) -> str:
    """The output's value with its variables substituted; its resource attributes are left for state."""

    def on_error(message: str, _path: tuple[str, ...]) -> None:
        if out is not None:
            out.append(_diag(config, name, f"output {name!r}: {message}", variable_hint(message)))

    raw = str(decl.get("value", "")).replace(_ESCAPED, _HELD)
    return str(Interpolator(config.variables, os.environ).string(raw, (), on_error))


def _diag(config: Config, name: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(message, file=PROJECT_FILE, line=config.output_lines.get(name) or None, hint=hint)


def check(config: Config, provider: Provider) -> list[Diagnostic]:
    """Each output's references, at plan time: the resource must be one of the configuration, the
    attribute one that state records for its kind. Every problem, with the line in mlplan.yaml."""
    out: list[Diagnostic] = []
    for name, decl in config.outputs.items():
        reported = len(out)
        text = _template(config, name, decl, out)
        for m in _ATTRIBUTE.finditer(text):
            address = Address(m.group(1), m.group(2))
            res = config.resources.get(address)
            if res is None:
                known = sorted(str(a) for a in config.resources)
                out.append(
                    _diag(
                        config,
                        name,
                        f"output {name!r} refers to {address}, which this project does not define",
                        suggestion(str(address), known, "resources"),
                    )
                )
                continue
            attributes = attributes_of(res, provider, config.project)
            if m.group(3) not in attributes:
                out.append(
                    _diag(
                        config,
                        name,
                        f"output {name!r} refers to attribute {m.group(3)!r} of {address}, which a {address.kind}"
                        " does not have",
                        suggestion(m.group(3), sorted(attributes), f"{address.kind} attributes"),
                    )
                )
        if len(out) > reported:
            continue  # an unknown variable leaves its reference unresolved: one message is enough
        for m in _ANY.finditer(_ATTRIBUTE.sub("", text)):
            out.append(
                _diag(
                    config,
                    name,
                    f"output {name!r}: {m.group(0)} is not a reference mlplan knows",
                    "write ${KIND.NAME.ATTRIBUTE} (e.g. ${online_endpoint.cancer.scoring_uri}) or ${var.NAME};"
                    " $${ writes a literal ${",
                )
            )
    return out


def attributes_of(res: ResourceSpec, provider: Provider, project: str) -> set[str]:
    """What state records for a resource of this kind: its outputs, its attributes, its id and version."""
    rt = find_type(provider, res.address.kind)
    if rt is None:  # refused with file:line by the provider check
        return set(_ALWAYS)
    desired = make_desired(res.address, res.spec, res.base_dir, res.subtype, {}, project)
    try:
        attributes = set(rt.desired_attributes(desired))
    except (TypeError, ValueError, AttributeError, KeyError):  # a spec the provider check refuses anyway
        attributes = set(res.spec)
    try:
        outputs = rt.output_names(desired)
    except (TypeError, ValueError, AttributeError, KeyError, MlplanError):  # files the provider check refuses
        outputs = rt.output_fields
    return {*_ALWAYS, *outputs, *attributes}


def suggestion(word: str, candidates: Iterable[str], what: str) -> str:
    names = list(candidates)
    close = closest(word, names)
    listing = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    known = f"{what}: {listing}" if names else f"no {what}"
    return f"did you mean {close}? ({known})" if close else known


def _read(rs: ResourceState | None, attr: str) -> str | None:
    if rs is None or rs.status != "live":
        return None
    for source in (rs.outputs, rs.attributes, {"id": rs.id, "version": rs.version}):
        if attr in source and source[attr] is not None:
            return str(source[attr])
    return None


def resolve_outputs(config: Config, state: State) -> dict[str, Any]:
    """Declared outputs with their references read from state; a value that refers to something state
    does not have (not applied yet) is None."""
    out: dict[str, Any] = {}
    for name, decl in config.outputs.items():
        unknown = False

        def sub(m: re.Match[str]) -> str:
            nonlocal unknown
            value = _read(state.resources.get(f"{m.group(1)}.{m.group(2)}"), m.group(3))
            unknown = unknown or value is None
            return value or ""

        raw = str(decl.get("value", ""))
        value = _ATTRIBUTE.sub(sub, _template(config, name, decl)).replace(_HELD, "${")
        out[name] = {
            "value": None if unknown else value,
            "sensitive": bool(decl.get("sensitive", False)) or _uses_secret(raw, config.sensitive_variables),
            "description": decl.get("description", ""),
        }
    return out


def _uses_secret(raw: str, sensitive: Iterable[str]) -> bool:
    return any(re.search(rf"\$\{{\s*var\.{re.escape(v)}\s*\}}", raw) for v in sensitive)


def shown(outputs: dict[str, Any], show_sensitive: bool = False, unknown: str | None = NOT_KNOWN) -> dict[str, Any]:
    """The outputs as printed: sensitive ones as ``(sensitive)`` unless asked for, unknown ones as ``unknown``."""
    return {
        k: "(sensitive)" if v["sensitive"] and not show_sensitive else unknown if v["value"] is None else v["value"]
        for k, v in sorted(outputs.items())
    }


def stored_outputs(config: Config, state: State) -> dict[str, Any]:
    """The outputs as state keeps them: sensitive values as salted hashes, never in clear."""
    return {
        k: {**v, "value": secret_hash(str(v["value"]), config.project)}
        if v["sensitive"] and v["value"] is not None
        else v
        for k, v in resolve_outputs(config, state).items()
    }


def applied(state: State) -> bool:
    """Whether anything is applied: outputs of an empty state (before the first apply, after destroy)
    have no values."""
    return any(rs.status == "live" for rs in state.resources.values())


def credentials(session: Session, state: State) -> dict[str, dict[str, str]]:
    """Secrets in clear (endpoint keys), read live from the provider: only on explicit request."""
    out: dict[str, dict[str, str]] = {}
    for address, rs in sorted(state.resources.items()):
        rt = find_type(session.provider, rs.kind)
        if rt is None or rs.status != "live":
            continue
        found = rt.credentials(session.ctx, observed_of(rs))
        if found:
            out[address] = found
    return out
