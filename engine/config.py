"""Loading the project: ``mlplan.yaml`` and its Azure ML CLI v2 resource files, into a validated Config.

Every problem is collected as a Diagnostic (file, line, address, fix) and reported at once.
"""

from __future__ import annotations

import functools
import glob
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import yaml

from mlplan.core import kinds
from mlplan.core.content import DigestCache
from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.engine.address import Address
from mlplan.engine.durations import parse_duration
from mlplan.engine.interpolate import Interpolator, line_for_path
from mlplan.engine.yamlio import LineDict, Lines, YamlError, line_of, load_file, load_plain, plain

PROJECT_FILE = "mlplan.yaml"
DIGEST_CACHE = ".mlplan/cache/digests.json"
DEFAULT_ENV = "local"
DEFAULT_LOCAL_ENV: dict[str, Any] = {"provider": "local"}


@dataclass(frozen=True, slots=True)
class Lifecycle:
    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    create_before_destroy: bool = False
    ttl: timedelta | None = None
    on_remove: str = "archive"


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    provider: str
    workspace: dict[str, Any]
    state: dict[str, Any]
    variables: dict[str, Any]
    approval: dict[str, Any]
    ttl: dict[str, timedelta]
    parallelism: int


@dataclass
class ResourceSpec:
    """One desired resource: its address, its interpolated spec and where it came from."""

    address: Address
    spec: dict[str, Any]
    file: str  # path relative to the project root, for messages
    line: int
    base_dir: Path  # relative paths in the spec resolve against this
    subtype: str | None = None  # e.g. amlcompute, managed, command
    depends_on: tuple[Address, ...] = ()
    depends_on_line: int | None = None  # line of its depends_on in mlplan.yaml
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    lines: Lines | None = None  # line numbers of the file's keys, for messages
    # edges mlplan knows without being told: a produced model's job, a traffic split's deployments
    implicit_deps: tuple[Address, ...] = ()
    produced_by: Address | None = None  # the job whose output this asset is registered from

    def line_of(self, path: tuple[str, ...]) -> int:
        found = self.lines.line(path) if self.lines is not None else None
        return found or self.line

    def diag(self, message: str, path: tuple[str, ...] = (), hint: str | None = None) -> Diagnostic:
        return Diagnostic(message, file=self.file, line=self.line_of(path), address=str(self.address), hint=hint)


@dataclass
class Config:
    root: Path
    project: str
    environment: EnvironmentConfig
    variables: dict[str, Any]
    sensitive_variables: frozenset[str]
    resources: dict[Address, ResourceSpec]
    outputs: dict[str, dict[str, Any]]
    promotion: dict[str, Any]
    project_file: str = PROJECT_FILE
    digests: DigestCache = field(default_factory=DigestCache)  # file digests by stat, across runs


@functools.cache
def project_schema() -> dict[str, Any]:
    text = importlib_resources.files("mlplan.engine").joinpath("schema/mlplan.schema.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


class _Collector:
    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, d: Diagnostic) -> None:
        self.items.append(d)


def load(
    root: Path,
    env_name: str | None = None,
    cli_vars: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load and validate the project at ``root``; raises ValidationFailed listing every problem."""
    environ = os.environ if environ is None else environ
    out = _Collector()
    project_path = root / PROJECT_FILE
    if not project_path.is_file():
        raise ValidationFailed(
            [
                Diagnostic(
                    f"no {PROJECT_FILE} in {root}",
                    hint=f"run mlplan from the project root, pass -C DIR, or create {PROJECT_FILE}"
                    " (see docs/mlplan.example.yaml)",
                )
            ]
        )
    try:
        doc = load_file(project_path, PROJECT_FILE)
    except YamlError as exc:
        raise ValidationFailed([exc.diagnostic]) from exc
    if not isinstance(doc, LineDict):
        raise ValidationFailed([Diagnostic("mlplan.yaml must be a mapping", file=PROJECT_FILE, line=1)])

    env_name = env_name or environ.get("MLPLAN_ENV") or doc.get("default_environment") or DEFAULT_ENV
    variables, sensitive = _variables(doc, env_name, cli_vars or {}, environ, out)

    def on_error(message: str, path: tuple[str, ...]) -> None:
        out.add(
            Diagnostic(
                message,
                file=PROJECT_FILE,
                line=line_for_path(doc, path),
                hint=_var_hint(message),
            )
        )

    declared = frozenset((doc.get("variables") or {}).keys()) if isinstance(doc.get("variables"), dict) else frozenset()
    interp = Interpolator(variables, environ, declared)
    # Outputs may reference resource attributes resolved after apply: interpolate them later.
    outputs_raw = doc.get("outputs")
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
                envs[name] = interp.value(block, on_error, (k, name)) if name == env_name else block
            body[k] = envs
        else:
            body[k] = interp.value(v, on_error, (k,))
    _schema_check(body, out)
    if out.items:
        raise ValidationFailed(out.items)

    environments = dict(body.get("environments") or {})
    environments.setdefault(DEFAULT_ENV, DEFAULT_LOCAL_ENV)
    if env_name not in environments:
        known = ", ".join(sorted(environments))
        raise ValidationFailed(
            [
                Diagnostic(
                    f"unknown environment {env_name!r}",
                    file=PROJECT_FILE,
                    line=line_of(body, "environments"),
                    hint=f"use one of: {known} (or add it under environments:)",
                )
            ]
        )
    env = _environment(env_name, environments[env_name])
    settings = body.get("settings") or {}
    resources = _load_resources(root, body, interp, env, settings, out)
    _check_settings(settings, resources, body, out)
    _check_promotion(body.get("promotion") or {}, resources, body, out)
    config = Config(
        root=root,
        project=str(body["project"]),
        environment=env,
        variables=variables,
        sensitive_variables=frozenset(sensitive),
        resources=resources,
        outputs=plain(outputs_raw or {}),
        promotion=plain(body.get("promotion") or {}),
        digests=DigestCache(root / DIGEST_CACHE),
    )
    if out.items:
        raise ValidationFailed(out.items, partial=config)
    return config


def _var_hint(message: str) -> str:
    if message.endswith("has no value"):
        return "pass --var NAME=VALUE, set it in the environment's variables: block, or give it a default"
    if message.startswith("unknown variable"):
        return "declare it under variables: in mlplan.yaml, or pass --var NAME=VALUE"
    return "set it in the environment before running mlplan"


def _variables(
    doc: LineDict,
    env_name: str,
    cli_vars: Mapping[str, str],
    environ: Mapping[str, str],
    out: _Collector,
) -> tuple[dict[str, Any], set[str]]:
    """Precedence: --var > the environment's variables block > defaults."""
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
                out.add(
                    Diagnostic(
                        f"environment {env_name!r} sets undeclared variable {name!r}",
                        file=PROJECT_FILE,
                        line=line_for_path(doc, path),
                        hint="declare it under variables: with a default",
                    )
                )

            def on_err(msg: str, p: tuple[str, ...], path: tuple[str, ...] = path) -> None:
                out.add(Diagnostic(msg, file=PROJECT_FILE, line=line_for_path(doc, path), hint=_var_hint(msg)))

            values[name] = plain(env_only.value(value, on_err, path))
    for name, text in cli_vars.items():
        if name not in values and name not in types:
            out.add(
                Diagnostic(
                    f"--var {name}=... sets a variable that is not declared",
                    file=PROJECT_FILE,
                    line=line_of(doc, "variables"),
                    hint=f"declare {name!r} under variables: in mlplan.yaml, or fix the name",
                )
            )
            continue
        values[name] = _coerce(text, types.get(name))
    return values, sensitive


def _coerce(text: str, type_name: str | None) -> Any:
    if type_name in ("number", "boolean", "list", "map"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    return text


def _schema_check(body: LineDict, out: _Collector) -> None:
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
        out.add(
            Diagnostic(
                f"{where}: {err.message}",
                file=PROJECT_FILE,
                line=line_for_path(body, path),
                hint="see docs/mlplan.example.yaml or the JSON Schema engine/schema/mlplan.schema.json",
            )
        )


def _environment(name: str, block: Mapping[str, Any]) -> EnvironmentConfig:
    lifecycle = block.get("lifecycle") or {}
    ttl = {kind: parse_duration(v) for kind, v in (lifecycle.get("ttl") or {}).items()}
    state = dict(block.get("state") or {"backend": "local"})
    state.setdefault("backend", "local")
    return EnvironmentConfig(
        name=name,
        provider=str(block.get("provider", "local")),
        workspace=dict(block.get("workspace") or {}),
        state=state,
        variables=dict(block.get("variables") or {}),
        approval=dict(block.get("approval") or {}),
        ttl=ttl,
        parallelism=int(block.get("parallelism", 10)),
    )


def _resource_globs(body: LineDict) -> list[tuple[str, str | None, int | None]]:
    entries = body.get("resources")
    if entries is None:
        entries = ["**/*.yml", "**/*.yaml"]
    out: list[tuple[str, str | None, int | None]] = []
    for i, entry in enumerate(entries):
        line = line_for_path(body, ("resources", str(i)))
        if isinstance(entry, str):
            out.append((entry, None, line))
        else:
            out.append((str(entry["glob"]), entry.get("kind"), line))
    return out


def _load_resources(
    root: Path,
    body: LineDict,
    interp: Interpolator,
    env: EnvironmentConfig,
    settings: Mapping[str, Any],
    out: _Collector,
) -> dict[Address, ResourceSpec]:
    resources: dict[Address, ResourceSpec] = {}
    seen_files: set[str] = set()
    root_text = str(root)
    explicit = body.get("resources") is not None
    for pattern, glob_kind, glob_line in _resource_globs(body):
        matches = sorted(glob.glob(pattern, root_dir=root, recursive=True))
        if not matches and explicit and not glob.has_magic(pattern):
            out.add(
                Diagnostic(
                    f"resource file {pattern!r} does not exist",
                    file=PROJECT_FILE,
                    line=glob_line,
                    hint="fix the path under resources:, relative to the project root",
                )
            )
        for rel in matches:
            # os.path, not Path.resolve: this loop runs once per file of a large project
            key = os.path.normpath(os.path.join(root_text, rel))
            if key in seen_files or os.path.basename(rel) == PROJECT_FILE or _is_hidden(rel) or not os.path.isfile(key):
                continue
            seen_files.add(key)
            display = os.path.normpath(rel)
            spec = _load_resource_file(root, Path(key), display, glob_kind, interp, env, settings, out, explicit)
            if spec is None:
                continue
            if spec.address in resources:
                other = resources[spec.address]
                out.add(
                    Diagnostic(
                        f"duplicate address {spec.address}: also defined in {other.file}:{other.line_of(('name',))}",
                        file=spec.file,
                        line=spec.line_of(("name",)),
                        address=str(spec.address),
                        hint="give one of them another name (names must be unique per kind)",
                    )
                )
                continue
            resources[spec.address] = spec
    _derive(resources, settings, env, out)
    return resources


# A produced asset's path until its job has run: replaced by the run's name at apply time.
RUN_PLACEHOLDER = "{run of %s}"
OUTPUT_KINDS = {
    "custom_model": "model",
    "mlflow_model": "model",
    "triton_model": "model",
    "uri_folder": "data",
    "uri_file": "data",
    "mltable": "data",
}


def _derive(
    resources: dict[Address, ResourceSpec], settings: Mapping[str, Any], env: EnvironmentConfig, out: _Collector
) -> None:
    """Resources implied by others: assets registered from job outputs, endpoint traffic splits."""
    derived: list[ResourceSpec] = []
    for res in list(resources.values()):
        if res.address.kind == "job":
            derived += _job_outputs(res, out)
        elif res.address.kind == "online_endpoint" and res.spec.get("traffic") is not None:
            traffic = _traffic(res, resources, out)
            if traffic is not None:
                derived.append(traffic)
    for spec in derived:
        if spec.address in resources:
            other = resources[spec.address]
            out.add(
                spec.diag(
                    f"{spec.address} is produced by {spec.file} and also defined in {other.file}:{other.line}",
                    hint="remove one of the two definitions (a job output with a name registers the asset)",
                )
            )
            continue
        _apply_settings(spec, settings.get(str(spec.address)) or {}, env)
        resources[spec.address] = spec


def _job_outputs(job: ResourceSpec, out: _Collector) -> list[ResourceSpec]:
    found = []
    for output, decl in (job.spec.get("outputs") or {}).items():
        if not isinstance(decl, dict) or not decl.get("name"):
            continue
        otype = str(decl.get("type", "uri_folder")).lower()
        kind = OUTPUT_KINDS.get(otype)
        if kind is None:
            out.add(
                job.diag(
                    f"output {output!r}: type {otype!r} cannot be registered",
                    ("outputs", output, "type"),
                    hint=f"use one of {', '.join(OUTPUT_KINDS)}",
                )
            )
            continue
        spec = {
            "name": str(decl["name"]),
            "type": otype,
            "path": f"azureml://jobs/{RUN_PLACEHOLDER % job.address}/outputs/{output}",
        }
        for key in ("version", "description", "tags"):
            if key in decl:
                spec[key] = decl[key]
        found.append(
            ResourceSpec(
                address=Address(kind, str(decl["name"])),
                spec=spec,
                file=job.file,
                line=job.line_of(("outputs", output)),
                base_dir=job.base_dir,
                subtype=otype,
                lines=job.lines.sub("outputs", output) if job.lines is not None else None,
                implicit_deps=(job.address,),
                produced_by=job.address,
            )
        )
    return found


def _traffic(endpoint: ResourceSpec, resources: Mapping[Address, ResourceSpec], out: _Collector) -> ResourceSpec | None:
    """An endpoint's ``traffic:`` becomes its own step, after every deployment of the endpoint."""
    traffic = endpoint.spec.get("traffic")
    name = endpoint.address.name
    deployments = sorted(a for a in resources if a.kind == "online_deployment" and a.name.startswith(name + "/"))
    known = {a.name.split("/", 1)[1] for a in deployments}
    if not isinstance(traffic, dict) or not all(isinstance(v, int) and 0 <= v <= 100 for v in traffic.values()):
        out.add(
            endpoint.diag(
                "traffic must map deployment names to whole percentages",
                ("traffic",),
                hint="e.g. traffic: {blue: 90, green: 10}",
            )
        )
        return None
    unknown = sorted(set(traffic) - known)
    if unknown:
        out.add(
            endpoint.diag(
                f"traffic names {', '.join(unknown)}, which is not a deployment of endpoint {name}",
                ("traffic",),
                hint=f"deployments of {name} in this project: {', '.join(sorted(known)) or 'none'}",
            )
        )
        return None
    total = sum(traffic.values())
    if total not in (0, 100):
        out.add(
            endpoint.diag(
                f"traffic adds up to {total}; it must add up to 100 (or 0)", ("traffic",), hint="adjust the percentages"
            )
        )
        return None
    return ResourceSpec(
        address=Address("traffic", name),
        spec={"endpoint_name": name, "traffic": dict(traffic)},
        file=endpoint.file,
        line=endpoint.line_of(("traffic",)),
        base_dir=endpoint.base_dir,
        implicit_deps=(endpoint.address, *deployments),
    )


def _is_hidden(rel: str) -> bool:
    parts = rel.split(os.sep)
    return any(p.startswith(".") for p in parts) or "node_modules" in parts


def _load_resource_file(
    root: Path,
    path: Path,
    display: str,
    glob_kind: str | None,
    interp: Interpolator,
    env: EnvironmentConfig,
    settings: Mapping[str, Any],
    out: _Collector,
    explicit: bool,
) -> ResourceSpec | None:
    try:
        raw = load_plain(path, display)
    except YamlError as exc:
        out.add(exc.diagnostic)
        return None
    lines = Lines(path, display)
    if not isinstance(raw, dict):
        if explicit:
            out.add(Diagnostic("a resource file must be a YAML mapping", file=display, line=1))
        return None

    schema_url = raw.get("$schema")
    kind: str | None = glob_kind
    subtype: str | None = None
    if isinstance(schema_url, str):
        found = kinds.kind_from_schema(schema_url)
        if found is None and glob_kind is None:
            out.add(
                Diagnostic(
                    f"unknown kind: $schema {schema_url!r} is not an Azure ML CLI v2 schema mlplan knows",
                    file=display,
                    line=lines.line(("$schema",)),
                    hint="use a schema from the table in README.md (e.g. .../latest/environment.schema.json),"
                    " or set `kind:` on the resources glob",
                )
            )
            return None
        if found is not None:
            kind, subtype = found
    if kind is None:
        if not explicit:
            return None  # default glob: ignore YAML files that are not resources (CI files, MLTable...)
        out.add(
            Diagnostic(
                "unknown kind: the file has no $schema and its resources glob sets no kind",
                file=display,
                line=1,
                hint="add `$schema: https://azuremlschemas.azureedge.net/latest/<kind>.schema.json`"
                " or write the glob as {glob: ..., kind: environment}",
            )
        )
        return None

    pending: list[Diagnostic] = []  # interpolation errors get the address once it is known

    def on_error(message: str, p: tuple[str, ...]) -> None:
        pending.append(Diagnostic(message, file=display, line=lines.line(p), hint=_var_hint(message)))

    spec = interp.value(raw, on_error)
    name = _resource_name(kind, spec, path)
    guess = f"{kind}.{name}" if name else None
    for d in pending:
        out.add(replace(d, address=guess))
    if name is None:
        out.add(
            Diagnostic(
                f"a {kind} needs a name",
                file=display,
                line=1,
                hint="add `name: <name>`" + (" and `endpoint_name: <endpoint>`" if kind == "online_deployment" else ""),
            )
        )
        return None
    try:
        address = Address.parse(f"{kind}.{name}")
    except ValueError:
        out.add(
            Diagnostic(
                f"invalid {kind} name {name!r}",
                file=display,
                line=lines.line(("name",)),
                hint="names start with a letter or digit and use letters, digits, '-', '_' and '.'",
            )
        )
        return None
    if subtype is None and isinstance(spec.get("type"), str):
        subtype = spec["type"].lower()

    res = ResourceSpec(
        address=address,
        spec=spec,
        file=display,
        line=1,
        base_dir=path.parent,
        subtype=subtype,
        lines=lines,
    )
    _check_paths(res, out)
    _apply_settings(res, settings.get(str(address)) or {}, env)
    return res


def _resource_name(kind: str, spec: Mapping[str, Any], path: Path) -> str | None:
    name = spec.get("name")
    if kind == "arm_deployment":
        return str(name) if name else path.stem.removesuffix(".template").removesuffix(".parameters")
    if kind == "job" and not name:
        return path.stem
    if not name:
        return None
    if kind == "online_deployment":
        endpoint = spec.get("endpoint_name")
        return f"{endpoint}/{name}" if endpoint else None
    return str(name)


def get_dotted(spec: Mapping[str, Any], dotted: str) -> Any:
    node: Any = spec
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _check_paths(res: ResourceSpec, out: _Collector) -> None:
    for dotted in kinds.PATH_FIELDS.get(res.address.kind, ()):
        value = get_dotted(res.spec, dotted)
        if not isinstance(value, str) or kinds.is_remote(value):
            continue
        if not os.path.exists(os.path.join(res.base_dir, value)):
            out.add(
                res.diag(
                    f"{dotted}: referenced file {value!r} does not exist",
                    tuple(dotted.split(".")),
                    hint=f"paths are relative to {res.file}; fix the path or create the file",
                )
            )


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


def _check_promotion(
    promotion: Mapping[str, Any], resources: Mapping[Address, ResourceSpec], body: LineDict, out: _Collector
) -> None:
    """A policy for a model the project does not have would gate nothing: say so."""
    models = sorted(a.name for a in resources if a.kind == "model")
    for name in promotion:
        if Address("model", str(name)) not in resources:
            out.add(
                Diagnostic(
                    f"promotion policy for model {name!r}, which this project does not define",
                    file=PROJECT_FILE,
                    line=line_for_path(body, ("promotion", str(name))),
                    hint=f"name a model by its name: field (models here: {', '.join(models) or 'none'})",
                )
            )


def _check_settings(
    settings: Mapping[str, Any], resources: Mapping[Address, ResourceSpec], body: LineDict, out: _Collector
) -> None:
    known = {str(a) for a in resources}
    for key, block in settings.items():
        if key not in known:
            out.add(
                Diagnostic(
                    f"settings for {key!r}, which no resource file defines",
                    file=PROJECT_FILE,
                    line=line_for_path(body, ("settings", key)),
                    address=key,
                    hint="fix the address (KIND.NAME, see `mlplan state list` or `mlplan graph`)",
                )
            )
            continue
        for i, dep in enumerate((block or {}).get("depends_on") or ()):
            if dep not in known:
                out.add(
                    Diagnostic(
                        f"depends_on {dep!r} refers to nothing",
                        file=PROJECT_FILE,
                        line=line_for_path(body, ("settings", key, "depends_on", str(i))),
                        address=key,
                        hint="depends_on must name a resource of this project (KIND.NAME)",
                    )
                )
