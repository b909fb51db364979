"""The redacting wrapper behaves as the provider it wraps: every declared flag, unchanged; every call forwarded."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlplan.core.errors import ProviderError
from mlplan.engine.redact import RedactingProvider, Redactor
from mlplan.providers.base import Context, Observed, ResourceType
from tests.unit.fakes import FakeProvider, FakeType


def test_the_wrapper_carries_every_flag_of_the_wrapped_type() -> None:
    fake = FakeProvider()
    inner = fake.type("traffic")
    inner.read_batch, inner.id_format = 7, "onlineEndpoints/<endpoint>/traffic"
    inner.produced_fields = frozenset({"content"})
    wrapped = RedactingProvider(fake, Redactor(["a-secret"])).resource_type("traffic")
    assert wrapped is not None
    for flag in ResourceType.__annotations__:
        assert getattr(wrapped, flag) == getattr(inner, flag), flag
    assert (wrapped.read_batch, wrapped.id_format) == (7, "onlineEndpoints/<endpoint>/traffic")
    assert wrapped.produced_fields == frozenset({"content"})


def test_scoring_requests_and_asset_files_go_through_the_wrapper_with_secrets_scrubbed(tmp_path: Path) -> None:
    class Scoring(FakeType):
        def invoke(
            self, ctx: Context, endpoint: Observed, deployment: str, body: bytes, content_type: str = "application/json"
        ) -> bytes:
            if deployment == "leaky":
                raise ProviderError(f"HTTP 500: the scoring script printed a-secret for {deployment}")
            return body + f" ({deployment}, {content_type})".encode()

        def fetch(self, ctx: Context, current: Observed) -> Path:
            return tmp_path / current.id

    fake = FakeProvider()
    fake._types["online_endpoint"] = Scoring(fake, "online_endpoint", True)
    fake._types["data"] = Scoring(fake, "data", True)
    wrapped = RedactingProvider(fake, Redactor(["a-secret"]))
    endpoint, data = wrapped.resource_type("online_endpoint"), wrapped.resource_type("data")
    assert endpoint is not None and data is not None
    ctx = Context("p", "local", tmp_path, {})
    assert endpoint.invoke(ctx, Observed("e", {}), "blue", b"{}") == b"{} (blue, application/json)"
    assert data.fetch(ctx, Observed("eval", {})) == tmp_path / "eval"
    with pytest.raises(ProviderError) as err:
        endpoint.invoke(ctx, Observed("e", {}), "leaky", b"{}")
    assert "a-secret" not in str(err.value) and "for leaky" in str(err.value)


def test_a_provider_without_scoring_says_so() -> None:
    kind = FakeProvider().type("online_endpoint")
    ctx = Context("p", "local", Path(), {})
    with pytest.raises(ProviderError, match=r"not supported by this provider \(online_endpoint\)"):
        ResourceType.invoke(kind, ctx, Observed("e", {}), "blue", b"{}")
    with pytest.raises(ProviderError, match=r"not supported by this provider \(online_endpoint\)"):
        ResourceType.fetch(kind, ctx, Observed("e", {}))
