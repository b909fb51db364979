"""Scoring requests to a local endpoint's router: keep-alive connections, reused across requests and threads.

A new TCP connection per request costs a handshake and, in the router, a new handler thread; evaluating
thousands of rows in batches sends hundreds of requests, so connections are pooled per endpoint port.
"""

from __future__ import annotations

import http.client
import threading

# A pooled connection the server has since closed fails on reuse in one of these ways (nothing was
# processed): the request is sent again once on a fresh connection.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


class Pool:
    """Idle keep-alive HTTP/1.1 connections to one host and port."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False

    def _give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.append(conn)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body``; the status and the whole response body. Connection errors propagate (OSError)."""
        conn, reused = self._take()
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
            except _STALE:
                if not reused:
                    raise
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            self._give(conn)
        return resp.status, data

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Pools:
    """One ``Pool`` per port, created on first use."""

    def __init__(self, host: str, timeout: float) -> None:
        self.host = host
        self.timeout = timeout
        self._pools: dict[int, Pool] = {}
        self._lock = threading.Lock()

    def get(self, port: int) -> Pool:
        with self._lock:
            pool = self._pools.get(port)
            if pool is None:
                pool = self._pools[port] = Pool(self.host, port, self.timeout)
            return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
