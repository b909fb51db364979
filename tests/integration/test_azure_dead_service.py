"""A dead Azure ML, through the installed ``mlplan`` and the real SDK clients: every request to the workspace's
computes answers 503 (with Retry-After), or has its connection reset. The plan fails with a message naming the call
and the resource, after exactly the attempts the retry policy allows, within the bound it states, and nothing is
written. The policy's durations are scaled down in the ``mlplan`` process (``retry_time_scale_env``: back-off,
Retry-After ceiling, call budget and timeouts times ``SCALE``, the numbers of retries unchanged), so that the bound
is seconds instead of 160 s; tests/unit/test_azure_clients.py checks the unscaled arithmetic on a scripted
transport."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from mlplan.providers.azure import clients
from tests.conftest import run_mlplan, write
from tests.loopback_azure import LoopbackAzure
from tests.loopback_azure.azurite import retry_time_scale_env

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

SCALE = 0.05  # the bound becomes 8 s; the back-off between 6 attempts about 1.2 s, well inside the 3 s call budget
BOUND_S = clients.DEAD_SERVICE_BOUND_S * SCALE


def project(root: Path, az: LoopbackAzure) -> Path:
    workspace = {
        "subscription_id": az.subscription_id,
        "resource_group": az.resource_group,
        "workspace_name": az.workspace,
        "location": az.location,
    }
    write(
        root,
        {
            "mlplan.yaml": f"""
            project: dead
            resources: ["res/*.yml"]
            environments:
              dev:
                provider: azure
                workspace: {json.dumps(workspace)}
                cloud: {json.dumps(az.cloud_config)}
                credential: environment
            """,
            "res/compute.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu
            type: amlcompute
            size: Standard_DS3_v2
            min_instances: 0
            max_instances: 2
            """,
        },
    )
    return root


@pytest.mark.parametrize(
    ("dead", "attempts", "says"),
    [
        # a status answer: RETRY_STATUS retries, then Azure's last answer
        ("unavailable", clients.RETRY_STATUS + 1, "Azure answered HTTP 503 ServiceUnavailable"),
        # no answer at all (reset after the request went out: a read error): RETRY_READ retries
        ("reset", clients.RETRY_READ + 1, "no answer from Azure after"),
    ],
)
def test_a_dead_service_fails_within_the_bound_naming_the_call_and_the_resource(
    tmp_path: Path, loopback_azure: LoopbackAzure, dead: str, attempts: int, says: str
) -> None:
    az = loopback_azure
    root = project(tmp_path / "proj", az)
    if dead == "unavailable":
        az.inject(503, retry_after=0.1, times=None, path_contains="/computes")  # sign-in still works
    else:
        az.inject_reset(times=None, path_contains="/computes")

    start = time.monotonic()
    r = run_mlplan("-C", str(root), "-e", "dev", "plan", env=retry_time_scale_env(SCALE), timeout=120)
    elapsed = time.monotonic() - start

    assert r.code == 1, r.text
    # refresh looks the compute up by name before adopting or creating it: compute.get of compute 'cpu'
    assert "compute.get (compute 'cpu'): " + says in r.err, r.err
    if dead == "reset":  # no answer: the message states the bound (scaled here, as the policy is)
        stated = re.search(r"mlplan gives up on a call after at most ([\d.]+) s", r.err)
        assert stated is not None and float(stated.group(1)) == pytest.approx(BOUND_S), r.err
    assert "Traceback" not in r.err, r.err
    tried = [c for c in az.calls if c.path.endswith("/computes/cpu")]
    assert len(tried) == attempts, [c.status for c in tried]
    assert {c.status for c in tried} == ({503} if dead == "unavailable" else {0})
    # mlplan's own start (interpreter, imports) is in `elapsed` too, hence the margin; an unscaled policy (160 s)
    # would still be far outside it
    assert elapsed < BOUND_S + 60, elapsed
    assert not (root / ".mlplan" / "state" / "dev.json").exists(), "a plan writes no state"
