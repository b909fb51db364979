"""Resource addresses: the one key of a resource in the graph, the plan and the state."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlplan.core.kinds import KINDS, REGISTRY
from mlplan.core.suggest import did_you_mean

# `:` and `@` appear only in data-source names (`environment.shared:3`, `data.eval@latest`)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/:@]*$")


@dataclass(frozen=True, order=True, slots=True)
class Address:
    """``kind.name``; nested resources use ``/`` in the name (``online_deployment.ep/blue``)."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``kind.name``; raises ``ValueError`` with a hint on bad input."""
        kind, sep, name = text.partition(".")
        if not sep or kind not in KINDS or not _NAME.match(name):
            close = did_you_mean(kind, KINDS, "{}." + name) if sep and kind not in KINDS else ""
            raise ValueError(
                f"invalid address {text!r}: expected KIND.NAME with KIND one of {', '.join(KINDS)}"
                f" (for example environment.sklearn or online_deployment.iris/blue){close}"
            )
        return cls(kind, name)

    @property
    def parent(self) -> Address | None:
        """The resource this one is nested in (a deployment's endpoint), else None."""
        parent = REGISTRY[self.kind].parent
        if parent is not None and "/" in self.name:
            return Address(parent, self.name.split("/", 1)[0])
        return None
