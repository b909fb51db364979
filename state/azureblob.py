"""The ``azureblob`` state backend: one environment's state in Azure Blob Storage, locked with a blob lease.

Modelled on Terraform's azurerm backend (``internal/backend/remote-state/azure``): the lock is a lease on the
state blob, taken with the lock's id as the proposed lease id, so the lock token *is* the lease id; the lock
information is kept (base64 JSON) in the state blob's metadata; the blob is created empty when absent.

Three blobs, like the local backend's files: ``<blob>`` (the snapshot, a block blob replaced whole by one Put
Blob: atomic), ``<blob>.backup`` (the snapshot it replaced) and ``<blob>.journal`` (an append blob: one Append
Block per group commit, re-created empty after a snapshot). The holder leases all three with the same id, and
every write passes it, so Azure Storage itself refuses a writer whose lock was released, broken or expired,
whatever that writer believes.

The lease lasts ``lease_seconds`` (15-60 s, default 60) and a background thread renews it every third of that.
A holder that dies (SIGKILL, a lost VM) stops renewing: its lease expires and the state is free again after at
most ``lease_seconds``, with nobody running force-unlock. An infinite lease (Terraform's) would stay until someone
breaks it. ``force-unlock LOCK_ID`` ends the lease at once, whoever holds it (a lease cannot tell a running holder
from a dead one): it releases the lease by its id, which is the lock id, so it can never end a lease taken since.

Credentials (never in mlplan.yaml): ``credential:`` an azure-identity kind as the azure provider signs in
(``default``, ``environment``, ``managed_identity``, ``workload_identity``, ``azure_cli``; made by the function the
caller passes as ``settings["credential_factory"]``, since state/ does not import the providers), or
``connection_string`` (AZURE_STORAGE_CONNECTION_STRING: Azurite, CI) or ``sas`` (AZURE_STORAGE_SAS_TOKEN).
Requests are retried by the storage SDK's retry policy (azure-core's HTTP pipeline), bounded: a few tries with a
short backoff, then the error.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mlplan.core.errors import LockError, MlplanError, StateError
from mlplan.state.backend import Backend
from mlplan.state.base import (
    JournalSink,
    LockInfo,
    check_force_unlock,
    locked_error,
    not_held_error,
    unheld_write_error,
)

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

IDENTITY_CREDENTIALS = ("default", "environment", "managed_identity", "workload_identity", "azure_cli")
SECRET_CREDENTIALS = {"connection_string": "AZURE_STORAGE_CONNECTION_STRING", "sas": "AZURE_STORAGE_SAS_TOKEN"}
CREDENTIALS = (*IDENTITY_CREDENTIALS, *SECRET_CREDENTIALS)
LEASE_SECONDS = (15, 60)  # what Azure allows of a finite lease
DEFAULT_LEASE_SECONDS = 60
LOCK_METADATA = "mlplanlock"  # metadata names are C# identifiers; Azure lower-cases them
POLL_SECONDS = 1.0  # between tries of acquire with a timeout
MAX_APPEND = 4 * 1024 * 1024  # the largest Append Block every service version takes
# bounded retries of a failed request (connection errors, 408/429/5xx): 3 more tries, about 1 s, 3 s, 5 s apart
RETRY_TOTAL, RETRY_BACKOFF, RETRY_BASE = 3, 1, 2
TIMEOUTS = {"connection_timeout": 10, "read_timeout": 60}

CredentialFactory = Callable[[str], Any]


def _is_lease_error(exc: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError

    if not isinstance(exc, HttpResponseError):
        return False
    code = str(getattr(exc, "error_code", "") or "")
    return code.startswith("Lease") or exc.status_code == 412


def _code(exc: Exception) -> str:
    """What an SDK error was, without its text (a connection error's text may hold a URL with a SAS)."""
    code = getattr(exc, "error_code", None)
    status = getattr(exc, "status_code", None)
    if code or status:
        return f"{code or 'error'} (HTTP {status})" if status else str(code)
    return type(exc).__name__


class _BlobSink(JournalSink):
    """Records gathered in memory; ``sync`` appends them as one block (group commit: one request per batch)."""

    def __init__(self, backend: AzureBlobBackend, lock: LockInfo) -> None:
        self._backend = backend
        self._lock = lock
        self._pending = bytearray()
        self._mutex = threading.Lock()  # append (under the journal's lock) and sync (under its sync lock) overlap

    def append(self, data: bytes) -> None:
        self._backend.check_lock(self._lock)  # in memory: Azure refuses the block itself if the lease went meanwhile
        with self._mutex:
            self._pending += data

    def sync(self) -> None:
        with self._mutex:
            data, self._pending = bytes(self._pending), bytearray()
        if data:
            self._backend.append_journal(data, self._lock)

    def close(self) -> None:
        return None


class _Renewer(threading.Thread):
    """Renews the holder's leases every third of their duration, until stopped or refused."""

    def __init__(self, backend: AzureBlobBackend, lock: LockInfo) -> None:
        super().__init__(name=f"mlplan-lease-{lock.id[:8]}", daemon=True)
        self.backend = backend
        self.lock = lock
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        from azure.storage.blob import BlobLeaseClient

        while not self.stopped.wait(self.backend.lease_seconds / 3):
            for blob in self.backend.blobs():
                try:
                    BlobLeaseClient(blob, self.lock.id).renew()
                except Exception as exc:
                    if _is_lease_error(exc):
                        self.lost.set()  # released, broken or taken: every write from here on is refused
                        return
                    # a transient failure that outlasted the retries: the next round tries again, well
                    # before the lease runs out (a third of its duration has passed, two remain)


class AzureBlobBackend(Backend):
    """``container``/``blob`` in the storage account ``account_url`` (see the module docstring)."""

    def __init__(self, service: Any, container: str, blob: str, lease_seconds: int = DEFAULT_LEASE_SECONDS) -> None:
        self.container = container
        self.blob = blob
        self.lease_seconds = lease_seconds
        self._container = service.get_container_client(container)
        self._state: BlobClient = self._container.get_blob_client(blob)
        self._backup: BlobClient = self._container.get_blob_client(f"{blob}.backup")
        self._journal: BlobClient = self._container.get_blob_client(f"{blob}.journal")
        self.account_url = _without_query(str(service.url))
        self._held: LockInfo | None = None
        self._renewer: _Renewer | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], root: Path, environment: str) -> AzureBlobBackend:
        """``{backend: azureblob, account_url, container, blob, credential?, lease_seconds?}``; for an
        azure-identity credential, ``credential_factory`` (kind -> credential) is the caller's."""
        container, blob = _name(settings, "container"), _name(settings, "blob")
        lease = settings.get("lease_seconds", DEFAULT_LEASE_SECONDS)
        if not isinstance(lease, int) or isinstance(lease, bool) or not LEASE_SECONDS[0] <= lease <= LEASE_SECONDS[1]:
            raise StateError(
                f"state backend 'azureblob': lease_seconds must be a whole number of seconds from {LEASE_SECONDS[0]}"
                f" to {LEASE_SECONDS[1]} (what Azure allows of a lease), not {lease!r}"
            )
        return cls(service_client(settings), container, blob, lease)

    def describe(self) -> str:
        return f"{self.account_url}/{self.container}/{self.blob}"

    def blobs(self) -> tuple[BlobClient, ...]:
        """The leased blobs, the state blob (the lock) last: taken first, let go last."""
        return self._journal, self._backup, self._state

    def _fail(self, action: str, exc: Exception) -> NoReturn:
        from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

        if isinstance(exc, MlplanError):  # a credential that cannot be made says what is missing itself
            raise exc
        if isinstance(exc, ClientAuthenticationError) and not getattr(exc, "status_code", None):
            # azure-identity's own message: which credentials it tried and why each failed, no secret
            raise StateError(f"cannot {action} {self.describe()}: signing in failed: {exc.message}") from None
        if isinstance(exc, ResourceNotFoundError) and getattr(exc, "error_code", None) == "ContainerNotFound":
            raise StateError(
                f"cannot {action} {self.describe()}: the container {self.container!r} does not exist in"
                f" {self.account_url}; create it (az storage container create --name {self.container}), mlplan"
                " does not create storage"
            ) from None
        raise StateError(f"cannot {action} {self.describe()}: {_code(exc)}") from None

    # -- storage ------------------------------------------------------------------------------
    def check_lock(self, lock: LockInfo) -> None:
        """LockError unless ``lock`` is the lock this backend holds and its lease was not lost (in memory: no I/O)."""
        held, renewer = self._held, self._renewer
        if held is None or held.id != lock.id or (renewer is not None and renewer.lost.is_set()):
            raise unheld_write_error(self.describe(), lock, self.current_lock())

    @contextmanager
    def _write(self, action: str, lock: LockInfo) -> Iterator[None]:
        """A write under ``lock``'s lease: Azure's refusal of the lease is the unheld-write LockError."""
        self.check_lock(lock)
        try:
            yield
        except LockError:
            raise
        except Exception as exc:
            if _is_lease_error(exc):
                if self._renewer is not None and self._held is not None and self._held.id == lock.id:
                    self._renewer.lost.set()
                raise unheld_write_error(self.describe(), lock, self.current_lock()) from None
            self._fail(action, exc)

    def _download(self, blob: BlobClient, what: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            data: bytes = blob.download_blob().readall()
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                self._fail(f"read the {what} of", exc)
            return None
        except Exception as exc:
            self._fail(f"read the {what} of", exc)
        return data or None  # the lock creates the blobs empty: nothing written yet

    def read_snapshot(self) -> bytes | None:
        return self._download(self._state, "state")

    def read_backup(self) -> bytes | None:
        return self._download(self._backup, "backup")

    def read_journal(self) -> bytes:
        return self._download(self._journal, "journal") or b""

    def write_snapshot(self, data: bytes, lock: LockInfo) -> None:
        from azure.storage.blob import ContentSettings

        with self._write("write the state", lock):
            previous = self._state.download_blob().readall()
            json_type = ContentSettings(content_type="application/json")
            # the previous snapshot first: a crash between the two leaves it twice, never nowhere
            self._backup.upload_blob(
                previous, overwrite=True, lease=_lease(self._backup, lock), content_settings=json_type
            )
            # one Put Blob replaces the whole blob, atomically; it replaces the metadata too, so the lock's goes along
            self._state.upload_blob(
                data,
                overwrite=True,
                lease=_lease(self._state, lock),
                metadata=_lock_metadata(lock),
                content_settings=json_type,
            )

    def open_journal(self, lock: LockInfo) -> JournalSink:
        self.check_lock(lock)
        return _BlobSink(self, lock)

    def append_journal(self, data: bytes, lock: LockInfo) -> None:
        """Append ``data`` to the journal blob under ``lock``'s lease (more than one block only past 4 MiB)."""
        with self._write("append to the journal of", lock):
            for start in range(0, len(data), MAX_APPEND):
                self._journal.append_block(data[start : start + MAX_APPEND], lease=lock.id)

    def truncate_journal(self, lock: LockInfo) -> None:
        with self._write("truncate the journal of", lock):
            self._journal.create_append_blob(lease=lock.id)  # a new, empty append blob; the lease stays

    # -- lock -----------------------------------------------------------------------------------
    def current_lock(self) -> LockInfo | None:
        """The lock information of the lease on the state blob; None when no lease is active (released,
        broken, or expired after its holder died)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            props = self._state.get_blob_properties()
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            self._fail("read the lock of", exc)
        if props.lease.status != "locked":
            return None
        return _decode_lock(props.metadata.get(LOCK_METADATA))

    def acquire(self, operation: str, timeout: float = 0.0) -> LockInfo:
        info = LockInfo.new(operation, self.describe())
        deadline = time.monotonic() + timeout
        self._create_blobs()
        while not self._lease(self._state, info):
            left = deadline - time.monotonic()
            if left <= 0:
                raise locked_error(self.describe(), self.current_lock())
            time.sleep(min(POLL_SECONDS, left))
        try:
            # the state blob's lease is the lock: a lease left on the others is a previous holder's (renewed a
            # moment after its state blob's), ended now so that nothing of that holder's gets through any more
            for blob in (self._journal, self._backup):
                if not self._lease(blob, info):
                    self._break(blob)
                    if not self._lease(blob, info):
                        raise StateError(f"cannot lease {blob.blob_name} beside {self.describe()}: it is leased")
            self._state.set_blob_metadata(_lock_metadata(info), lease=info.id)
        except BaseException:
            self._let_go(info)
            raise
        self._held = info
        self._renewer = _Renewer(self, info)
        self._renewer.start()
        return info

    def _create_blobs(self) -> None:
        """Create the blobs empty where absent (a lease needs a blob): one that exists is left as it is."""
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        try:
            # created meanwhile by another process: left as it is (If-None-Match)
            for blob in (self._state, self._backup):
                if not blob.exists():
                    with contextlib.suppress(ResourceExistsError):
                        blob.upload_blob(b"", overwrite=False)
            if not self._journal.exists():
                with contextlib.suppress(ResourceExistsError, ResourceModifiedError):
                    # this SDK call takes no match condition: the header, so that a journal is never reset
                    self._journal.create_append_blob(headers={"If-None-Match": "*"})
        except Exception as exc:
            self._fail("create the blobs of", exc)

    def _lease(self, blob: BlobClient, info: LockInfo) -> bool:
        """Take ``blob``'s lease with ``info.id``; False when another lease is active on it."""
        from azure.core.exceptions import HttpResponseError

        try:
            blob.acquire_lease(lease_duration=self.lease_seconds, lease_id=info.id)
        except HttpResponseError as exc:
            if exc.status_code == 409:
                return False
            self._fail("lock", exc)
        return True

    def _break(self, blob: BlobClient) -> None:
        from azure.storage.blob import BlobLeaseClient

        try:
            BlobLeaseClient(blob).break_lease(lease_break_period=0)
        except Exception as exc:
            if not _is_lease_error(exc):
                self._fail("lock", exc)

    def _let_go(self, info: LockInfo) -> bool:
        """Release every lease ``info.id`` holds, the state blob's last; whether the state blob's was still held."""
        from azure.storage.blob import BlobLeaseClient

        held = True
        for blob in self.blobs():
            try:
                BlobLeaseClient(blob, info.id).release()
            except Exception as exc:
                if not _is_lease_error(exc):
                    self._fail("unlock", exc)
                held = held and blob is not self._state
        return held

    def _stop_renewing(self) -> None:
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.stopped.set()

    def release(self, lock: LockInfo) -> None:
        if self._held is None or self._held.id != lock.id:
            raise not_held_error(self.describe(), lock)
        self._held = None  # no write gets through from here on
        self._stop_renewing()
        try:
            self._state.set_blob_metadata({}, lease=lock.id)
        except Exception as exc:
            if not _is_lease_error(exc):
                self._fail("unlock", exc)
            self._let_go(lock)  # the state blob's lease is gone (force-unlocked): the others may still be ours
            raise not_held_error(self.describe(), lock) from None
        if not self._let_go(lock):
            raise not_held_error(self.describe(), lock)

    def force_unlock(self, lock_id: str) -> None:
        """End the lease ``lock_id`` at once, running holder or not (the lease id is the lock id: a lease taken
        since is never touched); its holder's writes are refused from then on."""
        check_force_unlock(self.describe(), self.current_lock(), lock_id)
        try:
            self._state.set_blob_metadata({}, lease=lock_id)
        except Exception as exc:
            if not _is_lease_error(exc):
                self._fail("unlock", exc)
            raise LockError(f"lock {lock_id} is no longer held on {self.describe()} (released meanwhile)") from None
        self._let_go(LockInfo(lock_id, "", "", 0, ""))
        if self._held is not None and self._held.id == lock_id:
            self._held = None
            self._stop_renewing()


def _lease(blob: BlobClient, lock: LockInfo) -> Any:
    """The lease ``lock`` names on ``blob`` (its id is the lock's), as the SDK's upload takes it."""
    from azure.storage.blob import BlobLeaseClient

    return BlobLeaseClient(blob, lock.id)


# -- settings --------------------------------------------------------------------------------------
def _name(settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value:
        raise StateError(f"state backend 'azureblob' needs {key} (the blob container and the blob name of the state)")
    return value


def _without_query(url: str) -> str:
    """``url`` without its query (a SAS) or a trailing slash: the account's address, fit for a message."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(query="", fragment="")).rstrip("/")


def service_client(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Any:
    """The ``BlobServiceClient`` the settings describe, with bounded retries; no secret is read from the settings."""
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    env = os.environ if environ is None else environ
    kind = str(settings.get("credential") or "default")
    account_url = settings.get("account_url")
    retry = ExponentialRetry(
        initial_backoff=RETRY_BACKOFF, increment_base=RETRY_BASE, retry_total=RETRY_TOTAL, random_jitter_range=1
    )
    options: dict[str, Any] = {"retry_policy": retry, **TIMEOUTS}
    if kind not in CREDENTIALS:
        raise StateError(f"state backend 'azureblob': unknown credential {kind!r} (known: {', '.join(CREDENTIALS)})")
    if account_url is not None and (not isinstance(account_url, str) or urllib.parse.urlsplit(account_url).query):
        raise StateError(
            "state backend 'azureblob': account_url must be the account's blob endpoint alone"
            " (https://ACCOUNT.blob.core.windows.net), without a query: a SAS goes in AZURE_STORAGE_SAS_TOKEN"
            " with credential: sas"
        )
    variable = SECRET_CREDENTIALS.get(kind)
    if variable is not None and not env.get(variable):
        raise StateError(f"state backend 'azureblob': credential {kind} needs {variable} in the environment")
    if kind == "connection_string":
        try:
            service = BlobServiceClient.from_connection_string(env[variable or ""], **options)
        except ValueError:
            raise StateError(f"state backend 'azureblob': {variable} is not a storage connection string") from None
        if account_url and _without_query(account_url) != _without_query(str(service.url)):
            raise StateError(
                f"state backend 'azureblob': account_url {account_url} is not the blob endpoint of the connection"
                f" string in {variable} ({_without_query(str(service.url))})"
            )
        return service
    if not account_url:
        raise StateError(f"state backend 'azureblob' needs account_url (with credential {kind})")
    if kind == "sas":
        return BlobServiceClient(account_url, credential=env[variable or ""].lstrip("?"), **options)
    factory = settings.get("credential_factory")
    if not callable(factory):
        raise StateError(f"state backend 'azureblob': credential {kind} needs an azure-identity credential factory")
    return BlobServiceClient(account_url, credential=_LazyCredential(factory, kind), **options)


class _LazyCredential:
    """An azure-identity credential made on the first token asked for: opening the backend (``validate`` does)
    costs nothing, and a credential that cannot be made is reported when the state is first used."""

    def __init__(self, factory: CredentialFactory, kind: str) -> None:
        self._factory = factory
        self._kind = kind
        self._made: Any = None
        self._mutex = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        with self._mutex:
            if self._made is None:
                self._made = self._factory(self._kind)
        return self._made.get_token(*scopes, **kwargs)


# -- the lock information, in the state blob's metadata --------------------------------------------
def _lock_metadata(info: LockInfo) -> dict[str, str]:
    return {LOCK_METADATA: base64.b64encode(info.to_json().encode()).decode("ascii")}


def _decode_lock(raw: str | None) -> LockInfo | None:
    if not raw:
        return None  # leased a moment before its holder wrote who it is
    try:
        return LockInfo(**json.loads(base64.b64decode(raw, validate=True)))
    except (binascii.Error, ValueError, TypeError):
        return None
