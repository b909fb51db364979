"""A local-provider project whose state is in Azure Blob Storage (Azurite): plan, apply, state commands, the lease
lock between two real processes, and no secret in the blobs."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path

import pytest

from tests.conftest import run_mlplan, write
from tests.loopback_azure.azurite import Azurite
from tests.processes import start_stopped

CONTAINER = "mlplan-e2e"
SECRET = "s3cr3t-Bl0b-token"
PASSWORD = "Adm1n-Bl0b-qwerty"


@pytest.fixture
def blob_project(project: Path, azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """``project`` with environment ``shared`` (local provider) keeping its state in a blob of its own on Azurite;
    AZURE_STORAGE_CONNECTION_STRING set for every mlplan this test runs. Returns the project and the blob name."""
    azurite.container(CONTAINER)
    blob = f"{uuid.uuid4()}/shared.json"
    config = project / "mlplan.yaml"
    config.write_text(
        config.read_text()
        + "environments:\n  shared:\n    provider: local\n    state:\n      backend: azureblob\n"
        + f"      account_url: {azurite.blob_url}\n      container: {CONTAINER}\n      blob: {blob}\n"
        + "      credential: connection_string\n"
    )
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("MLPLAN_ENV", "shared")
    return project, blob


def blobs(azurite: Azurite, blob: str) -> dict[str, bytes]:
    """What the container holds of this state: the snapshot, its backup and the journal, by name."""
    container = azurite.container(CONTAINER)
    return {b.name: container.download_blob(b.name).readall() for b in container.list_blobs(name_starts_with=blob)}


def mlplan(project: Path, *args: str) -> tuple[int, str, str]:
    r = run_mlplan("-C", str(project), "-e", "shared", *args)
    return r.code, r.out, r.err


def test_plan_apply_and_state_commands_keep_the_state_in_the_blob(
    blob_project: tuple[Path, str], azurite: Azurite
) -> None:
    project, blob = blob_project
    code, out, err = mlplan(project, "plan")
    assert code == 0, out + err
    assert "Plan: 4 to create." in out, out
    # the lock is a lease on the state blob, created empty (with its backup and journal) for the lease to hold
    assert set(blobs(azurite, blob).values()) == {b""}, "plan writes no state"

    code, out, err = mlplan(project, "apply", "--auto-approve")
    assert code == 0, out + err
    stored = blobs(azurite, blob)
    assert set(stored) == {blob, f"{blob}.backup", f"{blob}.journal"}
    assert stored[f"{blob}.journal"] == b"", "compacted into the snapshot at the end of the apply"
    assert b'"compute.cpu"' in stored[blob]
    assert not (project / ".mlplan/state").exists(), "no local state file"

    code, out, err = mlplan(project, "state", "list")
    assert code == 0, out + err
    assert out.split() == ["compute.cpu", "data.iris", "environment.sk", "model.clf"], out
    code, out, err = mlplan(project, "plan", "--detailed-exitcode")
    assert code == 0, out + err  # nothing to change: the state read back from the blob is the state applied

    code, out, err = mlplan(project, "apply", "--auto-approve", "--var", "slots=3")
    assert code == 0, out + err
    stored = blobs(azurite, blob)
    assert b'"max_instances":2' in stored[f"{blob}.backup"], "the previous snapshot is kept as the backup"
    assert b'"max_instances":3' in stored[blob]


@pytest.mark.slow
def test_a_second_apply_gets_the_lock_error_naming_the_holder_and_force_unlock_ends_the_lease(
    blob_project: tuple[Path, str], azurite: Azurite
) -> None:
    project, blob = blob_project
    holder = start_stopped(project, "after_begin:1", "--parallelism", "1")  # holds the lease, stopped
    try:
        code, out, err = mlplan(project, "apply", "--auto-approve")
        assert code == 1, out + err
        assert "the state is locked" in err and f"{azurite.blob_url}/{CONTAINER}/{blob}" in err, err
        assert f"pid {holder.pid}" in err and "Operation: apply" in err, err
        assert "Traceback" not in out + err
        found = re.search(r"Lock ID:\s+([0-9a-f-]{36})", err)
        assert found, err
        lock_id = found.group(1)
    finally:
        holder.kill()
        os.kill(holder.pid, signal.SIGCONT)
        holder.communicate(timeout=30)
    # the holder is dead, its lease not yet expired: still locked until force-unlock ends it
    code, out, err = mlplan(project, "plan")
    assert code == 1 and lock_id in err, out + err
    code, out, err = mlplan(project, "force-unlock", "00000000-0000-0000-0000-000000000000")
    assert code == 1 and "does not match" in err, out + err
    code, out, err = mlplan(project, "force-unlock", lock_id)
    assert code == 0, out + err
    code, out, err = mlplan(project, "apply", "--auto-approve")
    assert code == 0, out + err
    assert "interrupted operation reconciled" in err, err
    code, out, err = mlplan(project, "plan", "--detailed-exitcode")
    assert code == 0, out + err


def test_no_secret_reaches_the_blobs_or_the_output(
    blob_project: tuple[Path, str], azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, blob = blob_project
    monkeypatch.setenv("MLPLAN_VAR_token", SECRET)
    write(
        project,
        {
            "res/compute.yml": f"""
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu
            type: amlcompute
            description: "${{var.token}}"
            ssh_public_access_enabled: true
            ssh_settings:
              admin_username: azureuser
              admin_password: {PASSWORD}
            """,
        },
    )
    config = project / "mlplan.yaml"
    sensitive = "variables:\n  token: {type: string, sensitive: true}\n"
    config.write_text(config.read_text().replace("variables:\n", sensitive))
    code, out, err = mlplan(project, "apply", "--auto-approve")
    assert code == 0, out + err
    code, pulled, err2 = mlplan(project, "state", "pull")
    assert code == 0, pulled + err2
    stored = b"".join(blobs(azurite, blob).values()).decode()
    assert "compute.cpu" in stored
    everything = stored + out + err + pulled + err2
    for secret in (SECRET, PASSWORD, azurite.key):
        assert secret not in everything
