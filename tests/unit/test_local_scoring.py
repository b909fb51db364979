"""Keep-alive connections for scoring requests to a local endpoint (providers/local/scoring.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
