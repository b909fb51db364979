"""Who is running mlplan: the user, the host and, in CI, the run (for the promotion history)."""

from __future__ import annotations

import getpass
import os
import socket

# CI systems and the variable that identifies their run (GitHub Actions, Azure Pipelines, GitLab, Jenkins)
CI_RUN_VARIABLES = ("GITHUB_RUN_ID", "BUILD_BUILDID", "CI_PIPELINE_ID", "BUILD_TAG")


def who() -> dict[str, str]:
    """``{"user", "host"}`` and ``ci_run`` when a CI system says which run this is."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    out = {"user": user, "host": socket.gethostname()}
    for name in CI_RUN_VARIABLES:
        if os.environ.get(name):
            out["ci_run"] = f"{name}={os.environ[name]}"
            break
    return out
