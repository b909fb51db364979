"""Scoring requests to a local endpoint: keep-alive connections (providers/local/scoring.py) and ``invoke``."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlplan.core.errors import ProviderError
from mlplan.providers.base import Cancelled, Context, Observed
from mlplan.providers.local.endpoints import OnlineEndpointType
from mlplan.providers.local.scoring import Pool, Pools


class Recorder(ThreadingHTTPServer):
    daemon_threads = True
    connections: set[tuple[str, int]]
    drop_after: set[int]  # request numbers after which the server closes the connection without saying so
    requests: int


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the router: headers and body are two writes
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests += 1
        self.server.connections.add(self.client_address)
        answer = body.upper()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        if self.server.requests in self.server.drop_after:
            self.close_connection = True  # no "Connection: close": the client believes it may reuse it


@pytest.fixture
def server() -> Iterator[Recorder]:
    srv = Recorder(("127.0.0.1", 0), Handler)
    srv.connections, srv.drop_after, srv.requests = set(), set(), 0
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_requests_reuse_one_connection(server: Recorder) -> None:
    pool = Pool("127.0.0.1", server.server_address[1], timeout=10)
    for i in range(20):
        assert pool.post("/score", f"row {i}".encode(), {}) == (200, f"ROW {i}".encode())
    assert len(server.connections) == 1
    pool.close()


def test_a_connection_the_server_dropped_is_replaced_and_the_request_sent_again(server: Recorder) -> None:
    server.drop_after = {2}
    pool = Pool("127.0.0.1", server.server_address[1], timeout=10)
    assert [pool.post("/score", f"{i}".encode(), {})[1] for i in range(4)] == [b"0", b"1", b"2", b"3"]
    assert server.requests == 4 and len(server.connections) == 2


def test_concurrent_requests_get_a_connection_each_and_keep_them(server: Recorder) -> None:
    pools = Pools("127.0.0.1", timeout=10)
    pool = pools.get(server.server_address[1])
    assert pools.get(server.server_address[1]) is pool
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait(timeout=10)
        for j in range(5):
            assert pool.post("/score", f"{i}-{j}".encode(), {}) == (200, f"{i}-{j}".encode())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.requests == 20 and len(server.connections) <= 4
    pools.close()


class Echoing(BaseHTTPRequestHandler):
    """Answers 401 with what it was sent: a server that echoes the key must not get it into an error."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        seen = f"auth={self.headers['Authorization']} deployment={self.headers['azureml-model-deployment']}"
        answer = (seen + " " + "x" * 300).encode()
        self.send_response(401 if "green" in seen else 200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def local_endpoint(tmp_path: Path, port: int) -> tuple[Context, Observed]:
    folder = tmp_path / ".mlplan/local-workspace/endpoints/cancer"
    folder.mkdir(parents=True)
    (folder / "endpoint.json").write_text(json.dumps({"name": "cancer", "port": port}))
    (folder / "keys.json").write_text(json.dumps({"primary_key": KEY, "secondary_key": "other"}))
    return Context("p", "local", tmp_path, {}), Observed("onlineEndpoints/cancer", {})


KEY = "k3y-0f-the-endpoint"


def test_invoke_sends_the_key_and_the_deployment_and_keeps_the_key_out_of_errors(tmp_path: Path) -> None:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echoing)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    endpoints = OnlineEndpointType()
    try:
        ctx, endpoint = local_endpoint(tmp_path, srv.server_address[1])
        answer = endpoints.invoke(ctx, endpoint, "blue", b"{}")
        assert answer.startswith(f"auth=Bearer {KEY} deployment=blue ".encode())
        with pytest.raises(ProviderError) as err:
            endpoints.invoke(ctx, endpoint, "green", b"{}")
        assert str(err.value) == (
            "endpoint 'cancer', deployment 'green': the scoring request failed with HTTP 401: "
            + ("auth=Bearer (sensitive) deployment=green " + "x" * 300)[:200]
        )
        ctx.cancelled.set()
        with pytest.raises(Cancelled, match="scoring through endpoint 'cancer', deployment 'blue'"):
            endpoints.invoke(ctx, endpoint, "blue", b"{}")
    finally:
        endpoints.close()
        srv.shutdown()
        srv.server_close()


def test_invoke_names_what_does_not_answer_or_exist(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    ctx, endpoint = local_endpoint(tmp_path, port)
    endpoints = OnlineEndpointType()
    with pytest.raises(ProviderError) as err:
        endpoints.invoke(ctx, endpoint, "blue", b"{}")
    assert str(err.value).startswith(
        f"endpoint 'cancer', deployment 'blue': no answer from the scoring URI http://127.0.0.1:{port}/score"
        " (ConnectionRefusedError"
    )
    assert KEY not in str(err.value)
    with pytest.raises(ProviderError, match="endpoint 'gone', deployment 'blue': the endpoint does not exist"):
        endpoints.invoke(ctx, Observed("onlineEndpoints/gone", {}), "blue", b"{}")
