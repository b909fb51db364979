"""What only the local backend can show: file modes, its files, the OS lock of real processes, real crash points."""

from __future__ import annotations

import builtins
import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlplan.core.errors import LockError
from mlplan.state.local import LocalBackend
from mlplan.state.model import State
from tests.state.conformance import rs


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "st" / "env.json")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _python(code: str, path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Another process on the state at ``path`` (``backend`` in ``code``)."""
    prelude = (
        "from pathlib import Path\n"
        "from mlplan.state.local import LocalBackend\n"
        "from mlplan.state.model import ResourceState\n"
        f"backend = LocalBackend(Path({str(path)!r}))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_state_files_are_private(backend: LocalBackend) -> None:
    with backend.lock("apply") as held:
        assert _mode(backend.info_path) == 0o600
        backend.write(State(), held)
        journal = backend.journal(backend.read(), held)
        journal.begin("op", "compute.cpu", "create")
        journal.end("op", "compute.cpu", rs())
        journal.close()
    for path in (backend.path, backend.journal_path, backend.backup_path, backend.lock_path):
        assert path.exists(), path
        assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}"


def test_snapshots_leave_no_temporary_files(backend: LocalBackend) -> None:
    with backend.lock("apply") as held:
        for _ in range(3):
            backend.write(backend.read(), held)
    assert sorted(p.name for p in backend.path.parent.iterdir()) == [
        "env.json",
        "env.json.backup",
        "env.json.lock",
    ]


def test_the_lock_information_file_lives_as_long_as_the_lock(backend: LocalBackend) -> None:
    with backend.lock("apply") as held:
        assert json.loads(backend.info_path.read_text()) == json.loads(held.to_json())
        assert held.path == str(backend.path)
    assert not backend.info_path.exists()


def test_journal_records_check_the_lock_token_in_memory(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """No file is opened, read or stat'ed per record: the token check is a comparison in memory."""
    held = backend.acquire("apply")
    journal = backend.journal(backend.read(), held)

    def no_io(*_args: object, **_kw: object) -> None:
        raise AssertionError("file I/O while journaling a record")

    with monkeypatch.context() as m:
        for name in ("open", "stat", "lstat", "read"):
            m.setattr(os, name, no_io)
        m.setattr(builtins, "open", no_io)
        m.setattr(pathlib.Path, "read_text", no_io)
        m.setattr(pathlib.Path, "read_bytes", no_io)
        for i in range(20):
            journal.begin(f"op{i}", f"compute.c{i}", "create")
            journal.end(f"op{i}", f"compute.c{i}", rs(f"compute.c{i}"))
    journal.close()
    backend.release(held)
    assert len(LocalBackend(backend.path).read().resources) == 20


def test_the_os_lock_of_another_process(backend: LocalBackend) -> None:
    proc = _python(
        """
        import sys, time
        held = backend.acquire("apply")
        print(held.id, flush=True)
        time.sleep(120)
        """,
        backend.path,
    )
    try:
        assert proc.stdout is not None
        lock_id = proc.stdout.readline().strip()
        assert lock_id, proc.stderr.read() if proc.stderr else ""
        with pytest.raises(LockError) as exc:
            backend.acquire("plan")
        assert f"Lock ID:   {lock_id}" in str(exc.value) and f"pid {proc.pid}" in str(exc.value)
        with pytest.raises(LockError, match="still running"):
            backend.force_unlock(lock_id)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    # dead: the OS let go of its lock, its lock information stays until force-unlock or the next holder
    assert (held := backend.current_lock()) is not None and held.id == lock_id
    backend.force_unlock(lock_id)
    assert backend.current_lock() is None
    backend.release(backend.acquire("plan"))


@pytest.mark.parametrize("point", ["before_snapshot", "after_snapshot"])
def test_a_real_crash_during_compaction_loses_nothing(backend: LocalBackend, point: str) -> None:
    """MLPLAN_CRASHPOINT SIGKILLs a process mid-compaction; the next one recovers every record."""
    proc = _python(
        """
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        for i in range(3):
            journal.begin(f"op{i}", f"compute.c{i}", "create")
            if i < 2:
                journal.end(f"op{i}", f"compute.c{i}", ResourceState(f"compute.c{i}", "compute", f"c{i}", "fake"))
        journal.close()
        """,
        backend.path,
        env={"MLPLAN_CRASHPOINT": f"{point}:1"},
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, out + err
    snapshot_written = point == "after_snapshot"
    assert backend.path.exists() == snapshot_written
    assert backend.journal_path.stat().st_size > 0, "the journal still holds every record"
    state = LocalBackend(backend.path).read()
    assert sorted(state.resources) == ["compute.c0", "compute.c1"]
    assert list(state.pending) == ["op2"]
    assert (state.seq, state.serial) == (5, 1), "five records of one run"
    held = backend.acquire("apply")  # no force-unlock needed: the OS let go of the dead process's lock
    backend.write(state, held)
    backend.release(held)
    assert LocalBackend(backend.path).read().serial == 2
