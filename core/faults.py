"""Crash points for the crash-consistency tests: ``MLPLAN_CRASHPOINT=NAME[:N[:ACTION]]``.

The N-th time (default 1st) the process reaches crash point NAME it is killed with SIGKILL
(ACTION ``kill``) or stopped with SIGSTOP (``stop``, to hold a lock in lock tests). Unset, this
costs one dictionary lookup. Points: before_begin, after_begin, mid_operation, before_end,
before_snapshot, after_snapshot (a compaction's snapshot written, its journal not yet truncated).
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_counts: dict[str, int] = {}


def crashpoint(name: str) -> None:
    spec = os.environ.get("MLPLAN_CRASHPOINT")
    if not spec:
        return
    parts = spec.split(":")
    if parts[0] != name:
        return
    target = int(parts[1]) if len(parts) > 1 and parts[1] else 1
    action = parts[2] if len(parts) > 2 else "kill"
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        hit = _counts[name] == target
    if hit:
        os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)
