"""The redacting wrapper behaves as the provider it wraps: every declared flag, unchanged."""

from __future__ import annotations

from mlplan.engine.redact import RedactingProvider, Redactor
from mlplan.providers.base import ResourceType
from tests.unit.fakes import FakeProvider


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
