"""The state backend contract, as tests every backend must pass.

A backend joins by providing a ``Kit`` (how to open another backend on the same state, and what the
death of the process holding a backend looks like) and adding it to the ``kit`` fixture in
``tests/state/test_backends.py``; ``TestConformance`` there runs every test of ``BackendConformance``
against it. Each ``kit.new()`` is another process's view of one state.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

import pytest

from mlplan.core.errors import LockError, StateError
from mlplan.state import journal as journal_mod
from mlplan.state.backend import Backend, LockInfo, encode_state, parse_journal
from mlplan.state.model import FORMAT_VERSION, ResourceState, State
from mlplan.state.upgrade import upgrade

UNHELD = "written without holding the state lock"


class Kit(ABC):
    """What the suite needs to know of one backend."""

    name: str
    # force-unlock tells a running holder (refused) from a dead one; False: it breaks either (a lease)
    force_unlock_checks_holder: bool = True

    @abstractmethod
    def new(self) -> Backend:
        """A backend on this kit's state, as another process would open it."""

    @abstractmethod
    def die(self, backend: Backend) -> None:
        """The process using ``backend`` dies: its lock is left the way a dead process leaves it."""

    def take_over(self, backend: Backend, dead: LockInfo, operation: str = "apply") -> LockInfo:
        """What an operator does after a crash: force-unlock the dead holder's lock, then lock."""
        backend.force_unlock(dead.id)
        return backend.acquire(operation)


class SimulatedCrash(BaseException):
    """The process stopped at a crash point (in-process stand-in for the SIGKILL of mlplan.core.faults)."""


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str, nth: int = 1) -> None:
    """Make the ``nth`` arrival at crash point ``point`` stop the journal, as MLPLAN_CRASHPOINT=point:nth would."""
    seen = {"n": 0}

    def crashpoint(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == nth:
                raise SimulatedCrash(f"{point}:{nth}")

    monkeypatch.setattr(journal_mod, "crashpoint", crashpoint)


def rs(address: str = "compute.cpu", **attrs: Any) -> ResourceState:
    kind, name = address.split(".", 1)
    return ResourceState(address=address, kind=kind, id=f"{kind}/{name}", provider="fake", attributes=dict(attrs))


def record(serial: int, lineage: str, **fields: Any) -> bytes:
    body = {"t": "end", "op": "x", "address": "compute.cpu", "resource": None, "removed": False, "ts": "t"}
    return json.dumps({**body, **fields, "serial": serial, "lineage": lineage}).encode() + b"\n"


def files(backend: Backend) -> tuple[bytes | None, bytes | None, bytes]:
    """Everything a backend stores: snapshot, backup, journal."""
    return backend.read_snapshot(), backend.read_backup(), backend.read_journal()


class BackendConformance:
    """The tests; a subclass gets a ``kit`` fixture."""

    # -- the lock ----------------------------------------------------------------------------------
    def test_a_second_acquire_fails_at_once_naming_the_holder(self, kit: Kit) -> None:
        first, second = kit.new(), kit.new()
        held = first.acquire("apply")
        started = time.monotonic()
        with pytest.raises(LockError) as exc:
            second.acquire("plan")
        assert time.monotonic() - started < 1.0, "no waiting without a timeout"
        text = str(exc.value)
        assert "the state is locked" in text and first.describe() in text
        assert f"Lock ID:   {held.id}" in text
        assert "Operation: apply" in text
        assert f"Since:     {held.created}" in text
        assert f"(pid {held.pid})" in text and held.who in text
        assert "--lock-timeout" in text and "mlplan force-unlock" in text  # how to proceed
        assert second.current_lock() == held
        with pytest.raises(LockError, match="the state is locked"):
            first.acquire("apply")  # the holder itself cannot take it twice
        first.release(held)

    def test_acquire_with_a_timeout_waits_until_the_lock_is_released(self, kit: Kit) -> None:
        first, second = kit.new(), kit.new()
        held = first.acquire("apply")
        got: list[LockInfo] = []
        waiter = threading.Thread(target=lambda: got.append(second.acquire("plan", timeout=30)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not got, "acquire with a timeout waits for the holder"
        first.release(held)
        waiter.join(timeout=30)
        assert got and got[0].operation == "plan"
        assert second.current_lock() == got[0]
        second.release(got[0])

    def test_acquire_with_a_timeout_gives_up_naming_the_holder(self, kit: Kit) -> None:
        first, second = kit.new(), kit.new()
        held = first.acquire("apply")
        started = time.monotonic()
        with pytest.raises(LockError) as exc:
            second.acquire("plan", timeout=0.4)
        assert time.monotonic() - started >= 0.35
        assert held.id in str(exc.value)
        first.release(held)

    def test_release_lets_the_next_one_in_and_only_once(self, kit: Kit) -> None:
        first, second = kit.new(), kit.new()
        held = first.acquire("apply")
        first.release(held)
        assert second.current_lock() is None
        with pytest.raises(LockError, match="not held"):
            first.release(held)
        again = second.acquire("plan")
        assert again.id != held.id
        with pytest.raises(LockError, match="not held"):
            first.release(held)  # a stale release does not free someone else's lock
        assert first.current_lock() == again
        second.release(again)

    def test_the_lock_context_manager_releases_even_on_error(self, kit: Kit) -> None:
        backend = kit.new()
        with pytest.raises(RuntimeError), backend.lock("apply") as held:
            assert backend.current_lock() == held
            raise RuntimeError("boom")
        assert backend.current_lock() is None
        with kit.new().lock("plan"):
            pass

    # -- lock tokens on writes ---------------------------------------------------------------------
    def test_writes_under_a_released_lock_are_refused_and_change_nothing(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        state = backend.read()
        state.resources["compute.cpu"] = rs(max_instances=1)
        backend.write(state, held)
        backend.write(state, held)
        journal = backend.journal(state, held)
        journal.begin("op", "compute.gpu", "create")
        before, serial = files(backend), state.serial
        backend.release(held)

        for write in (
            lambda: backend.write_snapshot(b"{}", held),
            lambda: backend.truncate_journal(held),
            lambda: backend.open_journal(held),
            lambda: backend.journal(state, held),
            lambda: backend.write(state, held),
            lambda: journal.end("op", "compute.gpu", rs("compute.gpu")),
            lambda: journal.compact(),
        ):
            with pytest.raises(LockError, match=UNHELD):
                write()
        assert files(backend) == before
        assert state.serial == serial and "op" in state.pending and "compute.gpu" not in state.resources
        assert kit.new().read().serial == serial

    def test_writes_under_a_lock_never_taken_are_refused(self, kit: Kit) -> None:
        backend = kit.new()
        forged = LockInfo.new("apply", backend.describe())
        with pytest.raises(LockError, match=UNHELD) as exc:
            backend.write(State(), forged)
        assert "No lock is held now" in str(exc.value)
        held = backend.acquire("apply")
        with pytest.raises(LockError, match=UNHELD) as exc:
            backend.write_snapshot(b"{}", forged)
        assert held.id in str(exc.value), "names the lock that is held"
        with pytest.raises(LockError, match=UNHELD):
            backend.open_journal(forged)
        with pytest.raises(LockError, match=UNHELD):
            backend.truncate_journal(forged)
        assert files(backend) == (None, None, b"")
        backend.release(held)

    def test_a_dead_holders_lock_is_refused_after_force_unlock_and_retake(self, kit: Kit) -> None:
        dead, operator, successor = kit.new(), kit.new(), kit.new()
        lost = dead.acquire("apply")
        journal = dead.journal(dead.read(), lost)
        journal.begin("op1", "compute.cpu", "create")
        kit.die(dead)
        assert operator.current_lock() == lost, "a dead holder's lock information stays on record"

        operator.force_unlock(lost.id)
        assert operator.current_lock() is None
        taken = successor.acquire("apply")
        state = successor.read()
        successor.write(state, taken)
        before = files(successor)
        for backend in (operator, successor):
            with pytest.raises(LockError, match=UNHELD):
                backend.write(State(), lost)
            with pytest.raises(LockError, match=UNHELD):
                backend.journal(state, lost)
        assert files(successor) == before
        successor.release(taken)

    def test_force_unlock_of_a_running_holder(self, kit: Kit) -> None:
        holder, other = kit.new(), kit.new()
        held = holder.acquire("apply")
        journal = holder.journal(holder.read(), held)
        journal.begin("op1", "compute.cpu", "create")
        if kit.force_unlock_checks_holder:
            with pytest.raises(LockError) as exc:
                other.force_unlock(held.id)
            assert "still running" in str(exc.value) and f"pid {held.pid}" in str(exc.value)
            journal.end("op1", "compute.cpu", rs())  # the holder goes on
            journal.close()
            assert "compute.cpu" in other.read().resources
            holder.release(held)
        else:  # the lock is broken: the holder's writes are refused from here on, another can lock
            other.force_unlock(held.id)
            before = files(other)
            with pytest.raises(LockError, match=UNHELD):
                journal.end("op1", "compute.cpu", rs())
            taken = other.acquire("apply")
            assert files(other) == before
            other.release(taken)

    def test_a_write_refused_inside_lock_is_the_error_raised(self, kit: Kit) -> None:
        """Leaving ``lock()`` on an error does not hide it behind a failed release of a lock already gone."""
        holder, other = kit.new(), kit.new()
        with pytest.raises(LockError, match=UNHELD), holder.lock("apply") as held:
            journal = holder.journal(holder.read(), held)
            journal.begin("op1", "compute.cpu", "create")
            holder.release(held)  # the lock is gone under the body (a lease broken by force-unlock, say)
            journal.end("op1", "compute.cpu", rs())
        with other.lock("plan"):
            assert "op1" in other.read().pending
        with pytest.raises(LockError, match="not held"), holder.lock("apply") as held:
            holder.release(held)  # without an error in the body, a failed release is reported

    def test_force_unlock_refuses_a_wrong_id_and_an_absent_lock(self, kit: Kit) -> None:
        holder, other = kit.new(), kit.new()
        with pytest.raises(LockError, match="no lock is held on"):
            other.force_unlock("00000000-0000-0000-0000-000000000000")
        held = holder.acquire("apply")
        kit.die(holder)
        with pytest.raises(LockError) as exc:
            other.force_unlock("00000000-0000-0000-0000-000000000000")
        assert "does not match the lock held" in str(exc.value) and held.id in str(exc.value)
        assert other.current_lock() == held
        other.force_unlock(held.id)
        assert other.current_lock() is None
        other.release(other.acquire("plan"))

    # -- recovery: snapshot + journal --------------------------------------------------------------
    def test_journal_records_survive_a_reopen_without_snapshot(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        state = backend.read()
        journal = backend.journal(state, held)
        journal.begin("op1", "compute.cpu", "create", "cpu")
        journal.end("op1", "compute.cpu", rs(max_instances=1))
        journal.begin("op2", "compute.gpu", "create", "gpu")  # crash before its end
        kit.die(backend)  # no journal.close(): no snapshot was written
        assert backend.read_snapshot() is None

        reopened = kit.new().read()
        assert reopened.lineage == state.lineage  # the first apply crashed before any snapshot
        assert reopened.resources["compute.cpu"].attributes == {"max_instances": 1}
        assert list(reopened.pending) == ["op2"]
        assert reopened.pending["op2"].address == "compute.gpu" and reopened.pending["op2"].name == "gpu"
        assert (reopened.seq, reopened.serial) == (3, 1), "three records of one run"

    def test_a_long_running_operations_token_survives_a_crash_and_a_compaction(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        journal.begin("op1", "online_endpoint.ep", "create", "ep")
        journal.progress("op1", "online_endpoint.ep", {"poller": "https://management/operations/1"})
        kit.die(backend)  # the next run resumes the operation by its token
        reopened = kit.new().read()
        assert reopened.pending["op1"].token == {"poller": "https://management/operations/1"}
        other = kit.new()
        left = other.current_lock()
        if left is not None:  # a lease outlives its dead holder until someone breaks it
            other.force_unlock(left.id)
        lock = other.acquire("apply")
        kept = other.journal(reopened, lock)
        kept.close()  # a snapshot of the pending operation keeps the token too
        other.release(lock)
        assert kit.new().read().pending["op1"].token == {"poller": "https://management/operations/1"}

    def test_a_failed_operation_is_remembered_until_the_address_succeeds(self, kit: Kit) -> None:
        backend = kit.new()
        with backend.lock("apply") as held:
            journal = backend.journal(backend.read(), held)
            journal.begin("op1", "compute.cpu", "create", "cpu")
            journal.abort("op1", "compute.cpu", error="quota exceeded")
            journal.begin("op2", "compute.gpu", "create", "gpu")
            journal.abort("op2", "compute.gpu")  # settled after a crash: not a failure
            journal.close()
        state = kit.new().read()
        assert state.pending == {} and list(state.failures) == ["compute.cpu"]
        assert state.failures["compute.cpu"]["action"] == "create"
        assert state.failures["compute.cpu"]["error"] == "quota exceeded"
        with backend.lock("apply") as held:
            journal = backend.journal(state, held)
            journal.begin("op3", "compute.cpu", "create", "cpu")
            journal.end("op3", "compute.cpu", rs())
            journal.close()
        assert kit.new().read().failures == {}

    def test_the_journals_lineage_is_kept_when_the_first_snapshot_comes_after_a_crash(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        journal.begin("op1", "compute.cpu", "create")
        lineage = journal.state.lineage
        kit.die(backend)

        successor = kit.new()
        taken = kit.take_over(successor, held)
        state = successor.read()
        assert state.lineage == lineage
        successor.write(state, taken)
        successor.release(taken)
        assert json.loads(successor.read_snapshot() or b"")["lineage"] == lineage
        assert kit.new().read().lineage == lineage

    def test_a_torn_last_journal_record_is_ignored(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        journal.begin("op1", "compute.cpu", "create", "cpu")
        journal.end("op1", "compute.cpu", rs(max_instances=1))
        sink = backend.open_journal(held)
        sink.append(b'{"t":"end","op":"op2","address":"compute.gpu","resou')  # the process died mid-write
        sink.sync()
        kit.die(backend)
        state = kit.new().read()
        assert list(state.resources) == ["compute.cpu"]
        assert state.resources["compute.cpu"].attributes == {"max_instances": 1}
        assert (state.seq, state.serial) == (2, 1)
        assert not state.pending

    def test_records_appended_after_a_torn_record_are_recovered(self, kit: Kit) -> None:
        """The next process appends to a journal whose last record is torn, then dies too: nothing it ended is lost."""
        first = kit.new()
        lost = first.acquire("apply")
        journal = first.journal(first.read(), lost)
        journal.begin("op1", "compute.cpu", "create")
        journal.end("op1", "compute.cpu", rs("compute.cpu"))
        sink = first.open_journal(lost)
        sink.append(b'{"t":"begin","op":"op2","addr')
        sink.sync()
        kit.die(first)

        second = kit.new()
        held = kit.take_over(second, lost)
        journal = second.journal(second.read(), held)
        journal.begin("op3", "compute.gpu", "create")
        journal.begin("op4", "data.iris", "create")
        journal.end("op4", "data.iris", rs("data.iris"))
        kit.die(second)

        state = kit.new().read()
        assert sorted(state.resources) == ["compute.cpu", "data.iris"]
        assert list(state.pending) == ["op3"]
        assert (state.seq, state.serial) == (5, 2), "five records of two runs"

    def test_journal_records_not_newer_than_the_snapshot_are_skipped(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        state = State(serial=5, seq=5)  # records written before seq existed are numbered by their serial
        state.resources["compute.cpu"] = rs(max_instances=5)
        backend.write_snapshot(encode_state(state), held)
        sink = backend.open_journal(held)
        sink.append(record(3, state.lineage, resource=None, removed=True))  # older
        sink.append(record(5, state.lineage, resource=rs(max_instances=1).to_json()))  # as old
        sink.append(record(6, state.lineage, op="new", address="compute.gpu", resource=rs("compute.gpu").to_json()))
        sink.sync()
        got = kit.new().read()
        assert got.resources["compute.cpu"].attributes == {"max_instances": 5}
        assert "compute.gpu" in got.resources
        assert got.serial == 6
        backend.release(held)

    def test_journal_records_of_another_lineage_are_skipped(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        state = State(serial=1)
        backend.write_snapshot(encode_state(state), held)
        sink = backend.open_journal(held)
        sink.append(record(2, "someone-else", resource=rs().to_json()))
        sink.append(record(3, state.lineage, op="y", address="data.iris", resource=rs("data.iris").to_json()))
        sink.sync()
        got = kit.new().read()
        assert list(got.resources) == ["data.iris"]
        assert got.serial == 3 and got.lineage == state.lineage
        backend.release(held)

    def test_the_serial_moves_once_per_write_and_per_run_and_seq_once_per_record(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        state = backend.read()
        assert (state.serial, state.seq) == (0, 0)
        backend.write(state, held)
        assert state.serial == 1 and kit.new().read().serial == 1
        journal = backend.journal(state, held)
        seen = []
        for step in (
            lambda: journal.begin("op", "compute.cpu", "create"),
            lambda: journal.end("op", "compute.cpu", rs()),
            lambda: journal.begin("op2", "compute.cpu", "delete"),
            lambda: journal.abort("op2", "compute.cpu"),
            lambda: journal.set("outputs", {"x": 1}),
        ):
            step()
            read = kit.new().read()
            seen.append((journal.state.serial, journal.state.seq, read.serial, read.seq))
        assert seen == [(2, 1, 2, 1), (2, 2, 2, 2), (2, 3, 2, 3), (2, 4, 2, 4), (2, 5, 2, 5)], "one run: one serial"
        journal.close()  # compaction folds, it does not count
        assert (kit.new().read().serial, kit.new().read().seq) == (2, 5)
        backend.write(state, held)
        got = kit.new().read()
        assert got.serial == 3 and got.outputs == {"x": 1} and list(got.resources) == ["compute.cpu"]
        again = backend.journal(got, held)
        again.begin("op3", "compute.cpu", "update")
        again.end("op3", "compute.cpu", rs())
        again.close()
        assert (kit.new().read().serial, kit.new().read().seq) == (4, 7), "the next run moves it once more"
        backend.release(held)

    def test_journal_close_compacts_into_a_snapshot(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        journal.begin("op", "compute.cpu", "create")
        journal.end("op", "compute.cpu", rs())
        journal.close()
        assert backend.read_journal() == b""
        snap = json.loads(backend.read_snapshot() or b"")
        assert "compute.cpu" in snap["resources"] and (snap["serial"], snap["seq"]) == (1, 2)
        backend.release(held)

    def test_the_journal_compacts_every_compact_every_records(self, kit: Kit) -> None:
        backend = kit.new()
        backend.compact_every = 3
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        for i in range(4):
            journal.begin(f"op{i}", f"compute.c{i}", "create")
            journal.end(f"op{i}", f"compute.c{i}", rs(f"compute.c{i}"))
        # records 1-3 and 4-6 were compacted; 7 and 8 are in the journal only (all of one run: serial 1)
        assert json.loads(backend.read_snapshot() or b"")["seq"] == 6
        assert json.loads(backend.read_backup() or b"")["seq"] == 3
        assert [(r["seq"], r["serial"]) for r in parse_journal(backend.read_journal())] == [(7, 1), (8, 1)]
        got = kit.new().read()
        assert (got.seq, got.serial) == (8, 1) and sorted(got.resources) == [f"compute.c{i}" for i in range(4)]
        journal.close()
        backend.release(held)

    def test_a_corrupt_snapshot_is_a_state_error_naming_the_backup(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        backend.write(State(), held)
        backend.write_snapshot(b'{"lineage": ', held)
        with pytest.raises(StateError) as exc:
            kit.new().read()
        assert "is corrupt" in str(exc.value) and backend.describe() in str(exc.value)
        assert "state push BACKUP --force" in str(exc.value)
        assert json.loads(backend.read_backup() or b"")["serial"] == 1
        backend.release(held)

    # -- backups -----------------------------------------------------------------------------------
    def test_writing_a_snapshot_keeps_the_previous_one_as_backup(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        first = State()
        first.resources["compute.cpu"] = rs(max_instances=1)
        backend.write(first, held)
        assert backend.read_backup() is None
        second = backend.read()
        second.resources["compute.cpu"] = rs(max_instances=2)
        backend.write(second, held)
        backup = json.loads(backend.read_backup() or b"")
        assert backup["resources"]["compute.cpu"]["attributes"] == {"max_instances": 1}
        assert backup["serial"] == 1
        current = kit.new().read()
        assert current.resources["compute.cpu"].attributes == {"max_instances": 2}
        assert current.serial == 2
        backend.release(held)
        assert kit.new().read_backup() == backend.read_backup()

    # -- format versions ---------------------------------------------------------------------------
    def test_a_format_0_snapshot_is_upgraded(self, kit: Kit) -> None:
        v0 = {
            "lineage": "lin-0",
            "serial": 4,
            "resources": [rs("compute.cpu", max_instances=1).to_json(), rs("data.iris").to_json()],
        }
        up = upgrade(v0)
        assert up["format_version"] == FORMAT_VERSION
        assert sorted(up["resources"]) == ["compute.cpu", "data.iris"]

        backend = kit.new()
        held = backend.acquire("apply")
        backend.write_snapshot(json.dumps(v0).encode(), held)
        state = kit.new().read()
        assert state.format_version == FORMAT_VERSION
        assert state.lineage == "lin-0" and state.serial == 4
        assert state.resources["compute.cpu"].attributes == {"max_instances": 1}
        backend.write(state, held)
        assert json.loads(backend.read_snapshot() or b"")["format_version"] == FORMAT_VERSION
        backend.release(held)

    def test_a_newer_format_is_refused(self, kit: Kit) -> None:
        backend = kit.new()
        held = backend.acquire("apply")
        backend.write_snapshot(json.dumps({**State().to_json(), "format_version": FORMAT_VERSION + 1}).encode(), held)
        with pytest.raises(StateError, match="newer"):
            kit.new().read()
        backend.release(held)

    # -- crashes -----------------------------------------------------------------------------------
    # The journal of an apply: begin/end op1, begin/end op2 (the 4th record compacts, compact_every=4),
    # begin op3, close (compacts again). It stops at a crash point, or is abandoned after begin op3.
    CRASHES = {
        # case: crash point and arrival (None: abandoned after begin op3), what the storage holds then
        # (snapshot seq, journal seqs), what is recovered (pending operations, seq); the serial is 1 (one run)
        "after_begin, abandoned": (None, (4, [5]), (["op3"], 5)),
        "after_end, before the first snapshot": (("before_snapshot", 1), (None, [1, 2, 3, 4]), ([], 4)),
        "after the first snapshot, before truncating": (("after_snapshot", 1), (4, [1, 2, 3, 4]), ([], 4)),
        "at close, before its snapshot": (("before_snapshot", 2), (4, [5]), (["op3"], 5)),
        "at close, before truncating": (("after_snapshot", 2), (5, [5]), (["op3"], 5)),
    }

    @pytest.mark.parametrize("case", list(CRASHES))
    def test_a_crash_loses_no_ended_operation_nor_the_pending_begin(
        self, kit: Kit, case: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        point, (snapshot_serial, journal_serials), (pending, serial) = self.CRASHES[case]
        resources = ["compute.c1", "compute.c2"]
        if point is not None:
            crash_at(monkeypatch, *point)
        backend = kit.new()
        backend.compact_every = 4
        held = backend.acquire("apply")
        journal = backend.journal(backend.read(), held)
        lineage = journal.state.lineage
        with pytest.raises(SimulatedCrash) if point else contextlib.nullcontext():
            for i in (1, 2):
                journal.begin(f"op{i}", f"compute.c{i}", "create", f"c{i}")
                journal.end(f"op{i}", f"compute.c{i}", rs(f"compute.c{i}", n=i))
            journal.begin("op3", "compute.c3", "create", "c3")
            if point is not None:
                journal.close()
        kit.die(backend)
        monkeypatch.setattr(journal_mod, "crashpoint", lambda _name: None)

        successor = kit.new()
        snapshot = successor.read_snapshot()
        assert (json.loads(snapshot)["seq"] if snapshot else None) == snapshot_serial
        assert journal_serials == [r["seq"] for r in parse_journal(successor.read_journal())]
        state = successor.read()
        assert (sorted(state.resources), sorted(state.pending), state.seq) == (resources, pending, serial)
        assert state.serial == 1
        assert state.lineage == lineage
        assert state.resources["compute.c2"].attributes == {"n": 2}
        if pending:
            assert state.pending["op3"].address == "compute.c3" and state.pending["op3"].name == "c3"

        # the next run settles what was pending and goes on: everything converges
        taken = kit.take_over(successor, held)
        state = successor.read()
        again = successor.journal(state, taken)
        for op in list(state.pending):
            again.end(op, "compute.c3", rs("compute.c3", n=3))
        again.begin("op4", "compute.c4", "create", "c4")
        again.end("op4", "compute.c4", rs("compute.c4", n=4))
        again.close()
        successor.release(taken)
        final = kit.new().read()
        assert sorted(final.resources) == sorted([*resources, *(["compute.c3"] if pending else []), "compute.c4"])
        assert not final.pending
        assert final.seq == serial + len(pending) + 2 and final.serial == 2, "two runs"
        assert successor.read_journal() == b""
        assert json.loads(successor.read_snapshot() or b"")["seq"] == final.seq
