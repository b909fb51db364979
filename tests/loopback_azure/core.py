"""The state every resource provider of the loopback Azure shares: the store, the tenant and subscription,
timings, paging, ids and systemData, the attached blob storage (Azurite), and who may call."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .store import Store
from .wire import ApiError, Request, Response

# Azurite's documented account and key (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Storage:
    """A blob service the workspaces' datastores point at (Azurite)."""

    blob_url: str  # "http://127.0.0.1:PORT/devstoreaccount1": path-style, as Azurite serves it
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    def create_container(self, name: str) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient(self.blob_url, credential={"account_name": self.account, "account_key": self.key})
        with contextlib.suppress(ResourceExistsError):
            client.create_container(name)

    def container_sas(self, name: str) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        return generate_container_sas(
            self.account,
            name,
            account_key=self.key,
            permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
            expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
        )


Finisher = Callable[[dict[str, Any]], None]


class Azure:
    """One subscription in one tenant, with its resource groups and workspaces (resources of the store)."""

    def __init__(
        self,
        store: Store,
        *,
        subscription_id: str,
        tenant: str,
        location: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self.store = store
        self.subscription_id = subscription_id
        self.tenant = tenant
        self.location = location
        self.client_id = client_id
        self.client_secret = client_secret
        # How fast "Azure" works; tests make long-running operations long to catch a client mid-way.
        self.lro_seconds = 0.05  # from an operation's start until it is done
        self.lro_poll_ms = 10  # the retry-after-ms clients are told (Retry-After: 0 makes azure-core wait 30 s)
        self.job_seconds = 0.3  # a command job is Running this long, then Completed
        self.page_size = 50  # items per page of a list; nextLink for the rest
        self.require_auth = True
        self.storage: Storage | None = None
        # action -> what completing a long-running operation of that action does (registered by the providers)
        self.finishers: dict[str, Finisher] = {}
        # what moves on by itself before each request (jobs finishing), registered by the providers
        self.tickers: list[Callable[[], None]] = []
        # one-shot failures of long-running operations: (path_contains, code, message, remaining)
        self.operation_failures: list[list[Any]] = []
        self.operation_seconds: list[tuple[str | None, str, float]] = []  # (method, path contains, seconds)
        # endpoint id (lower) -> {deployment name or "*": scorer}
        self.scorers: dict[str, dict[str, Callable[[bytes], Any]]] = {}
        if "secret" not in store.facts:
            store.facts["secret"] = secrets.token_hex(16)
            store.dirty = True

    # time and server-filled fields -----------------------------------------------------------------------
    @staticmethod
    def now() -> float:
        return time.time()

    @staticmethod
    def iso(t: float | None = None) -> str:
        when = dt.datetime.fromtimestamp(time.time() if t is None else t, dt.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"

    def system_data(self, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """ARM's systemData (common-types v3 types.json#/definitions/systemData): creation kept, modification now."""
        now = self.iso()
        created = previous or {}
        return {
            "createdAt": created.get("createdAt", now),
            "createdBy": created.get("createdBy", self.client_id),
            "createdByType": created.get("createdByType", "Application"),
            "lastModifiedAt": now,
            "lastModifiedBy": self.client_id,
            "lastModifiedByType": "Application",
        }

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    # scopes ----------------------------------------------------------------------------------------------
    def rg_id(self, sub: str, rg: str) -> str:
        if sub.lower() != self.subscription_id.lower():
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        rid = f"/subscriptions/{self.subscription_id}/resourceGroups/{rg}"
        body = self.store.get(rid)
        if body is None:
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return str(body["id"])

    def ws_id(self, sub: str, rg: str, ws: str) -> str:
        """The id of an existing workspace; ARM's 404s for a missing subscription, group or workspace."""
        rg_id = self.rg_id(sub, rg)
        rid = f"{rg_id}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
        body = self.store.get(rid)
        if body is None:
            raise ApiError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}' under resource group "
                f"'{rg}' was not found.",
            )
        return str(body["id"])

    # lists -----------------------------------------------------------------------------------------------
    def page(self, req: Request, items: list[dict[str, Any]]) -> Response:
        """One page of ``items`` (``{"value": [...], "nextLink": ...}``): the ``*ArmPaginatedResult`` shape."""
        try:
            start = int(req.query.get("$skipToken", "0"))
        except ValueError as e:
            raise ApiError(400, "InvalidSkipToken", "The $skipToken is not valid.") from e
        end = start + self.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            query = {k: v for k, v in req.query.items() if k != "$skipToken"}
            query["$skipToken"] = str(end)
            body["nextLink"] = req.url(req.path, query)
        return Response(200, body)

    # tokens: HMAC-signed, so that a restarted server (same state_dir) still accepts what it issued ----------
    def issue_token(self, subject: str, lifetime: int = 3600) -> tuple[str, int]:
        expires = int(self.now()) + lifetime
        payload = base64.urlsafe_b64encode(f"{subject}|{expires}".encode()).decode().rstrip("=")
        sig = hmac.new(self.store.facts["secret"].encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]
        return f"loopback.{payload}.{sig}", expires

    def token_valid(self, token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "loopback":
            return False
        sig = hmac.new(self.store.facts["secret"].encode(), parts[1].encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(sig, parts[2]):
            return False
        decoded = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        return int(decoded.rsplit("|", 1)[1]) > self.now()

    def check_bearer(self, req: Request) -> None:
        if not self.require_auth:
            return
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not self.token_valid(auth[7:].strip()):
            raise ApiError(
                401,
                "InvalidAuthenticationToken" if auth else "AuthenticationFailed",
                "The access token is invalid."
                if auth
                else "Authentication failed. The 'Authorization' header is missing.",
            )
