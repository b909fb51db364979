"""What is kept of a secret: stable for change detection, specific to the project, slow to guess."""

from __future__ import annotations

import hashlib

from mlplan.providers.base import secret_hash, token_hash


def test_secret_hash_is_stable_per_project_and_differs_across_projects() -> None:
    a = secret_hash("hunter2", "proj-a")
    assert a == secret_hash("hunter2", "proj-a")  # no perpetual diff
    assert a != secret_hash("hunter2", "proj-b")  # a guess is good for one project only
    assert a != secret_hash("hunter3", "proj-a")  # a changed secret is a change
    assert a.startswith("scrypt:") and hashlib.sha256(b"hunter2").hexdigest()[:10] not in a


def test_token_hash_is_the_fast_digest_the_router_checks() -> None:
    assert token_hash("k") == "sha256:" + hashlib.sha256(b"k").hexdigest()
