"""Resource addresses: the one key of a resource in the graph, the plan and the state."""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS: tuple[str, ...] = (
    "compute",
    "data",
    "environment",
    "model",
    "job",
    "online_endpoint",
    "online_deployment",
    "traffic",  # an endpoint's traffic split: its own step, after the deployments it names
    "arm_deployment",
)

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
            raise ValueError(
                f"invalid address {text!r}: expected KIND.NAME with KIND one of {', '.join(KINDS)}"
                " (for example environment.sklearn or online_deployment.iris/blue)"
            )
        return cls(kind, name)

    @property
    def parent(self) -> Address | None:
        """The endpoint of a deployment, else None."""
        if self.kind == "online_deployment" and "/" in self.name:
            return Address("online_endpoint", self.name.split("/", 1)[0])
        return None
