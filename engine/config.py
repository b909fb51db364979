"""Loading the project: ``mlplan.yaml`` and its Azure ML CLI v2 resource files, into a validated Config.

This module holds the data (Config, ResourceSpec, ...) and ``load()``, which runs the steps in order:
read mlplan.yaml (``project``), resolve variables (``variables``), check mlplan.yaml against its schema,
find and load the resource files (``discovery``), add the resources derived from them (``derived``),
apply and check the per-resource settings and the promotion policies (``project``).

Every problem is collected as a Diagnostic (file, line, address, fix) and reported at once.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

from mlplan.core.content import DigestCache
from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.engine.address import Address
from mlplan.engine.interpolate import line_for_path
from mlplan.engine.yamlio import Lines, plain

PROJECT_FILE = "mlplan.yaml"
DIGEST_CACHE = ".mlplan/cache/digests.json"


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
    # mlplan.yaml lines of the environment's settings, for messages: "provider", "backend", "cloud", "credential"
    lines: dict[str, int | None] = field(default_factory=dict)
    # how the provider reaches the workspace besides its coordinates (the azure provider's cloud and credential)
    connection: dict[str, Any] = field(default_factory=dict)

    def where(self, setting: str) -> str:
        line = self.lines.get(setting)
        return f"{PROJECT_FILE}:{line}" if line else PROJECT_FILE


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
    # the job whose output this asset is registered from (a job of the project, or a run in the workspace)
    produced_by: Address | None = None
    # the resource whose file this one comes from (a job for its registered outputs, an endpoint for its
    # traffic split); None for a resource with a file of its own
    derived_from: Address | None = None
    # paths of the keys the Azure ML schema check found wrong (engine/speccheck): a provider's or azure-ai-ml's
    # objection to the same key is the same problem, reported once
    flagged: tuple[tuple[str, ...], ...] = ()
    # references re-routed to another node: a deployment a promotion policy governs serves the champion, so
    # its ("model",) reference resolves through promotion.<model> (engine/policy.py)
    via: dict[tuple[str, ...], Address] = field(default_factory=dict)

    def already_flagged(self, path: tuple[str, ...]) -> bool:
        """Whether the schema check already reported a problem at, inside or around ``path``."""
        n = len(path)
        return bool(path) and any(f[:n] == path or path[: len(f)] == f for f in self.flagged)

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
    output_lines: dict[str, int] = field(default_factory=dict)  # line of each output's value in mlplan.yaml
    digests: DigestCache = field(default_factory=DigestCache)  # file digests by stat, across runs


@functools.cache
def project_schema() -> dict[str, Any]:
    """The JSON Schema of mlplan.yaml (engine/schema/mlplan.schema.json)."""
    text = importlib_resources.files("mlplan.engine").joinpath("schema/mlplan.schema.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


def get_dotted(spec: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``environment.build.path``) of a spec, or None."""
    node: Any = spec
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def load(
    root: Path,
    env_name: str | None = None,
    cli_vars: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load and validate the project at ``root``; raises ValidationFailed listing every problem."""
    # The steps build on the data above, so they import this module: import them here, not at the top.
    from mlplan.engine import derived, discovery, policy, project, variables

    environ = os.environ if environ is None else environ
    out: list[Diagnostic] = []
    doc = project.read(root)
    env_name = env_name or environ.get("MLPLAN_ENV") or doc.get("default_environment") or project.DEFAULT_ENV
    values, sensitive = variables.resolve(doc, env_name, cli_vars or {}, environ, out)
    interp = variables.interpolator(doc, values, environ)
    body = project.interpolate(doc, env_name, interp, out)
    project.schema_check(body, out)
    if out:
        raise ValidationFailed(out)

    env = project.environment(body, env_name)
    project.check_environment(body, env, out)
    settings = body.get("settings") or {}
    resources = discovery.load_resources(root, body, interp, out)
    derived.derive(resources, out)
    project.apply_settings(resources, settings, env)
    project.check_settings(settings, resources, body, out)
    project.check_promotion(body.get("promotion") or {}, resources, body, root, out)
    policy.derive(body.get("promotion") or {}, body, resources, out)
    config = Config(
        root=root,
        project=str(body["project"]),
        environment=env,
        variables=values,
        sensitive_variables=frozenset(sensitive),
        resources=resources,
        outputs=plain(doc.get("outputs") or {}),
        output_lines={str(k): line_for_path(doc, ("outputs", str(k), "value")) or 0 for k in doc.get("outputs") or {}},
        promotion=plain(body.get("promotion") or {}),
        digests=DigestCache(root / DIGEST_CACHE),
    )
    if out:
        raise ValidationFailed(out, partial=config)
    return config
