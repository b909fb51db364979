"""A session: a project opened for one command (configuration, graph, provider, state backend) and
the state lock. The operations themselves live in their own modules (workflow, freshness, outputs,
imports); none prints or prompts.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlplan.core.errors import (
    Diagnostic,
    LockError,
    MlplanError,
    ProviderError,
    StateError,
    ValidationFailed,
)
from mlplan.engine import graph as graph_mod
from mlplan.engine import outputs
from mlplan.engine.config import PROJECT_FILE, Config, get_dotted, load
from mlplan.engine.graph import Graph
from mlplan.engine.planner import validate
from mlplan.engine.redact import RedactingProvider, Redactor
from mlplan.providers import REGISTRY, load_provider
from mlplan.providers.base import Context, Provider
from mlplan.state import registry
from mlplan.state.backend import Backend, LockInfo
from mlplan.state.model import State


@dataclass
class Session:
    config: Config
    graph: Graph
    backend: Backend
    provider: Provider
    ctx: Context
    lock_timeout: float = 0.0
    redactor: Redactor = field(default_factory=lambda: Redactor(()))
    lock: LockInfo | None = None  # the state lock while locked_state holds it; every write is made under it
    warnings: tuple[Diagnostic, ...] = ()  # what the provider warns of (shown with the plan and by validate)


def open_backend(config: Config) -> Backend:
    """The environment's state backend; one this version cannot open fails when used (file:line), so that
    commands that do not need state (``validate``) still work."""
    env = config.environment
    settings = dict(env.state)
    if settings.get("backend") == "azureblob":
        # an Azure state backend signs in as the azure provider does (state/ does not import the providers);
        # an azure environment's own credential is the default
        settings.setdefault("credential", env.connection.get("credential", "default"))
        settings["credential_factory"] = _azure_credential(env.connection)
    try:
        return registry.open_backend(settings, config.root, env.name)
    except StateError as exc:
        return registry.Unavailable(StateError(f"{env.where('backend')}: {exc}"))


def _azure_credential(connection: Mapping[str, Any]) -> Callable[[str], Any]:
    """kind -> the azure-identity credential the azure provider makes for ``credential: <kind>``, against the
    environment's cloud (an azure environment's ``cloud:``, else AzureCloud). Imported when first called."""

    def make(kind: str) -> Any:
        from mlplan.providers.azure.clients import connection_verify
        from mlplan.providers.azure.cloud import cloud_of
        from mlplan.providers.azure.credentials import make_credential

        return make_credential(kind, cloud_of(connection.get("cloud", "AzureCloud")), verify=connection_verify())

    return make


def require_ready(session: Session) -> None:
    """Refuse (with file:line) to plan or apply with a provider that can only validate so far."""
    provider, env = session.provider, session.config.environment
    if not provider.ready:
        raise ProviderError(
            f"{env.where('provider')}: environment {env.name!r} uses the {provider.name} provider, which this"
            f" version of mlplan can validate (`mlplan -e {env.name} validate`, offline) but not plan or apply"
            " yet; the README says what works where",
            provider=provider.name,
        )


def open_provider(config: Config) -> tuple[Provider, Redactor]:
    """The environment's provider, wrapped so that secrets never leave it in clear: the values of sensitive
    variables, and secrets written into resource files (the fields the provider names as ``secret_paths``,
    such as a compute's admin password)."""
    name = config.environment.provider
    if name not in REGISTRY:
        raise MlplanError(
            f"provider {name!r} of environment {config.environment.name!r} is not available in this version"
            f" (available: {', '.join(sorted(REGISTRY))})"
        )
    provider: Provider = load_provider(name)
    secrets = [str(config.variables[v]) for v in config.sensitive_variables if config.variables.get(v) is not None]
    for res in config.resources.values():
        rt = provider.resource_type(res.address.kind)
        for path in rt.secret_paths if rt is not None else ():
            value = get_dotted(res.spec, path)
            if isinstance(value, str | int):
                secrets.append(str(value))
    redactor = Redactor(secrets, config.project)
    return (RedactingProvider(provider, redactor) if redactor else provider), redactor


def open_session(
    root: Path,
    env: str | None,
    cli_vars: Mapping[str, str] | None = None,
    lock_timeout: float = 0.0,
    log: Callable[[str], None] = lambda _m: None,
) -> Session:
    config, graph, provider, redactor, warnings = _load_all(root, env, cli_vars)
    # What was just loaded lives as long as the command: keep the cyclic GC from walking it again
    # and again (a fifth of a large plan's time otherwise).
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)  # and collect rarely: a command lives seconds, not days
    target = config.environment
    ctx = Context(config.project, target.name, config.root, target.workspace, log, connection=target.connection)
    provider.bind(ctx)
    return Session(config, graph, open_backend(config), provider, ctx, lock_timeout, redactor, warnings=warnings)


def _load_all(
    root: Path, env: str | None, cli_vars: Mapping[str, str] | None
) -> tuple[Config, Graph, Provider, Redactor, tuple[Diagnostic, ...]]:
    """Load, build the graph and ask the provider; every problem of every step reported at once."""
    problems: list[Diagnostic] = []
    try:
        config = load(root, env, cli_vars)
    except ValidationFailed as exc:
        if not isinstance(exc.partial, Config):
            raise
        config, problems = exc.partial, list(exc.diagnostics)
    graph: Graph | None = None
    try:
        graph = graph_mod.build(config)
    except ValidationFailed as exc:
        problems += exc.diagnostics
    provider, redactor = open_provider(config)
    warnings: list[Diagnostic] = []
    try:
        warnings = validate(config, provider)
    except ValidationFailed as exc:
        problems += exc.diagnostics
    problems += outputs.check(config, provider)
    if problems or graph is None:
        raise ValidationFailed(problems, partial=config)
    return config, graph, provider, redactor, tuple(warnings)


@dataclass
class StateSession:
    """What ``mlplan state ...`` needs: the environment's state backend, opened from mlplan.yaml alone."""

    config: Config
    backend: Backend
    lock_timeout: float = 0.0
    lock: LockInfo | None = None


def open_state_session(root: Path, env: str | None, lock_timeout: float = 0.0) -> StateSession:
    """The environment's backend, for commands that read or repair state: problems in resource files (a variable
    only they use, a typo) do not stop them, as Terraform's state commands do not evaluate the configuration.
    A problem in mlplan.yaml does: it could name another backend than the one meant."""
    try:
        config = load(root, env)
    except ValidationFailed as exc:
        if not isinstance(exc.partial, Config) or any(d.file == PROJECT_FILE for d in exc.diagnostics):
            raise
        config = exc.partial
    return StateSession(config, open_backend(config), lock_timeout)


@contextmanager
def locked_state(session: Session | StateSession, operation: str) -> Iterator[State]:
    with session.backend.lock(operation, session.lock_timeout) as lock:
        session.lock = lock
        try:
            state = session.backend.read()
            gc.freeze()
            yield state
        finally:
            session.lock = None


def held_lock(session: Session | StateSession) -> LockInfo:
    """The state lock the session holds (``locked_state``): what every state write is made under."""
    if session.lock is None:
        raise LockError(
            f"the state at {session.backend.describe()} would be written without holding the state lock:"
            " write only inside locked_state(session, ...)"
        )
    return session.lock
