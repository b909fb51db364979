"""``azmlinfsrv`` bound to loopback: the Azure ML inference server, started as its console script does.

The server binds ``0.0.0.0`` (its ``DEFAULT_HOST``); a local deployment must only be reachable on
loopback, behind its endpoint's key check. Run as ``python -m mlplan.providers.local.infsrv`` with
``azmlinfsrv``'s own arguments.
"""

from __future__ import annotations

import sys

from mlplan.providers.local.serving import HOST


def main() -> int:
    import azureml_inference_server_http.constants as constants

    constants.DEFAULT_HOST = HOST  # read by amlserver at import time: set before importing it
    from azureml_inference_server_http.amlserver import run

    sys.argv[0] = "azmlinfsrv"
    result: int = run() or 0
    return result


if __name__ == "__main__":
    sys.exit(main())
