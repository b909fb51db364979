"""ARM template deployments at resource-group scope (``Microsoft.Resources/deployments/<name>``, through
azure-mgmt-resource-deployments): the seeds' ``.cloud/`` and ``infra/`` templates with their parameters files.

A resource file names the template and, optionally, a parameters file (both local JSON; ``parameters`` may also be
a mapping of parameter values) and the ``mode`` (``Incremental``, the default, or ``Complete``). What the template
would change is ARM's to say (what-if, ``what_if_changes``); what is compared here is what mlplan sent: the mode
and the digests of the two files, kept in the deployment's tags (ARM answers with a template hash mlplan cannot
compute offline, and never returns secure parameters).

Inline parameters are compared by value. ARM reports every parameter of the template (defaults included), so the
names the resource file gives are kept in the ``mlplan.parameters`` tag and ``observed`` reports those only; a
secure one (``securestring``, ``secureobject``), whose value ARM never returns, compares as its ``secret_hash``,
kept as ``mlplan.secret.parameters.<name>``. Secure outputs are reported as ``(sensitive)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlplan.core.diffing import SENSITIVE
from mlplan.core.errors import ProviderError
from mlplan.providers.azure.kinds.common import CONTENT, MLPLAN, SECRET, marked_content, snake, text, user_tags
from mlplan.providers.azure.settings import Workspace
from mlplan.providers.base import Desired, Observed, secret_hash

FILE_FIELDS = ("template", "parameters")
MODES = ("incremental", "complete")
PARAMETER_NAMES = MLPLAN + "parameters"  # the inline parameters' names, comma-separated
SECRET_PARAMETER = SECRET + "parameters."
SECURE_TYPES = frozenset({"securestring", "secureobject"})


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
                **self._parameter_marks(desired),
            },
        }

    def _parameter_marks(self, desired: Desired) -> dict[str, str]:
        inline = self._inline(desired)
        if inline is None:
            return {}
        secure = self._secure(desired)
        return {
            PARAMETER_NAMES: ",".join(sorted(inline)),
            **{SECRET_PARAMETER + k: secret_hash(_json(v), desired.project) for k, v in inline.items() if k in secure},
        }

    @staticmethod
    def _inline(desired: Desired) -> dict[str, Any] | None:
        """The inline parameter values (``{"value": x}`` unwrapped), or None for a parameters file or none."""
        given = desired.spec.get("parameters")
        if not isinstance(given, Mapping):
            return None
        return {str(k): v["value"] if isinstance(v, Mapping) and "value" in v else v for k, v in given.items()}

    @staticmethod
    def template_outputs(desired: Desired) -> frozenset[str]:
        """The names of the outputs the template declares; none while it cannot be read."""
        try:
            template = _json_file(desired.base_dir, desired.spec.get("template"), "template")
        except ProviderError:
            return frozenset()
        outputs = template.get("outputs") if isinstance(template, Mapping) else None
        return frozenset(str(k) for k in outputs or {})

    @staticmethod
    def _secure(desired: Desired) -> frozenset[str]:
        """The template's secure parameters (their values are never returned by ARM); none while the template
        cannot be read (``validate`` says why)."""
        try:
            template = _json_file(desired.base_dir, desired.spec.get("template"), "template")
        except ProviderError:
            return frozenset()
        declared = template.get("parameters") if isinstance(template, Mapping) else None
        return frozenset(
            str(k)
            for k, v in (declared or {}).items()
            if isinstance(v, Mapping) and str(v.get("type", "")).lower() in SECURE_TYPES
        )

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
                k: v if isinstance(v, Mapping) and ("value" in v or "reference" in v) else {"value": v}
                for k, v in parameters.items()
            }
        return {"template": template, "parameters": dict(parameters or {})}

    def desired_attributes(self, desired: Desired, ws: Workspace) -> dict[str, Any]:
        inline = self._inline(desired)
        marks = self._parameter_marks(desired)
        return {
            "mode": self.mode(desired),
            "content": self.content(desired),
            # inline parameter values are configuration, not content: compared by value (secure ones by hash)
            "parameters": None
            if inline is None
            else {k: marks.get(SECRET_PARAMETER + k, v) for k, v in sorted(inline.items())},
            "tags": user_tags(desired.spec.get("tags")),
        }

    def observed(self, deployment: Any, ws: Workspace, inline_parameters: bool | None = None) -> Observed:
        """A deployment as ``deployments.get`` returns it (``DeploymentExtended``). Its parameters are compared
        by value when the resource file gave them as a mapping (``inline_parameters``; by default, when the
        deployment carries the ``mlplan.parameters`` tag): those it named, secure ones by their hash."""
        props = deployment.properties
        tags = dict(deployment.tags or {})
        params = props.parameters or {}
        inline = PARAMETER_NAMES in tags if inline_parameters is None else inline_parameters
        names = [n for n in str(tags.get(PARAMETER_NAMES, "")).split(",") if n] if PARAMETER_NAMES in tags else None
        parameters = None
        if inline:
            parameters = {
                k: tags.get(SECRET_PARAMETER + k) if _secure(v) else (v or {}).get("value")
                for k, v in sorted(params.items())
                if names is None or k in names
            }
        attrs = {
            "mode": str(text(props.mode) or "incremental").lower(),
            "content": marked_content(tags),
            "parameters": parameters,
            "tags": user_tags(tags),
        }
        outputs = {k: SENSITIVE if _secure(v) else (v or {}).get("value") for k, v in (props.outputs or {}).items()}
        return Observed(
            id=f"deployments/{deployment.name}",
            attributes=attrs,
            tags=tags,
            outputs={
                **outputs,
                "arm_id": deployment.id,
                "provisioning_state": text(props.provisioning_state),
                "output_resources": sorted(str(r.id) for r in props.output_resources or [] if getattr(r, "id", None)),
            },
        )


def what_if_changes(result: Any) -> list[dict[str, Any]]:
    """ARM's prediction (a ``WhatIfOperationResult``) as plain data for the plan (``PredictedChange.to_json``'s
    shape): per resource its id and type, the change (create, modify, delete, ignore, deploy, no_change,
    unsupported) and, for a modification, the property paths with their before and after."""
    props = getattr(result, "properties", None)
    changes = getattr(props, "changes", None) or getattr(result, "changes", None) or []
    out = []
    for change in changes:
        out.append(
            {
                "resource_id": change.resource_id,
                "resource_type": resource_type_of(str(change.resource_id)),
                "change": snake(str(text(change.change_type))),
                "delta": [_delta(d) for d in change.delta or []],
                "note": change.unsupported_reason or "",
            }
        )
    return sorted(out, key=lambda c: str(c["resource_id"]))


def resource_type_of(resource_id: str) -> str:
    """``.../providers/Microsoft.Storage/storageAccounts/a/blobServices/default`` ->
    ``Microsoft.Storage/storageAccounts/blobServices``."""
    tail = resource_id.rsplit("/providers/", 1)[-1].split("/") if "/providers/" in resource_id else []
    if len(tail) < 3:
        return ""
    return "/".join([tail[0], *tail[1::2]])


def _delta(change: Any, prefix: str = "") -> dict[str, Any]:
    path = f"{prefix}.{change.path}" if prefix else str(change.path)
    return {
        "path": path,
        "change": snake(str(text(change.property_change_type))),
        "before": change.before,
        "after": change.after,
        "children": [_delta(c, path) for c in change.children or []],
    }


def _secure(entry: Any) -> bool:
    """Whether a parameter or output as ARM reports it (``{"type": "SecureString"}``) is secure."""
    return isinstance(entry, Mapping) and str(entry.get("type", "")).lower() in SECURE_TYPES


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _json_file(base_dir: Path, path: Any, field: str) -> Any:
    if not isinstance(path, str):
        raise ProviderError(f"{field}: an ARM deployment names its {field} file (a local JSON path)", provider="azure")
    try:
        return json.loads((base_dir / path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProviderError(f"{field}: cannot read {path} as JSON ({exc})", provider="azure") from None
