"""``LoopbackAzure``: the server, its TLS, fault injection, latency and request log (see the package docstring)."""

from __future__ import annotations

import contextlib
import copy
import secrets
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import arm, assets, computes, endpoints, identity, jobs, lro
from . import workspace as workspaces
from .azurite import child_env
from .core import AZURITE_ACCOUNT, AZURITE_KEY, Azure, Storage
from .store import Store
from .tls import ensure_certificate, server_context
from .wire import ApiError, Request, Response, Router, error_body

DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
DEFAULT_TENANT = "00000000-0000-4000-8000-0000000000aa"
DEFAULT_CLIENT_ID = "00000000-0000-4000-8000-0000000000c1"
DEFAULT_CLIENT_SECRET = "loopback-client-secret"
STORAGE_SUFFIX = "core.windows.net"


@dataclass(frozen=True)
class Call:
    """One request the server received: what ``calls`` lists. ``status`` 0: the connection was reset."""

    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class Fault:
    """An injected failure: ``times`` more requests matching ``method`` and ``path_contains`` get it (None: all)."""

    status: int | None  # None: the connection is reset
    retry_after: float | None
    times: int | None
    path_contains: str | None
    method: str | None
    code: str
    message: str

    def matches(self, req: Request) -> bool:
        if self.times == 0:
            return False
        if self.method is not None and self.method.upper() != req.method:
            return False
        return self.path_contains is None or self.path_contains.lower() in req.path.lower()


class _StaticCredential:
    """An azure-core TokenCredential handing out one token the server accepts."""

    def __init__(self, token: str, expires_on: int) -> None:
        self._token = token
        self._expires_on = expires_on

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires_on)


class _Reset(Exception):
    """Raised inside a handler to drop its connection with a TCP reset."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            self.server.owner._serve(self, body)
        except _Reset:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: LoopbackAzure) -> None:
        self.owner = owner
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread: a slow client never stalls accept().
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACKs add 40 ms each.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.owner._tls.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        with self.sockets_lock:
            self.open_sockets.add(tls)
        try:
            super().finish_request(tls, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def close_all(self) -> None:
        with self.sockets_lock:
            for sock in list(self.open_sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


class LoopbackAzure:
    """A loopback Azure ML + ARM + Microsoft Entra ID. Start it with ``with LoopbackAzure(...) as az:``."""

    def __init__(
        self,
        state_dir: Path | str | None = None,
        *,
        port: int = 0,
        latency: float = 0.0,
        workspace: str = "mlw-loopback",
        resource_group: str = "rg-loopback",
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        tenant: str = DEFAULT_TENANT,
        location: str = "westeurope",
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._requested_port = port
        self.latency = latency
        self.workspace = workspace
        self.resource_group = resource_group
        self._temp: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._calls: list[Call] = []
        self._in_flight = 0
        self._max_in_flight = 0
        store = Store(self.state_dir / "state.json" if self.state_dir else None)
        self.az = Azure(
            store,
            subscription_id=subscription_id,
            tenant=tenant,
            location=location,
            client_id=client_id,
            client_secret=client_secret,
        )
        self.router = Router()
        for provider in (identity, lro, workspaces, assets, computes, endpoints, jobs, arm):
            provider.register(self.router, self.az)
        self.az.finishers["provision"] = lambda op: lro.finish_provision(self.az, op)
        self.az.finishers["delete"] = lambda op: lro.finish_delete(self.az, op)
        self._seed()
        self.cloud_name = ""

    def _seed(self) -> None:
        with self._lock:
            workspaces.create_workspace(self.az, self.resource_group, self.workspace)
            self.az.store.save()

    # lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> LoopbackAzure:
        if self._server is not None:
            return self
        cert_dir = self.state_dir
        if cert_dir is None:
            self._temp = cert_dir = Path(tempfile.mkdtemp(prefix="loopback-azure-"))
        cert, key = ensure_certificate(cert_dir)
        self.ca_path = cert
        self._tls = server_context(cert, key)
        self._server = _Server(("127.0.0.1", self._requested_port), self)
        self.port = self._server.server_address[1]
        # MLClient's cloud table is process-global and a name, once added, keeps its first URL: one name per server.
        self.cloud_name = f"loopback-{self.port}-{secrets.token_hex(4)}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-azure-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            self.az.store.save()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> LoopbackAzure:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # where it is ----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT/``: the resource manager, the authority host and the data planes."""
        return f"https://127.0.0.1:{self.port}/"

    @property
    def authority(self) -> str:
        """For ``ClientSecretCredential(..., authority=...)`` and ``AZURE_AUTHORITY_HOST``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def cloud_metadata(self) -> dict[str, str]:
        """MLClient's ``cloud_metadata`` (with ``cloud=self.cloud_name``)."""
        u = self.url
        return {
            "azure_portal": u,
            "resource_manager": u,
            "active_directory": u,
            "aml_resource_id": u,
            "storage_endpoint": STORAGE_SUFFIX,
            "registry_discovery_endpoint": u,
        }

    @property
    def cloud_config(self) -> dict[str, Any]:
        """The ``cloud:`` mapping of an mlplan.yaml environment that points at this server."""
        return {
            "name": self.cloud_name,
            "resource_manager": self.url,
            "active_directory": self.authority,
            "storage_suffix": STORAGE_SUFFIX,
            "disable_instance_discovery": True,
        }

    tenant = property(lambda self: self.az.tenant)
    subscription_id = property(lambda self: self.az.subscription_id)
    location = property(lambda self: self.az.location)
    client_id = property(lambda self: self.az.client_id)
    client_secret = property(lambda self: self.az.client_secret)

    @property
    def workspace_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    def env(self) -> dict[str, str]:
        """Environment variables for an SDK (or an ``mlplan`` process) talking to this server: the CA bundle, a
        service principal for azure-identity's EnvironmentCredential and, with storage attached, what makes a
        child process's azure-ai-ml upload there (``azurite.child_env``)."""
        env = {
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
            "AZURE_TENANT_ID": self.tenant,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_AUTHORITY_HOST": self.authority,
        }
        template = self.upload_template
        if template is not None:  # a child process's azure-ai-ml uploads to the attached storage
            env.update(child_env(template))
        return env

    @property
    def upload_template(self) -> str | None:
        """azure-ai-ml's blob account URL template for the attached storage (None: none attached)."""
        return f"{self.az.storage.blob_url.rsplit('/', 1)[0]}/{{}}" if self.az.storage else None

    # how "Azure" behaves --------------------------------------------------------------------------------------
    lro_seconds = property(
        lambda self: self.az.lro_seconds,
        lambda self, v: setattr(self.az, "lro_seconds", v),
        doc="Seconds from a long-running operation's start until it is done (default 0.05).",
    )
    job_seconds = property(
        lambda self: self.az.job_seconds,
        lambda self, v: setattr(self.az, "job_seconds", v),
        doc="Seconds a command job runs before it is Completed (default 0.3).",
    )
    page_size = property(
        lambda self: self.az.page_size,
        lambda self, v: setattr(self.az, "page_size", v),
        doc="Items per page of a list; the rest come through nextLink (default 50).",
    )
    require_auth = property(
        lambda self: self.az.require_auth,
        lambda self, v: setattr(self.az, "require_auth", v),
        doc="Whether ARM routes need a bearer token this server issued (default True).",
    )

    def inject(
        self,
        status: int = 429,
        *,
        retry_after: float | None = None,
        times: int | None = 1,
        path_contains: str | None = None,
        method: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """The next ``times`` matching requests (None: all of them) get ``status`` in Azure's error shape; with
        ``retry_after`` (seconds) they carry ``retry-after-ms``, and ``Retry-After`` too when it is whole seconds
        (azure-core prefers Retry-After, so a sub-second wait is sent in milliseconds only)."""
        default_code = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
        fault = Fault(
            status,
            retry_after,
            times,
            path_contains,
            method,
            code or default_code.get(status, "Injected"),
            message or f"Injected by the loopback Azure (status {status}).",
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def inject_reset(
        self, *, times: int | None = 1, path_contains: str | None = None, method: str | None = None
    ) -> Fault:
        """The next ``times`` matching requests have their connection reset (TCP RST) instead of an answer."""
        fault = Fault(None, None, times, path_contains, method, "", "")
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_operations(
        self,
        *,
        path_contains: str | None = None,
        times: int | None = 1,
        code: str = "InternalServerError",
        message: str = "Injected operation failure.",
    ) -> None:
        """The next ``times`` long-running operations started by a matching request end Failed with this error
        (the resource's provisioningState becomes Failed)."""
        with self._lock:
            self.az.operation_failures.append([path_contains, code, message, times])

    def slow_operations(self, path_contains: str, seconds: float, method: str | None = None) -> None:
        """Long-running operations started by a matching request (``method`` and a path containing the text) run
        ``seconds`` instead of ``lro_seconds``: one slow deployment while what-if and the rest stay quick."""
        with self._lock:
            self.az.operation_seconds.append((method.upper() if method else None, path_contains, seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self.az.operation_failures.clear()
            self.az.operation_seconds.clear()

    # what happened ----------------------------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Every request so far, in order (faulted and reset ones included)."""
        with self._lock:
            return list(self._calls)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was handling at once since the start or ``clear_calls``."""
        with self._lock:
            return self._max_in_flight

    def clear_calls(self) -> None:
        """Forget the calls so far (and the in-flight high-water mark)."""
        with self._lock:
            self._calls.clear()
            self._max_in_flight = self._in_flight

    # arranging "Azure" by hand ------------------------------------------------------------------------------------
    def add_workspace(self, name: str, resource_group: str | None = None) -> str:
        """Another workspace (its resource group made if new); its id."""
        with self._lock:
            rid = workspaces.create_workspace(self.az, resource_group or self.resource_group, name)
            self.az.store.save()
        return rid

    def attach_storage(self, blob_url: str, account: str = AZURITE_ACCOUNT, key: str = AZURITE_KEY) -> None:
        """Point the workspaces' blob datastores (and code uploads) at a blob service, such as Azurite's
        ``http://127.0.0.1:PORT/devstoreaccount1``, and create their containers there."""
        with self._lock:
            self.az.storage = Storage(blob_url.rstrip("/"), account, key)
            workspaces.attach_storage(self.az)
            self.az.store.save()

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        """A copy of what the server holds under an ARM id (case-insensitive), or None."""
        with self._lock:
            self._tick()
            body = self.az.store.get(resource_id)
            return copy.deepcopy(body) if body is not None else None

    def edit(self, resource_id: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change a resource in place, as someone in the studio would (drift); returns a copy of the result."""
        with self._lock:
            body = self.az.store.get(resource_id)
            if body is None:
                raise KeyError(resource_id)
            change(body)
            body["systemData"] = self.az.system_data(body.get("systemData"))
            self.az.store.dirty = True
            self.az.store.save()
            return copy.deepcopy(body)

    def hold_operations(self, resource_contains: str, seconds: float) -> int:
        """Make the running long-running operations on a matching resource (an ARM id containing the text) finish
        ``seconds`` from now (0: at the next request), as a slow deployment would; how many it changed."""
        with self._lock:
            now = self.az.now()
            held = 0
            for op_id in self.az.store.running:
                op = self.az.store.operations[op_id]
                if resource_contains.lower() in str(op["resource"]).lower():
                    op["done_at"] = now + seconds
                    held += 1
            self.az.store.dirty = True
            self.az.store.save()
            return held

    def set_scorer(
        self,
        endpoint: str,
        scorer: Callable[[bytes], Any],
        *,
        deployment: str | None = None,
        workspace_name: str | None = None,
    ) -> None:
        """What a deployment (every deployment of the endpoint when None) answers to a scoring request: the
        scorer gets the request body and returns JSON-able data or bytes."""
        rid = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{workspace_name or self.workspace}/"
            f"onlineEndpoints/{endpoint}"
        )
        with self._lock:
            self.az.scorers.setdefault(rid.lower(), {})[(deployment or "*").lower()] = scorer

    def finish_job(
        self, name: str, status: str = "Completed", *, error: str | None = None, workspace_name: str | None = None
    ) -> None:
        """End a running job now with ``status`` (Completed registers its named outputs, Failed, Canceled); a
        Failed run's ``error`` message is what run history says it died of."""
        rid = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{workspace_name or self.workspace}/jobs/{name}"
        )
        with self._lock:
            self.az.store.meta_of(rid)["forced"] = status
            if error is not None:
                self.az.store.meta_of(rid)["error"] = {"code": "UserError", "message": error}
            self._tick()
            self.az.store.save()

    def reset(self) -> None:
        """Forget every resource, operation, fault and call: a fresh "Azure" with the default workspace."""
        with self._lock:
            self.az.store.clear()
            self.az.scorers.clear()
            self._faults.clear()
            self._calls.clear()
            self.az.operation_failures.clear()
            self.az.operation_seconds.clear()
            self._seed()

    # clients ------------------------------------------------------------------------------------------------------
    def credential(self) -> Any:
        """A TokenCredential whose token this server accepts (no sign-in round trip)."""
        token, expires = self.az.issue_token("static-credential", lifetime=86400)
        return _StaticCredential(token, expires)

    def ml_client(
        self,
        credential: Any = None,
        *,
        workspace_name: str | None = None,
        resource_group: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """azure-ai-ml's MLClient on this server (TLS trusted through ``connection_verify``)."""
        from azure.ai.ml import MLClient

        return MLClient(
            credential or self.credential(),
            self.subscription_id,
            resource_group or self.resource_group,
            workspace_name or self.workspace,
            cloud=self.cloud_name,
            cloud_metadata=self.cloud_metadata,
            enable_telemetry=False,
            show_progress=False,
            connection_verify=str(self.ca_path),
            **kwargs,
        )

    # serving ------------------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        lro.settle(self.az)
        for ticker in self.az.tickers:
            ticker()

    def _take_fault(self, req: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(req):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: _Handler, body: bytes) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            self._answer(handler, body)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, handler: _Handler, body: bytes) -> None:
        req = Request.parse(
            handler.command, handler.path, dict(handler.headers.items()), body, f"https://127.0.0.1:{self.port}"
        )
        if self.latency > 0:
            time.sleep(self.latency)
        fault = self._take_fault(req)
        if fault is not None and fault.status is None:
            self._record(req, 0)
            raise _Reset()
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                # azure-core reads Retry-After (whole seconds) before retry-after-ms: a sub-second wait goes in ms only
                if fault.retry_after >= 1 and float(fault.retry_after).is_integer():
                    headers["Retry-After"] = str(int(fault.retry_after))
                headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
            assert fault.status is not None
            resp = Response(fault.status, error_body(fault.code, fault.message), headers)
        else:
            resp = self._dispatch(req)
        self._record(req, resp.status)
        payload, content_type = resp.encode()
        handler.send_response(resp.status)
        if payload:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in resp.headers.items():
            if name.lower() != "content-type" or payload:
                handler.send_header(name, value)
        handler.end_headers()
        if req.method != "HEAD":
            handler.wfile.write(payload)

    def _record(self, req: Request, status: int) -> None:
        with self._lock:
            self._calls.append(Call(req.method, req.path, dict(req.query), status))

    def _dispatch(self, req: Request) -> Response:
        with self._lock:
            try:
                self._tick()
                found = self.router.match(req)
                if found is None:
                    raise ApiError(
                        404,
                        "InvalidResourceType",
                        f"The loopback Azure does not serve {req.method} {req.path} (see tests/loopback_azure).",
                    )
                route, match = found
                if route.arm:
                    if "api-version" not in req.query:
                        raise ApiError(
                            400,
                            "MissingApiVersionParameter",
                            "The api-version query parameter (?api-version=) is required for all requests.",
                        )
                    self.az.check_bearer(req)
                return route.handler(req, match)
            except ApiError as e:
                return e.response()
            except Exception as e:  # a bug of the loopback: say so, loudly, in Azure's shape
                traceback.print_exc(file=sys.stderr)
                return Response(500, error_body("LoopbackBug", f"{type(e).__name__}: {e}"))
            finally:
                self.az.store.save()
