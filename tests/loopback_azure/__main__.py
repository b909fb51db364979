"""``python -m tests.loopback_azure --port P [--latency-ms N] [--state-dir DIR] [--azurite URL]`` (repo root)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .server import LoopbackAzure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.loopback_azure",
        description="Serve a loopback Azure ML + ARM + Entra ID over TLS on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--state-dir", type=Path, help="keep the state (and the certificate) here across restarts")
    parser.add_argument("--workspace", default="mlw-loopback")
    parser.add_argument("--resource-group", default="rg-loopback")
    parser.add_argument(
        "--azurite", metavar="BLOB_URL", help="Azurite's blob URL, e.g. http://127.0.0.1:10000/devstoreaccount1"
    )
    args = parser.parse_args(argv)
    server = LoopbackAzure(
        args.state_dir,
        port=args.port,
        latency=args.latency_ms / 1000,
        workspace=args.workspace,
        resource_group=args.resource_group,
    )
    if args.azurite:
        server.attach_storage(args.azurite)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        for key, value in (
            ("url", server.url),
            ("ca", server.ca_path),
            ("tenant", server.tenant),
            ("subscription_id", server.subscription_id),
            ("resource_group", server.resource_group),
            ("workspace", server.workspace),
            ("client_id", server.client_id),
            ("client_secret", server.client_secret),
        ):
            print(f"{key}: {value}")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
