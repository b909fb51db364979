"""Typed progress events: what plan and apply report while they work. The engine never prints; the CLI
renders these (``render.progress_line``), and library callers may collect them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RefreshStarted:
    count: int  # reads to do


@dataclass(frozen=True)
class Refreshed:
    address: str
    found: bool


@dataclass(frozen=True)
class Reconciled:
    """An operation an interrupted run left pending was settled."""

    address: str
    outcome: str


@dataclass(frozen=True)
class OperationStarted:
    address: str
    action: str
    reason: str


@dataclass(frozen=True)
class OperationDone:
    address: str
    action: str
    elapsed: float
    id: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class OperationFailed:
    address: str
    error: str


@dataclass(frozen=True)
class ConditionNotMet:
    """A node ended without doing its change because a condition was not met (not a failure)."""

    address: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    address: str
    reason: str


@dataclass(frozen=True)
class Interrupting:
    """Ctrl-C: scheduling stopped; ``cancelling``: running operations are asked to stop as well."""

    running: tuple[str, ...]
    cancelling: bool = False


@dataclass(frozen=True)
class Note:
    """Something a reader should know that changes nothing (e.g. a data source moved on since the plan)."""

    message: str


Event = (
    RefreshStarted
    | Refreshed
    | Reconciled
    | OperationStarted
    | OperationDone
    | OperationFailed
    | ConditionNotMet
    | Skipped
    | Interrupting
    | Note
)
Emit = Callable[[Event], None]


def quiet(_event: Event) -> None:
    return None
