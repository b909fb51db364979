"""What only the azureblob backend shows (on Azurite): the lease renewed while held, expired after its holder died,
Azure itself refusing a writer whose lease was broken, the lock information kept across snapshot writes, and
the errors for storage that is not there."""

from __future__ import annotations

import json
import time

import pytest

from mlplan.core.errors import LockError, StateError
from mlplan.state.azureblob import LOCK_METADATA, AzureBlobBackend
from mlplan.state.backend import LockInfo
from tests.state.azureblob_kit import AzureBlobKit, open_azureblob
from tests.state.conformance import UNHELD, files, rs

SHORT = 15  # the shortest lease Azure grants


def azure_side(backend: AzureBlobBackend) -> tuple[str, str | None]:
    """The state blob's lease status and lock metadata, as Azure keeps them."""
    props = backend._state.get_blob_properties()
    return props.lease.status, props.metadata.get(LOCK_METADATA)


@pytest.mark.slow
def test_the_lease_is_renewed_while_held_and_expires_after_its_holder_died(azurite_state: str) -> None:
    kit = AzureBlobKit(azurite_state, lease_seconds=SHORT)
    holder, other = kit.new(), kit.new()
    held = holder.acquire("apply")
    journal = holder.journal(holder.read(), held)
    journal.begin("op1", "compute.cpu", "create")
    time.sleep(SHORT + 5)  # past one lease: only the renewals keep it
    with pytest.raises(LockError, match="the state is locked") as exc:
        other.acquire("plan")
    assert held.id in str(exc.value)
    journal.end("op1", "compute.cpu", rs())  # the holder goes on writing

    kit.die(holder)
    assert other.current_lock() == held, "a dead holder's lease runs on until it expires"
    taken = other.acquire("apply", timeout=3 * SHORT)  # no force-unlock: the lease expires by itself
    assert other.current_lock() == taken
    before = files(other)
    with pytest.raises(LockError, match=UNHELD):  # the dead holder, were it to wake up, is refused by Azure
        journal.begin("op2", "compute.gpu", "create")
        journal.end("op2", "compute.gpu", rs("compute.gpu"))
    assert files(other) == before
    state = other.read()
    assert "compute.cpu" in state.resources and not state.pending
    other.release(taken)


def test_a_writer_whose_lease_was_broken_is_refused_by_azure(azurite_state: str) -> None:
    """An operator breaks the lease behind mlplan's back (the portal, `az storage blob lease break`): the holder
    still believes it holds the lock, and Azure refuses its writes, the snapshot and the journal alike."""
    from azure.storage.blob import BlobLeaseClient

    kit = AzureBlobKit(azurite_state)
    holder = kit.new()
    held = holder.acquire("apply")
    state = holder.read()
    holder.write(state, held)
    journal = holder.journal(state, held)
    journal.begin("op1", "compute.cpu", "create")
    before = files(holder)
    for blob in holder.blobs():
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
    holder.check_lock(held)  # in memory nothing changed: what follows is Azure's refusal
    with pytest.raises(LockError, match=UNHELD):
        journal.end("op1", "compute.cpu", rs())
    with pytest.raises(LockError, match=UNHELD):
        holder.write_snapshot(b"{}", held)
    with pytest.raises(LockError, match=UNHELD):
        holder.truncate_journal(held)
    assert files(holder) == before
    with pytest.raises(LockError, match="not held"):
        holder.release(held)
    other = kit.new()
    other.release(other.acquire("apply"))  # the state is free for the next one


def test_the_lock_information_stays_on_the_blob_across_snapshot_writes(azurite_state: str) -> None:
    kit = AzureBlobKit(azurite_state)
    holder, other = kit.new(), kit.new()
    held = holder.acquire("apply")
    assert azure_side(holder)[0] == "locked"
    holder.write(holder.read(), held)  # a Put Blob replaces the metadata: the lock's goes along
    assert other.current_lock() == held
    journal = holder.journal(holder.read(), held)
    journal.begin("op1", "compute.cpu", "create")
    journal.close()  # compaction: another snapshot write
    assert other.current_lock() == held
    assert json.loads(other.read_snapshot() or b"")["serial"] == 2
    holder.release(held)
    assert azure_side(holder) == ("unlocked", None), "released: no lease, no lock information"


def test_force_unlock_ends_only_the_lease_it_names(azurite_state: str) -> None:
    """The lease id is the lock id: force-unlock of a lock already replaced by another refuses, the new lease stays."""
    kit = AzureBlobKit(azurite_state)
    first, second, operator = kit.new(), kit.new(), kit.new()
    old = first.acquire("apply")
    operator.force_unlock(old.id)
    new = second.acquire("apply")
    with pytest.raises(LockError, match="does not match the lock held"):
        operator.force_unlock(old.id)
    assert azure_side(second)[0] == "locked" and operator.current_lock() == new
    with pytest.raises(LockError, match=UNHELD):
        first.write_snapshot(b"{}", old)
    second.release(new)


def test_a_missing_container_is_a_state_error_saying_so(azurite_state: str) -> None:
    kit = AzureBlobKit(azurite_state)
    backend = open_azureblob({**kit.settings, "container": "no-such-container"}, kit.environ)
    with pytest.raises(StateError) as exc:
        backend.acquire("apply")
    assert "the container 'no-such-container' does not exist" in str(exc.value)
    assert "mlplan does not create storage" in str(exc.value)
    with pytest.raises(StateError, match="does not exist"):
        backend.read_snapshot()
    assert backend.current_lock() is None


def test_a_forged_lock_id_cannot_write_even_as_a_lease_id(azurite_state: str) -> None:
    """Writes carry the lease id; one that no lease was taken with is refused before and by Azure."""
    kit = AzureBlobKit(azurite_state)
    holder = kit.new()
    held = holder.acquire("apply")
    forged = LockInfo.new("apply", holder.describe())
    holder._held = forged  # as if this process believed it held another lock
    with pytest.raises(LockError, match=UNHELD):
        holder.write_snapshot(b"{}", forged)
    holder._held = held
    assert holder.read_snapshot() is None
    holder.release(held)
