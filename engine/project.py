"""Reading ``mlplan.yaml``: the document, its schema check, the selected environment, per-resource settings
(lifecycle, depends_on) and the checks that settings and promotion policies name resources of the project."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.core.suggest import did_you_mean, did_you_mean_address
from mlplan.engine import variables
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, EnvironmentConfig, Lifecycle, ResourceSpec, project_schema
from mlplan.engine.durations import parse_duration
from mlplan.engine.interpolate import Interpolator, OnError, line_for_path
from mlplan.engine.yamlio import LineDict, YamlError, line_of, load_file, plain

DEFAULT_ENV = "local"
DEFAULT_LOCAL_ENV: dict[str, Any] = {"provider": "local"}


def read(root: Path) -> LineDict:
    """mlplan.yaml as a line-tracking mapping; ValidationFailed when it is missing, unparsable or not a mapping."""
    project_path = root / PROJECT_FILE
    if not project_path.is_file():
        raise ValidationFailed(
            [
                Diagnostic(
                    f"no {PROJECT_FILE} in {root}",
                    hint=f"run mlplan from the project root, pass -C DIR, or create {PROJECT_FILE}"
                    " (`mlplan init` writes one; `mlplan init --example` prints every setting, annotated)",
                )
            ]
        )
    try:
        doc = load_file(project_path, PROJECT_FILE)
    except YamlError as exc:
        raise ValidationFailed([exc.diagnostic]) from exc
    if not isinstance(doc, LineDict):
        raise ValidationFailed([Diagnostic("mlplan.yaml must be a mapping", file=PROJECT_FILE, line=1)])
    return doc


def interpolate(doc: LineDict, env_name: str, interp: Interpolator, out: list[Diagnostic]) -> LineDict:
    """The document with its variables substituted, except where they cannot or need not be yet."""

    def on_error(message: str, path: tuple[str, ...]) -> None:
        out.append(Diagnostic(message, file=PROJECT_FILE, line=line_for_path(doc, path), hint=variables.hint(message)))

    body = LineDict()
    body.line, body.key_lines = doc.line, doc.key_lines
    for k, v in doc.items():
        if k == "outputs":
            body[k] = v  # may reference resource attributes: resolved after apply
        elif k == "environments" and isinstance(v, LineDict):
            # only the selected environment is interpolated: the others' ${env:...} need not be set here
            envs = LineDict()
            envs.line, envs.key_lines = v.line, v.key_lines
            for name, block in v.items():
                envs[name] = _environment_block(block, interp, on_error, (k, name)) if name == env_name else block
            body[k] = envs
        else:
            body[k] = interp.value(v, on_error, (k,))
    return body


def _environment_block(block: Any, interp: Interpolator, on_error: OnError, path: tuple[str, ...]) -> Any:
    """The selected environment, interpolated but for its ``variables:``, which ``variables.resolve`` has
    read already (interpolating them again would report each unset ``${env:X}`` twice)."""
    if not isinstance(block, LineDict) or "variables" not in block:
        return interp.value(block, on_error, path)
    rest = LineDict()
    rest.line, rest.key_lines = block.line, block.key_lines
    rest.update((k, v) for k, v in block.items() if k != "variables")
    out = interp.value(rest, on_error, path)
    out["variables"] = block["variables"]
    return out


def schema_check(body: LineDict, out: list[Diagnostic]) -> None:
    import jsonschema  # local: only planning pays for it

    validator = jsonschema.Draft202012Validator(project_schema())
    for err in sorted(validator.iter_errors(plain(body)), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in allowed]
            if extra:
                path = (*path, str(extra[0]))  # point at the unexpected key itself
        where = ".".join(path) or "(top level)"
        out.append(
            Diagnostic(
                f"{where}: {err.message}",
                file=PROJECT_FILE,
                line=line_for_path(body, path),
                hint="`mlplan init --example` prints every setting, annotated; `mlplan init --schema` its JSON Schema",
            )
        )


def environment(body: LineDict, env_name: str) -> EnvironmentConfig:
    """The selected environment (``local`` exists even when not declared); ValidationFailed if unknown."""
    environments = dict(body.get("environments") or {})
    environments.setdefault(DEFAULT_ENV, DEFAULT_LOCAL_ENV)
    if env_name not in environments:
        known = ", ".join(sorted(environments))
        raise ValidationFailed(
            [
                Diagnostic(
                    f"unknown environment {env_name!r}" + did_you_mean(env_name, environments),
                    file=PROJECT_FILE,
                    line=line_of(body, "environments"),
                    hint=f"use one of: {known} (or add it under environments:)",
                )
            ]
        )
    block: Mapping[str, Any] = environments[env_name]
    lifecycle = block.get("lifecycle") or {}
    ttl = {kind: parse_duration(v) for kind, v in (lifecycle.get("ttl") or {}).items()}
    state = dict(block.get("state") or {"backend": "local"})
    state.setdefault("backend", "local")
    return EnvironmentConfig(
        name=env_name,
        provider=str(block.get("provider", "local")),
        workspace=dict(block.get("workspace") or {}),
        state=state,
        variables=dict(block.get("variables") or {}),
        approval=dict(block.get("approval") or {}),
        ttl=ttl,
        parallelism=int(block.get("parallelism", 10)),
        lines={
            "provider": line_for_path(body, ("environments", env_name, "provider")),
            "backend": line_for_path(body, ("environments", env_name, "state", "backend")),
        },
    )


def apply_settings(
    resources: Mapping[Address, ResourceSpec], settings: Mapping[str, Any], env: EnvironmentConfig
) -> None:
    """Each resource's lifecycle (its settings block, else the environment's ttl for its kind) and depends_on."""
    for res in resources.values():
        _apply_settings(res, settings.get(str(res.address)) or {}, env)


def _apply_settings(res: ResourceSpec, block: Mapping[str, Any], env: EnvironmentConfig) -> None:
    lc = block.get("lifecycle") or {}
    ttl_text = lc.get("ttl")
    ttl = parse_duration(ttl_text) if ttl_text else env.ttl.get(res.address.kind)
    res.lifecycle = Lifecycle(
        prevent_destroy=bool(lc.get("prevent_destroy", False)),
        ignore_changes=tuple(lc.get("ignore_changes") or ()),
        create_before_destroy=bool(lc.get("create_before_destroy", False)),
        ttl=ttl,
        on_remove=str(lc.get("on_remove", "archive")),
    )
    res.depends_on = tuple(Address.parse(a) for a in block.get("depends_on") or ())
    if isinstance(block, LineDict):
        res.depends_on_line = line_of(block, "depends_on")


def check_settings(
    settings: Mapping[str, Any], resources: Mapping[Address, ResourceSpec], body: LineDict, out: list[Diagnostic]
) -> None:
    """Settings for a resource the project does not have, or depending on one, are mistakes: say so."""
    known = {str(a) for a in resources}
    for key, block in settings.items():
        if key not in known:
            out.append(
                Diagnostic(
                    f"settings for {key!r}, which no resource file defines" + did_you_mean_address(key, known),
                    file=PROJECT_FILE,
                    line=line_for_path(body, ("settings", key)),
                    address=key,
                    hint="fix the address (KIND.NAME, see `mlplan state list` or `mlplan graph`)",
                )
            )
            continue
        for i, dep in enumerate((block or {}).get("depends_on") or ()):
            if dep not in known:
                out.append(
                    Diagnostic(
                        f"depends_on {dep!r} refers to nothing" + did_you_mean_address(dep, known),
                        file=PROJECT_FILE,
                        line=line_for_path(body, ("settings", key, "depends_on", str(i))),
                        address=key,
                        hint="depends_on must name a resource of this project (KIND.NAME)",
                    )
                )


def check_promotion(
    promotion: Mapping[str, Any], resources: Mapping[Address, ResourceSpec], body: LineDict, out: list[Diagnostic]
) -> None:
    """A policy for a model the project does not have would gate nothing: say so."""
    models = sorted(a.name for a in resources if a.kind == "model")
    for name in promotion:
        if Address("model", str(name)) not in resources:
            out.append(
                Diagnostic(
                    f"promotion policy for model {name!r}, which this project does not define"
                    + did_you_mean(str(name), models),
                    file=PROJECT_FILE,
                    line=line_for_path(body, ("promotion", str(name))),
                    hint=f"name a model by its name: field (models here: {', '.join(models) or 'none'})",
                )
            )
