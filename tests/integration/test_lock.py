"""The state lock between two real processes: refuse at once, wait with --lock-timeout, force-unlock."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import MLPLAN, run_mlplan
from tests.processes import start_stopped


@contextmanager
def holder(project: Path) -> Iterator[subprocess.Popen[str]]:
    """An `mlplan apply` stopped (SIGSTOP) after its first journal entry, holding the lock."""
    proc = start_stopped(project, "after_begin:1", "--parallelism", "1")
    info = project / ".mlplan/state/local.json.lock.info"
    assert info.is_file()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            os.kill(proc.pid, signal.SIGCONT)
        proc.communicate(timeout=30)


def lock_id(text: str) -> str:
    m = re.search(r"Lock ID:\s+([0-9a-f-]{36})", text)
    assert m, text
    return m.group(1)


@pytest.mark.slow
def test_second_apply_fails_at_once_naming_the_holder(project: Path) -> None:
    with holder(project) as proc:
        started = time.monotonic()
        r = run_mlplan("-C", str(project), "apply", "--auto-approve")
        elapsed = time.monotonic() - started
        assert r.code == 1, r.text
        assert "the state is locked" in r.err
        assert f"pid {proc.pid}" in r.err
        assert "Operation: apply" in r.err
        assert re.search(r"Since:\s+\d{4}-\d\d-\d\dT", r.err)
        assert "@" in r.err.split("Who:")[1].splitlines()[0]  # user@host
        assert "Traceback" not in r.text
        assert elapsed < 10  # "at once": no waiting without --lock-timeout (generous for slow CI)
        info = json.loads((project / ".mlplan/state/local.json.lock.info").read_text())
        assert lock_id(r.err) == info["id"]


@pytest.mark.slow
def test_lock_timeout_waits_for_the_holder(project: Path) -> None:
    with holder(project) as proc:
        second = subprocess.Popen(
            [MLPLAN, "-C", str(project), "plan", "--lock-timeout", "60s"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert second.poll() is None, "plan with --lock-timeout must wait for the lock"
        os.kill(proc.pid, signal.SIGCONT)  # the holder finishes its apply and releases the lock
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, out + err
        assert proc.wait(timeout=30) == 0


@pytest.mark.slow
def test_force_unlock_after_the_holder_died(project: Path) -> None:
    with holder(project) as proc:
        r = run_mlplan("-C", str(project), "plan")
        the_id = lock_id(r.err)
        refused = run_mlplan("-C", str(project), "force-unlock", the_id)
        assert refused.code == 1 and "still running" in refused.err, refused.text
        proc.kill()
        os.kill(proc.pid, signal.SIGCONT)
        proc.wait(timeout=30)
    wrong = run_mlplan("-C", str(project), "force-unlock", "00000000-0000-0000-0000-000000000000")
    assert wrong.code == 1 and "does not match" in wrong.err
    ok = run_mlplan("-C", str(project), "force-unlock", the_id)
    assert ok.code == 0, ok.text
    assert not (project / ".mlplan/state/local.json.lock.info").exists()
    r = run_mlplan("-C", str(project), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "interrupted operation reconciled" in r.err
    assert run_mlplan("-C", str(project), "plan", "--detailed-exitcode").code == 0
