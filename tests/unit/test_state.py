"""The local state backend: journal recovery, snapshots, permissions, format upgrades, stale plans."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlplan.core.errors import StalePlanError, StateError
from mlplan.engine import session as session_mod
from mlplan.engine.apply import ApplyOptions
from mlplan.engine.planner import PlanOptions
from mlplan.state.backend import LockInfo, encode_state
from mlplan.state.local import LocalBackend
from mlplan.state.model import FORMAT_VERSION, ResourceState, State
from mlplan.state.upgrade import upgrade
from tests.unit.fakes import Harness, compute, data


def _rs(address: str = "compute.cpu", **attrs: object) -> ResourceState:
    kind, name = address.split(".", 1)
    return ResourceState(address=address, kind=kind, id=f"{kind}/{name}", provider="fake", attributes=dict(attrs))


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    backend = LocalBackend(tmp_path / "st" / "env.json")
    with backend.lock("test"):
        yield backend


def _held(backend: LocalBackend) -> LockInfo:
    lock = backend.current_lock()
    assert lock is not None
    return lock


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_journal_records_survive_a_reopen_without_snapshot(backend: LocalBackend) -> None:
    state = backend.read()
    journal = backend.journal(state, _held(backend))
    journal.begin("op1", "compute.cpu", "create", "cpu")
    journal.end("op1", "compute.cpu", _rs(max_instances=1))
    journal.begin("op2", "compute.gpu", "create", "gpu")  # crash before its end
    # no journal.close(): no snapshot was written
    assert not backend.path.exists()

    reopened = LocalBackend(backend.path).read()
    assert reopened.lineage == state.lineage
    assert reopened.resources["compute.cpu"].attributes == {"max_instances": 1}
    assert list(reopened.pending) == ["op2"]
    assert reopened.pending["op2"].address == "compute.gpu" and reopened.pending["op2"].name == "gpu"
    assert reopened.serial == 3


def test_torn_last_journal_line_is_ignored(backend: LocalBackend) -> None:
    journal = backend.journal(backend.read(), _held(backend))
    journal.begin("op1", "compute.cpu", "create", "cpu")
    journal.end("op1", "compute.cpu", _rs(max_instances=1))
    with backend.journal_path.open("ab") as fh:
        fh.write(b'{"t":"end","op":"op2","address":"compute.gpu","resou')
    state = LocalBackend(backend.path).read()
    assert list(state.resources) == ["compute.cpu"]
    assert state.serial == 2
    assert not state.pending


def test_journal_records_older_than_the_snapshot_are_skipped(backend: LocalBackend) -> None:
    state = State(serial=5)
    state.resources["compute.cpu"] = _rs(max_instances=5)
    backend.write_snapshot(encode_state(state), _held(backend))
    stale = {
        "t": "end",
        "op": "old",
        "address": "compute.cpu",
        "resource": _rs(max_instances=1).to_json(),
        "removed": False,
        "ts": "t",
        "serial": 5,
        "lineage": state.lineage,
    }
    older = {**stale, "serial": 3, "resource": None, "removed": True}
    newer = {**stale, "op": "new", "address": "compute.gpu", "resource": _rs("compute.gpu").to_json(), "serial": 6}
    backend.journal_path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in (older, stale, newer)))

    got = backend.read()
    assert got.resources["compute.cpu"].attributes == {"max_instances": 5}
    assert "compute.gpu" in got.resources
    assert got.serial == 6


def test_journal_records_of_another_lineage_are_skipped(backend: LocalBackend) -> None:
    state = State(serial=1)
    backend.write_snapshot(encode_state(state), _held(backend))
    alien = {"t": "end", "op": "x", "address": "compute.cpu", "resource": _rs().to_json(), "removed": False}
    alien.update(ts="t", serial=2, lineage="someone-else")
    backend.journal_path.write_bytes(json.dumps(alien).encode() + b"\n")
    assert not backend.read().resources


def test_snapshot_is_atomic_and_keeps_a_backup(backend: LocalBackend) -> None:
    first = State()
    first.resources["compute.cpu"] = _rs(max_instances=1)
    backend.write(first, _held(backend))
    assert backend.read_backup() is None
    second = backend.read()
    second.resources["compute.cpu"] = _rs(max_instances=2)
    backend.write(second, _held(backend))
    backup = json.loads(backend.backup_path.read_bytes())
    assert backup["resources"]["compute.cpu"]["attributes"] == {"max_instances": 1}
    assert backup["serial"] == 1
    current = backend.read()
    assert current.resources["compute.cpu"].attributes == {"max_instances": 2}
    assert current.serial == 2
    leftovers = [p.name for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_state_files_are_private(backend: LocalBackend) -> None:
    backend.write(State(), _held(backend))
    journal = backend.journal(backend.read(), _held(backend))
    journal.begin("op", "compute.cpu", "create")
    journal.end("op", "compute.cpu", _rs())
    journal.close()
    for path in (backend.path, backend.journal_path, backend.backup_path):
        assert path.exists(), path
        assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}"


def test_journal_close_compacts_into_a_snapshot(backend: LocalBackend) -> None:
    journal = backend.journal(backend.read(), _held(backend))
    journal.begin("op", "compute.cpu", "create")
    journal.end("op", "compute.cpu", _rs())
    journal.close()
    assert backend.journal_path.read_bytes() == b""
    snap = json.loads(backend.path.read_bytes())
    assert "compute.cpu" in snap["resources"] and snap["serial"] == 2


# -- format upgrades ------------------------------------------------------------------------------


def _v0() -> dict[str, object]:
    return {
        "lineage": "lin-0",
        "serial": 4,
        "resources": [_rs("compute.cpu", max_instances=1).to_json(), _rs("data.iris").to_json()],
    }


def test_upgrade_from_format_0(backend: LocalBackend) -> None:
    up = upgrade(_v0())
    assert up["format_version"] == FORMAT_VERSION
    assert sorted(up["resources"]) == ["compute.cpu", "data.iris"]

    backend.path.parent.mkdir(parents=True, exist_ok=True)
    backend.path.write_text(json.dumps(_v0()))
    state = backend.read()
    assert state.format_version == FORMAT_VERSION
    assert state.lineage == "lin-0" and state.serial == 4
    assert state.resources["compute.cpu"].attributes == {"max_instances": 1}
    backend.write(state, _held(backend))
    assert json.loads(backend.path.read_bytes())["format_version"] == FORMAT_VERSION


def test_newer_format_is_refused(backend: LocalBackend) -> None:
    backend.path.parent.mkdir(parents=True, exist_ok=True)
    backend.path.write_text(json.dumps({**State().to_json(), "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(StateError, match="newer"):
        backend.read()


# -- stale saved plans ------------------------------------------------------------------------------


def test_check_fresh_accepts_an_unchanged_plan(h: Harness) -> None:
    h.write({"res/cpu.yml": compute()})
    sess = h.session()
    state = h.state()
    saved = session_mod.plan(sess, state, PlanOptions())
    session_mod.check_fresh(saved, h.session(), h.state())


def test_check_fresh_refuses_after_the_state_changed(h: Harness) -> None:
    h.write({"res/cpu.yml": compute(max_instances=1)})
    h.apply_ok()
    h.write({"res/cpu.yml": compute(max_instances=2)})
    saved = h.plan()
    h.apply_ok(saved)  # someone applies it first
    with pytest.raises(StalePlanError) as exc:
        session_mod.check_fresh(saved, h.session(), h.state())
    text = str(exc.value)
    assert "serial" in text
    assert "compute.cpu" in text


def test_check_fresh_refuses_after_an_input_file_changed(h: Harness) -> None:
    h.write({"res/iris.yml": data(), "res/cpu.yml": compute()})
    saved = h.plan()
    (h.root / "files/iris.csv").write_text("a,b\n3,4\n")
    with pytest.raises(StalePlanError) as exc:
        session_mod.check_fresh(saved, h.session(), h.state())
    text = str(exc.value)
    assert "inputs changed" in text
    assert "data.iris" in text
    assert "compute.cpu" not in text


def test_apply_writes_state_after_each_operation(h: Harness) -> None:
    """A crash mid-apply keeps what was done: the journal has it before apply returns."""
    h.write({"res/a.yml": compute("a"), "res/b.yml": compute("b")})
    seen: list[list[str]] = []
    sess = h.session()
    state = h.state()
    plan = session_mod.plan(sess, state, PlanOptions())

    def on_event(kind: str, payload: dict[str, object]) -> None:
        if kind == "done":
            seen.append(sorted(LocalBackend(h.backend.path).read().resources))

    with h.locked(sess):
        session_mod.apply(sess, state, plan, ApplyOptions(parallelism=1), on_event)
    assert seen == [["compute.a"], ["compute.a", "compute.b"]]
