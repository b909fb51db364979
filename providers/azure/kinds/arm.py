"""ARM template deployments at resource-group scope (``Microsoft.Resources/deployments/<name>``, through
azure-mgmt-resource-deployments): the seeds' ``.cloud/`` and ``infra/`` templates with their parameters files.

A resource file names the template and, optionally, a parameters file (both local JSON; ``parameters`` may also be
a mapping of parameter values) and the ``mode`` (``Incremental``, the default, or ``Complete``). What the template
would change is ARM's to say (what-if, ``what_if_changes``); what is compared here is what mlplan sent: the mode
and the digests of the two files, kept in the deployment's tags (ARM answers with a template hash mlplan cannot
compute offline, and never returns secure parameters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.azure.kinds.common import CONTENT, marked_content, snake, text, user_tags
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import Desired, Observed

FILE_FIELDS = ("template", "parameters")
MODES = ("incremental", "complete")


class ArmDeploymentMap:
    kind = "arm_deployment"

    def content(self, desired: Desired) -> dict[str, str]:
        return {f: desired.content[f] for f in FILE_FIELDS if f in desired.content}

    def to_body(self, desired: Desired) -> dict[str, Any]:
        """The deployment to PUT (``deployments.begin_create_or_update``'s ``parameters``): the template, the
        parameter values, the mode; the tags carry mlplan's marks."""
        return {
            "properties": {"mode": self.mode(desired).capitalize(), **self._template_and_parameters(desired)},
            "tags": {
                **user_tags(desired.spec.get("tags")),
                **desired.tags,
                **{CONTENT + k: v for k, v in self.content(desired).items()},
            },
        }

    def what_if_body(self, desired: Desired) -> dict[str, Any]:
        """The what-if request for the same deployment (``deployments.begin_what_if``), asking for full resource
        payloads so that the plan can show property paths."""
        return {
            "properties": {
                "mode": self.mode(desired).capitalize(),
                **self._template_and_parameters(desired),
                "whatIfSettings": {"resultFormat": "FullResourcePayloads"},
            }
        }

    @staticmethod
    def mode(desired: Desired) -> str:
        return str(desired.spec.get("mode") or "incremental").lower()

    def _template_and_parameters(self, desired: Desired) -> dict[str, Any]:
        template = _json_file(desired.base_dir, desired.spec.get("template"), "template")
        parameters = desired.spec.get("parameters")
        if isinstance(parameters, str):
            loaded = _json_file(desired.base_dir, parameters, "parameters")
            # a parameters file ({"$schema", "contentVersion", "parameters": {...}}) or the bare mapping
            parameters = loaded.get("parameters", loaded) if isinstance(loaded, Mapping) else loaded
        elif isinstance(parameters, Mapping):
            parameters = {
                k: v if isinstance(v, Mapping) and "value" in v else {"value": v} for k, v in parameters.items()
            }
        return {"template": template, "parameters": dict(parameters or {})}

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        inline = desired.spec.get("parameters")
        return {
            "mode": self.mode(desired),
            "content": self.content(desired),
            # inline parameter values are configuration, not content: compared by value
            "parameters": dict(inline) if isinstance(inline, Mapping) else None,
            "tags": user_tags(desired.spec.get("tags")),
        }

    def observed(self, deployment: Any, ws: Workspace, inline_parameters: bool = False) -> Observed:
        """A deployment as ``deployments.get`` returns it (``DeploymentExtended``). ``inline_parameters``: the
        resource file gives its parameters as a mapping, compared by value (ARM returns them, secure ones without
        their value)."""
        props = deployment.properties
        tags = dict(deployment.tags or {})
        params = props.parameters or {}
        attrs = {
            "mode": str(text(props.mode) or "incremental").lower(),
            "content": marked_content(tags),
            "parameters": {k: (v or {}).get("value") for k, v in params.items()} if inline_parameters else None,
            "tags": user_tags(tags),
        }
        outputs = {k: (v or {}).get("value") for k, v in (props.outputs or {}).items()}
        return Observed(
            id=f"deployments/{deployment.name}",
            attributes=attrs,
            tags=tags,
            outputs={
                **outputs,
                "arm_id": deployment.id,
                "provisioning_state": text(props.provisioning_state),
            },
        )


def what_if_changes(result: Any) -> list[dict[str, Any]]:
    """ARM's prediction (a ``WhatIfOperationResult``) as plain data for the plan: per resource its id, the change
    (create, modify, delete, ignore, deploy, no_change, unsupported) and, for a modification, the property paths
    with their before and after."""
    props = getattr(result, "properties", None)
    changes = getattr(props, "changes", None) or []
    out = []
    for change in changes:
        out.append(
            {
                "resource_id": change.resource_id,
                "change": snake(str(text(change.change_type))),
                "delta": [_delta(d) for d in change.delta or []],
                "reason": change.unsupported_reason,
            }
        )
    return sorted(out, key=lambda c: str(c["resource_id"]))


def _delta(change: Any, prefix: str = "") -> dict[str, Any]:
    path = f"{prefix}.{change.path}" if prefix else str(change.path)
    return {
        "path": path,
        "change": snake(str(text(change.property_change_type))),
        "before": change.before,
        "after": change.after,
        "children": [_delta(c, path) for c in change.children or []],
    }


def _json_file(base_dir: Path, path: Any, field: str) -> Any:
    if not isinstance(path, str):
        raise ProviderError(f"{field}: an ARM deployment names its {field} file (a local JSON path)", provider="azure")
    try:
        return json.loads((base_dir / path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProviderError(f"{field}: cannot read {path} as JSON ({exc})", provider="azure") from None
