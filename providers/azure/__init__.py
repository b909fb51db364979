"""The ``azure`` provider: Azure ML workspaces through azure-ai-ml and azure-mgmt-resource.

Every Azure SDK import happens inside this package, lazily, so that ``mlplan --help`` and the
local provider never pay for them. So far it validates: an azure environment's files are checked
offline (the project's own checks and azure-ai-ml's loaders), and plan and apply are refused until the
provider is built. What it is built on: ``settings`` (the workspace, cloud and credential of the environment),
``cloud``, ``credentials``, ``clients`` (MLClient and the ARM deployments client, retries bounded, errors naming
the call) and ``kinds`` (per kind: the entity to create, ``desired_attributes``, ``observed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.core.kinds import KINDS
from mlplan.providers.azure.kinds.common import reserved_problems
from mlplan.providers.base import Context, Desired, Observed, Problem, Provider, ResourceType

NOT_YET = "the azure provider can validate files but not reach Azure yet"


class _ValidatingType(ResourceType):
    """A kind the azure provider knows: its files validate; anything that would call Azure is refused."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        return {}

    def validate(self, desired: Desired) -> list[Problem]:
        return reserved_problems(desired.spec)

    def _refuse(self) -> ProviderError:
        return ProviderError(NOT_YET, provider="azure")

    def read(self, ctx: Context, ident: str) -> Observed | None:
        raise self._refuse()

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        raise self._refuse()

    def create(self, ctx: Context, desired: Desired) -> Observed:
        raise self._refuse()

    def delete(self, ctx: Context, current: Observed) -> None:
        raise self._refuse()


class AzureProvider(Provider):
    name = "azure"
    ready = False  # validate works offline; plan and apply need the provider still being built

    def __init__(self) -> None:
        self._types = {kind: _ValidatingType(kind) for kind in KINDS}

    def resource_type(self, kind: str) -> ResourceType | None:
        return self._types.get(kind)

    def supported_kinds(self) -> Iterable[str]:
        return sorted(self._types)
