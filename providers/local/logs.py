"""What a failed local process died of, read from its log: the exception and where in the user's code.

A job's log and an inference server's log hold many lines (a gunicorn server logs its workers'
boots and exits, and wraps the scoring script's error in its own). A person needs the root cause:
the exception raised in their own code (``ModuleNotFoundError: No module named 'xgboost' (score.py,
line 3)``), not the last lines of the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_TRACEBACK = re.compile(r"Traceback \(most recent call last\):\s*$")
_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+), in ')
# an exception line: a dotted name ending in Error/Exception/Exit/Interrupt/Warning, then its message
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure))(?::\s?(.*))?$")
_LIBRARY = ("site-packages", "dist-packages", "/lib/python", "<frozen ")


@dataclass
class _Traceback:
    frames: list[tuple[str, int]] = field(default_factory=list)  # (file, line), outermost first
    exception: str | None = None

    def user_frame(self, code_dir: Path | None) -> tuple[str, int] | None:
        """The innermost frame in the user's code (their folder, else any file outside libraries)."""
        for file, line in reversed(self.frames):
            inside = code_dir is not None and file.startswith(str(code_dir))
            if inside or (code_dir is None and not any(part in file for part in _LIBRARY)):
                return file, line
        return None


def _tracebacks(lines: Sequence[str]) -> list[_Traceback]:
    found: list[_Traceback] = []
    current: _Traceback | None = None
    for raw in lines:
        if _TRACEBACK.search(raw):
            current = _Traceback()
            found.append(current)
            continue
        if current is None or current.exception is not None:
            continue
        frame = _FRAME.match(raw)
        if frame:
            current.frames.append((frame.group(1), int(frame.group(2))))
        elif not raw.startswith((" ", "\t")) and raw.strip():
            m = _EXCEPTION.match(raw.strip())
            current.exception = raw.strip() if m else None
            if m is None:
                current = None  # not a Python traceback after all
    return [t for t in found if t.exception]


def failure_cause(lines: Iterable[str], code_dir: Path | None = None) -> str | None:
    """``Error: message (file.py, line N)`` for the exception raised in the user's code (``code_dir``, or
    anything outside installed libraries), else the last exception logged; None when there is none."""
    tracebacks = _tracebacks([line.rstrip("\n") for line in lines])
    if not tracebacks:
        return None
    for tb in reversed(tracebacks):
        where = tb.user_frame(code_dir)
        if where is not None:
            return f"{tb.exception} ({Path(where[0]).name}, line {where[1]})"
    return tracebacks[-1].exception


def last_lines(lines: Iterable[str], count: int = 5) -> list[str]:
    """The last non-empty lines, for a process that died without a Python traceback."""
    kept = [line.rstrip("\n") for line in lines if line.strip()]
    return kept[-count:]
