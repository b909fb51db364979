"""Outputs: the declared ``outputs:`` of mlplan.yaml resolved from state, and endpoint keys on request."""

from __future__ import annotations

import re
from typing import Any

from mlplan.engine.config import Config
from mlplan.engine.desired import observed_of
from mlplan.engine.session import Session
from mlplan.providers.base import secret_hash
from mlplan.state.model import State

_REFERENCE = re.compile(
    r"\$\{\s*([a-z_]+)\.([A-Za-z0-9_.\-/]+?)\.([A-Za-z0-9_]+)\s*\}|\$\{\s*var\.([A-Za-z0-9_-]+)\s*\}"
)


def resolve_outputs(config: Config, state: State) -> dict[str, Any]:
    """Declared outputs with ``${KIND.NAME.ATTR}`` and ``${var.x}`` resolved from state."""
    out: dict[str, Any] = {}
    for name, decl in config.outputs.items():
        value = str(decl.get("value", ""))

        def sub(m: re.Match[str]) -> str:
            if m.group(4):
                return str(config.variables.get(m.group(4), ""))
            rs = state.resources.get(f"{m.group(1)}.{m.group(2)}")
            if rs is None:
                return ""
            attr = m.group(3)
            for source in (rs.outputs, rs.attributes, {"id": rs.id, "version": rs.version}):
                if attr in source:
                    return str(source[attr])
            return ""

        uses_secret = any(f"var.{v}" in value for v in config.sensitive_variables)
        out[name] = {
            "value": _REFERENCE.sub(sub, value),
            "sensitive": bool(decl.get("sensitive", False)) or uses_secret,
            "description": decl.get("description", ""),
        }
    return out


def stored_outputs(config: Config, state: State) -> dict[str, Any]:
    """The outputs as state keeps them: sensitive values as salted hashes, never in clear."""
    return {
        k: {**v, "value": secret_hash(str(v["value"]), config.project)} if v["sensitive"] else v
        for k, v in resolve_outputs(config, state).items()
    }


def credentials(session: Session, state: State) -> dict[str, dict[str, str]]:
    """Secrets in clear (endpoint keys), read live from the provider: only on explicit request."""
    out: dict[str, dict[str, str]] = {}
    for address, rs in sorted(state.resources.items()):
        rt = session.provider.resource_type(rs.kind)
        if rt is None or rs.status != "live":
            continue
        found = rt.credentials(session.ctx, observed_of(rs))
        if found:
            out[address] = found
    return out
