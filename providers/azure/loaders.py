"""``mlplan validate``'s second opinion: run the azure-ai-ml loaders on resource files, and say what they refuse
one problem per field, in mlplan's words (the loaders raise marshmallow errors: a dict of field path -> messages,
printed as escaped JSON inside prose).

Lives in providers/ because it imports the Azure SDK (lazily: it is slow); the engine never does.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from mlplan.providers.azure.kinds.common import quiet_sdk
from mlplan.providers.base import Problem

_LOADERS = {
    "data": "load_data",
    "environment": "load_environment",
    "model": "load_model",
    "compute": "load_compute",
    "online_endpoint": "load_online_endpoint",
    "online_deployment": "load_online_deployment",
    "job": "load_job",
}
HINT = "fix it as the Azure ML CLI v2 YAML reference describes (az ml loads the file the same way)"


def loader_problems(kind: str, path: Path, spec: dict[str, Any]) -> list[Problem]:
    """What azure-ai-ml's loader for ``kind`` says of the file (with interpolated values)."""
    loader_name = _LOADERS.get(kind)
    if loader_name is None:
        return []
    override = {k: v for k, v in spec.items() if k != "$schema"}
    sink = io.StringIO()
    try:
        # the SDK prints notices (experimental classes, progress) on import and load: keep them quiet
        with redirect_stdout(sink), redirect_stderr(sink), quiet_sdk():
            import azure.ai.ml as aml

            loader: Any = getattr(aml, loader_name)
            entity = loader(source=str(path), params_override=[override])
            if kind not in _NO_REST_CHECK:
                entity._to_rest_object()
    except Exception as exc:  # the SDK raises many unrelated types
        return translate(kind, str(exc))
    return []


# Endpoints and deployments only become REST bodies with a workspace location: the loader's checks suffice.
_NO_REST_CHECK = frozenset({"online_endpoint", "online_deployment"})


def translate(kind: str, text: str) -> list[Problem]:
    """One Problem per field azure-ai-ml's error names (at that field's path), whole sentences only; the whole
    message, at the top of the file, when it names no field."""
    found = list(_field_errors(text, ()))
    if found:
        return [
            Problem(path, f"{'.'.join(path) or kind}: azure-ai-ml says: {message}", HINT) for path, message in found
        ]
    return [Problem((), f"azure-ai-ml refuses this {kind}: {_prose(text)}", HINT)]


_FAILED = re.compile(r"Validation for \w+ failed:\s*")


def _field_errors(text: str, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, message) for each field of each "Validation for XSchema failed: {json}" in ``text``."""
    for m in _FAILED.finditer(text):
        start = text.find("{", m.end())
        if start < 0:
            continue
        try:
            errors, _end = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(errors, dict) and isinstance(errors.get("errors"), list):
            # azure-ai-ml's wrapper ({"result": "Failed", "errors": [{"message", "path"}]}) around another error
            for item in errors["errors"]:
                where = str(item.get("path") or "*")
                sub = prefix if where == "*" else (*prefix, *where.split("."))
                inner = str(item.get("message") or "")
                nested = list(_field_errors(inner, sub))
                yield from nested or [(sub, _prose(inner))]
        elif isinstance(errors, dict):
            yield from _flatten(errors, prefix)
        return  # the first error is the whole story; what follows it is advice for the reader of the raw text


def _flatten(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict) and node and set(node) <= {"key", "value"} and path:
        # marshmallow's Dict: {entry: {"value": [...]}}: the problem is the entry's
        for value in node.values():
            yield from _flatten(value, path)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _flatten(value, path if key == "_schema" else (*path, str(key)))
    elif isinstance(node, list) and all(isinstance(m, str) for m in node):
        yield path, " ".join(_prose(m) for m in node)
    elif isinstance(node, list):
        # a union field: what each form azure-ai-ml tried said, each form's messages together
        forms = [_summary(form) for form in node]
        yield path, "none of its forms fits: " + " / ".join(f for f in dict.fromkeys(forms) if f)
    else:
        yield path, _prose(str(node))


def _summary(form: Any) -> str:
    return " ".join(f"{'.'.join(p) + ': ' if p else ''}{m}" for p, m in _flatten(form, ()))


_ADVICE = ("If you are trying to configure", "Visit this link", "The easiest way to author")


def _prose(text: str) -> str:
    """The message on one line, without the SDK's closing advice paragraphs (never cut inside a sentence)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip() and not p.strip().startswith(_ADVICE)]
    return re.sub(r"\s+", " ", " ".join(paragraphs)).strip()
