"""Reading ``mlplan.yaml``: the document, its schema check, the selected environment, per-resource settings
(lifecycle, depends_on) and the checks that settings and promotion policies name resources of the project."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.core.suggest import closest, did_you_mean, did_you_mean_address
from mlplan.engine import variables
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, EnvironmentConfig, Lifecycle, ResourceSpec, project_schema
from mlplan.engine.durations import parse_duration
from mlplan.engine.interpolate import Interpolator, OnError, line_for_path
from mlplan.engine.yamlio import LineDict, YamlError, line_of, load_file, plain

DEFAULT_ENV = "local"
DEFAULT_LOCAL_ENV: dict[str, Any] = {"provider": "local"}
# an azure environment that names no cloud or credential (engine/schema/mlplan.schema.json says so too)
DEFAULT_CLOUD = "AzureCloud"
DEFAULT_CREDENTIAL = "default"
# settings of an environment that only the azure provider reads
AZURE_ONLY = ("cloud", "credential")


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


SCHEMA_HINT = "`mlplan init --example` prints every setting, annotated; `mlplan init --schema` its JSON Schema"


def schema_check(body: LineDict, out: list[Diagnostic]) -> None:
    """Every way mlplan.yaml breaks its JSON Schema, each at the line of the offending key: unknown keys one by
    one with the closest allowed key, enum values with the closest allowed value, patterns with what they mean."""
    import jsonschema  # local: only planning pays for it

    validator = jsonschema.Draft202012Validator(project_schema())
    errors = [e for err in validator.iter_errors(plain(body)) for e in _meant(err)]
    # a misspelt required key is reported once, as the unknown key with its did-you-mean
    misspelt = {(tuple(e.absolute_path), closest(key, _allowed(e))) for e in errors for key in _unexpected(e)}
    found: list[tuple[tuple[str, ...], str, str]] = []  # path, message, hint
    for err in errors:
        path = tuple(str(p) for p in err.absolute_path)
        described = err.schema.get("description") if isinstance(err.schema, dict) else None
        hint = f"{described} ({SCHEMA_HINT})" if described and err.validator in ("pattern", "enum") else SCHEMA_HINT
        if err.validator == "additionalProperties" and _unexpected(err):
            allowed = _allowed(err)
            takes = f"{'.'.join(path) or 'the top level'} takes: {', '.join(sorted(allowed))}"
            for key in _unexpected(err):
                if path[:1] == ("environments",) and SECRET_KEY.search(key):
                    found.append(((*path, key), SECRET_MESSAGE, SECRET_HINT))
                    continue
                found.append(((*path, key), "unknown key" + did_you_mean(key, allowed), f"{takes} ({SCHEMA_HINT})"))
        elif err.validator == "required" and (tuple(err.absolute_path), _missing(err)) in misspelt:
            continue
        elif err.validator == "enum":
            values = [str(v) for v in err.validator_value]
            guess = did_you_mean(err.instance, values) if isinstance(err.instance, str) else ""
            found.append((path, f"{_shown(err.instance)} is not one of {', '.join(values)}{guess}", hint))
        elif err.validator == "type":
            expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            found.append((path, f"{_shown(err.instance)} is not of type {' or '.join(map(str, expected))}", hint))
        elif err.validator == "pattern":
            found.append((path, f"{err.instance!r} is not of the form this setting takes", hint))
        else:
            found.append((path, err.message, hint))
    for path, message, hint in sorted(found, key=lambda f: f[0]):
        where = ".".join(path) or "(top level)"
        out.append(Diagnostic(f"{where}: {message}", file=PROJECT_FILE, line=line_for_path(body, path), hint=hint))


# A key of an environment that would hold a secret: mlplan.yaml is in git, so it never takes one.
SECRET_KEY = re.compile(
    r"secret|passw|token|certificate|connection_?string|sas|(^|_)key$|(^|_)keys?_|private|api_?key", re.IGNORECASE
)
SECRET_MESSAGE = "mlplan.yaml never holds a secret (it is committed): this key is not read"
SECRET_HINT = (
    "remove it; sign in through the environment instead: `credential: environment` reads AZURE_CLIENT_ID,"
    " AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), `credential: azure_cli` uses"
    ' `az login` (README.md, "Azure")'
)


def _shown(value: Any) -> str:
    """A value in a message: a scalar as written; a mapping or a list by its shape only (it may hold a secret
    written where a name was expected, and a whole mapping reads badly anyway)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _meant(err: Any) -> list[Any]:
    """The errors to report for ``err``: for a oneOf/anyOf, those of the branch meant for a value of this
    shape (a string against the enum branch, a mapping against the object branch), else ``err`` itself."""
    if err.validator not in ("oneOf", "anyOf") or not err.context:
        return [err]
    branches: dict[Any, list[Any]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    for subs in branches.values():
        if not any(_wrong_shape(sub, err) for sub in subs):
            return [e for sub in subs for e in _meant(sub)]
    return [err]


def _wrong_shape(sub: Any, err: Any) -> bool:
    """``sub`` says the value is not even of the branch's kind (not a mapping, not one of its strings)."""
    if list(sub.absolute_path) != list(err.absolute_path):
        return False
    if sub.validator == "type":
        return True
    values = sub.validator_value if sub.validator == "enum" else [sub.validator_value]
    return sub.validator in ("enum", "const") and not any(type(v) is type(err.instance) for v in values)


def _allowed(err: Any) -> list[str]:
    return [str(k) for k in err.schema.get("properties", {})] if isinstance(err.schema, dict) else []


def _unexpected(err: Any) -> list[str]:
    """The keys an ``additionalProperties`` error is about (none for other errors)."""
    if err.validator != "additionalProperties" or not isinstance(err.instance, dict):
        return []
    allowed = set(_allowed(err))
    return [str(k) for k in err.instance if k not in allowed]


def _missing(err: Any) -> str | None:
    """The property a ``required`` error is about."""
    return next((p for p in err.validator_value if err.message == f"{p!r} is a required property"), None)


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
    provider = str(block.get("provider", "local"))
    connection = (
        {
            "cloud": plain(block.get("cloud", DEFAULT_CLOUD)),
            "credential": str(block.get("credential", DEFAULT_CREDENTIAL)),
        }
        if provider == "azure"
        else {}
    )
    return EnvironmentConfig(
        name=env_name,
        provider=provider,
        workspace=dict(block.get("workspace") or {}),
        state=state,
        variables=dict(block.get("variables") or {}),
        approval=dict(block.get("approval") or {}),
        ttl=ttl,
        parallelism=int(block.get("parallelism", 10)),
        lines={
            "provider": line_for_path(body, ("environments", env_name, "provider")),
            "backend": line_for_path(body, ("environments", env_name, "state", "backend")),
            **{key: line_for_path(body, ("environments", env_name, key)) for key in ("cloud", "credential")},
        },
        connection=connection,
    )


_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def check_environment(body: LineDict, env: EnvironmentConfig, out: list[Diagnostic]) -> None:
    """What the schema cannot tell of the selected environment (the others may hold ``${...}`` not yet
    interpolated): azure-only settings on another provider, a subscription ID that is no GUID, a custom cloud's
    endpoints that are no https URLs."""
    envs = body.get("environments") or {}
    block = envs.get(env.name) if isinstance(envs, Mapping) else None
    if not isinstance(block, Mapping):
        return
    base = ("environments", env.name)

    def problem(path: tuple[str, ...], message: str, hint: str) -> None:
        where = ".".join((*base, *path))
        out.append(
            Diagnostic(f"{where}: {message}", file=PROJECT_FILE, line=line_for_path(body, (*base, *path)), hint=hint)
        )

    if env.provider != "azure":
        for key in AZURE_ONLY:
            if key in block:
                problem(
                    (key,),
                    f"only an azure environment takes {key} (this one's provider is {env.provider})",
                    f"remove {key}:, or set provider: azure",
                )
        return
    workspace = block.get("workspace")
    subscription = workspace.get("subscription_id") if isinstance(workspace, Mapping) else None
    if isinstance(subscription, str) and not _GUID.match(subscription):
        problem(
            ("workspace", "subscription_id"),
            f"{subscription!r} is not a subscription ID (a GUID such as 00000000-0000-0000-0000-000000000000)",
            "`az account show --query id -o tsv` prints the ID of the subscription you are signed in to",
        )
    cloud = block.get("cloud")
    if isinstance(cloud, Mapping):
        for key in ("resource_manager", "active_directory"):
            url = cloud.get(key)
            if isinstance(url, str) and not _https_url(url):
                problem(
                    ("cloud", key),
                    f"{url!r} is not an https URL",
                    "write the endpoint as Azure publishes it, e.g. https://management.azure.com/ (azure-core never"
                    " sends a bearer token over plain http)",
                )


def _https_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


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
    promotion: Mapping[str, Any],
    resources: Mapping[Address, ResourceSpec],
    body: LineDict,
    root: Path,
    out: list[Diagnostic],
) -> None:
    """What the schema cannot tell of the promotion policies (it has checked their keys, types and ranges):
    the model and the endpoint they name must be this project's, exact_threshold must steer something, a
    scoring adapter's file must exist."""
    from mlplan.engine.promotion import exact_threshold_problem

    models = sorted(a.name for a in resources if a.kind == "model")
    endpoints = sorted(a.name for a in resources if a.kind == "online_endpoint")
    for name, policy in promotion.items():
        name = str(name)

        def problem(message: str, key: tuple[str, ...], hint: str, name: str = name) -> None:
            line = line_for_path(body, ("promotion", name, *key))
            out.append(Diagnostic(message, file=PROJECT_FILE, line=line, address=f"model.{name}", hint=hint))

        if Address("model", name) not in resources:
            problem(
                f"promotion policy for model {name!r}, which this project does not define" + did_you_mean(name, models),
                (),
                f"name a model by its name: field (models here: {', '.join(models) or 'none'})",
            )
        policy = policy or {}
        endpoint = policy.get("endpoint")
        if endpoint is not None and Address("online_endpoint", str(endpoint)) not in resources:
            problem(
                f"promotion.{name}.endpoint: {endpoint!r} is not an online endpoint of this project"
                + did_you_mean(str(endpoint), endpoints),
                ("endpoint",),
                "name the online_endpoint (by its name: field) that serves the model and whose traffic the policy"
                f" governs (online endpoints here: {', '.join(endpoints) or 'none'})",
            )
        threshold = exact_threshold_problem(policy)
        if threshold is not None:
            problem(f"promotion.{name}.exact_threshold: {threshold}", ("exact_threshold",), _METHOD_HINT)
        scoring = policy.get("scoring")
        if isinstance(scoring, Mapping) and isinstance(scoring.get("adapter"), str):
            file, _, function = scoring["adapter"].rpartition(":")
            if not (root / file).is_file():
                problem(
                    f"promotion.{name}.scoring.adapter: no file {file} (for the function {function})",
                    ("scoring", "adapter"),
                    f'the path is relative to {PROJECT_FILE}: "path/to/file.py:function"',
                )


_METHOD_HINT = (
    "methods: midp (the default), exact, chi2, chi2-uncorrected, auto (exact below exact_threshold discordant rows,"
    " else chi2)"
)
