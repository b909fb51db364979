"""The scoring URI of a local online endpoint: one loopback port routing to its deployments.

Run as ``python -m mlplan.providers.local.router --dir ENDPOINT_DIR --port PORT``. It reads
``routes.json`` in ENDPOINT_DIR (re-read whenever it changes, so traffic shifts and deployment
updates take effect without a restart) and, like an Azure ML managed online endpoint:

- checks the key (``Authorization: Bearer <key>``; 401 without a valid one), comparing hashes;
- sends a request to the deployment named in the ``azureml-model-deployment`` header (also one
  at 0 % traffic), otherwise to one chosen at random by the traffic weights;
- answers with the deployment's response and an ``azureml-model-deployment`` header.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROUTES = "routes.json"


class Routes:
    def __init__(self, folder: Path) -> None:
        self.path = folder / ROUTES
        self._mtime = -1.0
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, force: bool = False) -> dict[str, Any]:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            if force or mtime != self._mtime:
                try:
                    self._data = json.loads(self.path.read_text())
                    self._mtime = mtime
                except ValueError:
                    pass  # a write in progress: keep the last good table
            return self._data


def _hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def choose(routes: dict[str, Any], rng: random.Random) -> str | None:
    traffic = {k: v for k, v in (routes.get("traffic") or {}).items() if v > 0 and k in routes.get("deployments", {})}
    if not traffic:
        return None
    names = sorted(traffic)
    chosen: str = rng.choices(names, weights=[traffic[n] for n in names])[0]
    return chosen


def make_handler(routes: Routes) -> type[BaseHTTPRequestHandler]:
    rng = random.Random()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: with Nagle's algorithm the body waits for the client's delayed
        # ACK of the headers (40 ms on Linux) on every request of a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str, deployment: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if deployment:
                self.send_header("azureml-model-deployment", deployment)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"message": message}).encode(), "application/json")

        def do_GET(self) -> None:
            self._send(200, b"Healthy", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            table = routes.get()
            if table.get("auth_mode", "key") == "key":
                auth = self.headers.get("Authorization", "")
                key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
                if not key or _hash(key) not in table.get("key_hashes", []):
                    self._error(401, "Unauthorized: pass the endpoint key as 'Authorization: Bearer <key>'")
                    return
            wanted = self.headers.get("azureml-model-deployment")
            for attempt in range(2):
                if wanted:
                    if wanted not in table.get("deployments", {}):
                        self._error(404, f"deployment {wanted!r} not found on this endpoint")
                        return
                    name: str | None = wanted
                else:
                    name = choose(table, rng)
                if name is None:
                    self._error(503, "no deployment of this endpoint receives traffic")
                    return
                port = int(table["deployments"][name]["port"])
                try:
                    status, data, ctype = forward(port, body, self.headers.get("Content-Type", "application/json"))
                except OSError:
                    if attempt == 0:
                        table = routes.get(force=True)  # the deployment may have just moved to a new server
                        continue
                    self._error(502, f"deployment {name!r} is not answering")
                    return
                self._send(status, data, ctype, name)
                return

    return Handler


def forward(port: int, body: bytes, content_type: str) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/score", body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Content-Type", "application/json")
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Routes(args.dir)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
