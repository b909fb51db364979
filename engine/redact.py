"""Keeping sensitive variable values out of plans, state and output.

Values of variables declared ``sensitive: true`` are replaced, wherever they appear in what a
provider reports or the engine wants, by a marker holding a short hash: equal secrets still
compare equal (no false diffs), a changed secret still shows as a change, and nothing in clear
reaches the plan, the state or the terminal. The provider itself still receives clear values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlplan.core.errors import ProviderError, StalePlanError
from mlplan.providers.base import (
    Context,
    Desired,
    Diff,
    Observed,
    PredictedChange,
    Problem,
    Progress,
    Provider,
    ResourceType,
    secret_hash,
)


class Redactor:
    def __init__(self, secrets: Iterable[str], salt: str = "") -> None:
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 3}, key=len, reverse=True)
        self.salt = salt

    def marker(self, secret: str) -> str:
        # a slow, salted hash (made when first needed, not at start-up): markers end up in PR
        # comments, where a fast one would let anyone test guesses of a weak secret
        return f"(sensitive:{secret_hash(secret, self.salt).split(':')[1][:10]})"

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for s in self.secrets:
                if s in value:
                    value = value.replace(s, self.marker(s))
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def restore(self, value: Any) -> Any:
        """The clear values behind the markers in ``value`` (a planned spec, at apply). A marker of a
        secret this run does not know means the secret changed since the plan: refused."""
        if isinstance(value, str):
            if MARKER not in value:
                return value
            for s in self.secrets:
                value = value.replace(self.marker(s), s)
            if MARKER in value:
                raise StalePlanError(
                    "the plan holds a sensitive value this run does not know (a sensitive variable changed"
                    " since the plan was made). Run `mlplan plan --out FILE` again."
                )
            return value
        if isinstance(value, dict):
            return {k: self.restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.restore(v) for v in value]
        return value

    def observed(self, obs: Observed | None) -> Observed | None:
        if obs is None:
            return None
        return replace(obs, attributes=self.scrub(obs.attributes), outputs=self.scrub(obs.outputs))


class _RedactingType(ResourceType):
    def __init__(self, inner: ResourceType, redactor: Redactor) -> None:
        self.inner = inner
        self.r = redactor
        for flag in ResourceType.__annotations__:  # every declared flag (kind, versioned, ...) as the inner's
            setattr(self, flag, getattr(inner, flag))

    def validate(self, desired: Desired) -> list[Problem]:
        return self.inner.validate(desired)

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        out: dict[str, Any] = self.r.scrub(self.inner.desired_attributes(desired))
        return out

    def output_names(self, desired: Desired) -> frozenset[str]:
        return self.inner.output_names(desired)

    # Every call gets a context whose log is scrubbed (a job's streamed output may print a secret),
    # and an error whose message holds a secret (a failed job's log tail) is re-raised scrubbed.
    def _ctx(self, ctx: Context) -> Context:
        return replace(ctx, log=lambda message: ctx.log(self.r.scrub(message)))

    @contextmanager
    def _scrubbed_errors(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            clean = self.r.scrub(str(exc))
            if clean == str(exc):
                raise
            if isinstance(exc, ProviderError):
                raise ProviderError(clean, address=exc.address, provider=exc.provider) from None
            raise ProviderError(f"{type(exc).__name__}: {clean}") from None

    def read(self, ctx: Context, ident: str) -> Observed | None:
        with self._scrubbed_errors():
            return self.r.observed(self.inner.read(self._ctx(ctx), ident))

    def read_many(self, ctx: Context, idents: Sequence[str]) -> list[Observed | None]:
        with self._scrubbed_errors():
            return [self.r.observed(o) for o in self.inner.read_many(self._ctx(ctx), idents)]

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        with self._scrubbed_errors():
            return self.r.observed(self.inner.lookup(self._ctx(ctx), name, version))

    def lookup_many(self, ctx: Context, keys: Sequence[tuple[str, str | None]]) -> list[Observed | None]:
        with self._scrubbed_errors():
            return [self.r.observed(o) for o in self.inner.lookup_many(self._ctx(ctx), keys)]

    def diff(self, desired: dict[str, Any], observed: dict[str, Any]) -> Diff:
        return self.inner.diff(desired, observed)  # both sides are scrubbed already

    def poll(self, ctx: Context, token: dict[str, Any]) -> Progress:
        with self._scrubbed_errors():
            progress = self.inner.poll(self._ctx(ctx), token)
        return replace(progress, result=self.r.observed(progress.result))

    def wait(self, ctx: Context, token: dict[str, Any]) -> Observed | None:
        with self._scrubbed_errors():
            return self.r.observed(self.inner.wait(self._ctx(ctx), token))

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        with self._scrubbed_errors():
            return self.r.observed(self.inner.find_owned(self._ctx(ctx), name, operation))

    def create(self, ctx: Context, desired: Desired) -> Observed:
        with self._scrubbed_errors():
            out = self.r.observed(self.inner.create(self._ctx(ctx), desired))
        assert out is not None
        return out

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        with self._scrubbed_errors():
            out = self.r.observed(self.inner.update(self._ctx(ctx), desired, current))
        assert out is not None
        return out

    def delete(self, ctx: Context, current: Observed) -> None:
        with self._scrubbed_errors():
            self.inner.delete(self._ctx(ctx), current)

    def archive(self, ctx: Context, current: Observed) -> None:
        with self._scrubbed_errors():
            self.inner.archive(self._ctx(ctx), current)

    def discard(self, ctx: Context, name: str, operation: str) -> None:
        with self._scrubbed_errors():
            self.inner.discard(self._ctx(ctx), name, operation)

    def predict(
        self, ctx: Context, desired: Desired | None, current: Observed | None
    ) -> tuple[PredictedChange, ...] | None:
        with self._scrubbed_errors():
            found = self.inner.predict(self._ctx(ctx), desired, current)
        if found is None:
            return None
        return tuple(PredictedChange.from_json(self.r.scrub(p.to_json())) for p in found)

    def credentials(self, ctx: Context, current: Observed) -> dict[str, str]:
        return self.inner.credentials(ctx, current)  # asked for explicitly: not scrubbed

    def invoke(
        self, ctx: Context, endpoint: Observed, deployment: str, body: bytes, content_type: str = "application/json"
    ) -> bytes:
        with self._scrubbed_errors():  # the response is the deployment's predictions: read, not shown
            return self.inner.invoke(self._ctx(ctx), endpoint, deployment, body, content_type)

    def mark(self, ctx: Context, current: Observed, tags: Mapping[str, str | None]) -> None:
        with self._scrubbed_errors():
            self.inner.mark(self._ctx(ctx), current, tags)

    def fetch(self, ctx: Context, current: Observed) -> Path:
        with self._scrubbed_errors():
            return self.inner.fetch(self._ctx(ctx), current)


class RedactingProvider(Provider):
    """Wraps a provider so that everything it reports is scrubbed of sensitive values."""

    def __init__(self, inner: Provider, redactor: Redactor) -> None:
        self.inner = inner
        self.name = inner.name
        self.ready = inner.ready
        self._types: dict[str, ResourceType | None] = {}
        self.redactor = redactor

    def resource_type(self, kind: str) -> ResourceType | None:
        if kind not in self._types:
            inner = self.inner.resource_type(kind)
            self._types[kind] = _RedactingType(inner, self.redactor) if inner is not None else None
        return self._types[kind]

    def supported_kinds(self) -> Iterable[str]:
        return self.inner.supported_kinds()

    def bind(self, ctx: Context) -> None:
        self.inner.bind(ctx)

    def close(self) -> None:
        self.inner.close()


MARKER = "(sensitive:"


def mask_previous(prior: Any, observed: Any) -> Any:
    """Hide values that held a secret when state was written, but whose secret is no longer known.

    When a sensitive variable changes, the workspace still holds the old value, which no
    Redactor of this run knows. Where state recorded a marker and the workspace now differs,
    show a fixed marker instead: the change stays visible, the value does not.
    """
    if isinstance(prior, str) and MARKER in prior:
        return prior if observed == prior else "(sensitive:previous value)"
    if isinstance(prior, dict) and isinstance(observed, dict):
        return {k: mask_previous(prior.get(k), v) if k in prior else v for k, v in observed.items()}
    if isinstance(prior, list) and isinstance(observed, list) and len(prior) == len(observed):
        return [mask_previous(p, o) for p, o in zip(prior, observed, strict=True)]
    return observed
