"""The one error tree of mlplan; exit codes are mapped here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem with the user's input: where it is, what is wrong, how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    address: str | None = None
    hint: str | None = None

    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        parts = []
        loc = self.location()
        head = f"{loc}: " if loc else ""
        if self.address:
            head += f"{self.address}: "
        parts.append(f"Error: {head}{self.message}")
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class MlplanError(Exception):
    """Base of every error mlplan reports to the user (never with a traceback)."""

    exit_code = 1

    def render(self) -> str:
        return f"Error: {self}"


class ValidationFailed(MlplanError):
    """The project's input has one or more problems; all of them are listed."""

    def __init__(self, diagnostics: list[Diagnostic], partial: object | None = None) -> None:
        super().__init__("; ".join(d.render().removeprefix("Error: ") for d in diagnostics))
        self.diagnostics = diagnostics
        self.partial = partial  # what could be loaded despite the problems (to find more problems)

    def render(self) -> str:
        lines = [d.render() for d in self.diagnostics]
        n = len(self.diagnostics)
        lines.append(f"{n} error{'s' if n != 1 else ''}; nothing was changed.")
        return "\n".join(lines)


class UsageError(MlplanError):
    """Bad command-line usage."""


class StateError(MlplanError):
    """The state cannot be read, written or changed as asked."""


class LockError(StateError):
    """The state is locked by someone else."""


class StalePlanError(MlplanError):
    """A saved plan no longer matches the state or the inputs."""


class GateClosed(MlplanError):
    """The plan passes a gate (approval, promotion) that this version cannot enforce."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons

    def render(self) -> str:
        return "\n".join(f"Error: {r}" for r in self.reasons) + "\nNothing was changed."


class ProviderError(MlplanError):
    """A provider operation failed."""

    def __init__(self, message: str, *, address: str | None = None, provider: str | None = None) -> None:
        super().__init__(message)
        self.address = address
        self.provider = provider

    def render(self) -> str:
        where = f"{self.address}: " if self.address else ""
        who = f" ({self.provider} provider)" if self.provider else ""
        return f"Error: {where}{self}{who}"


class ScoringError(MlplanError):
    """An evaluation set cannot be scored: its table cannot be read, a request cannot be made in the
    chosen format, or a deployment's answer cannot be read as one prediction per row."""


class PlanError(ValidationFailed):
    """The plan cannot be made (e.g. prevent_destroy, a version that must be bumped)."""


class ApplyFailed(MlplanError):
    """One or more operations failed during apply; state holds what was done."""


class Interrupted(MlplanError):
    exit_code = 130
