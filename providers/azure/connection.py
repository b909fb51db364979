"""One environment's way into its workspace: the ``MLClient`` every resource type of the azure provider shares, made
once (lazily: importing azure-ai-ml costs seconds) from the environment's settings, cloud and credential."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from mlplan.providers.azure.settings import Target, Workspace
from mlplan.providers.base import Context


class Connection:
    """The workspace (known without a call, for ``desired_attributes``) and the client (made on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None
        self._arm: Any = None
        self._made: tuple[Any, Any] | None = None  # the cloud and the credential, once signed in
        self.workspace: Workspace | None = None
        self._uploads: dict[str, threading.Lock] = {}

    def bind(self, ctx: Context) -> None:
        """Learn the workspace's coordinates from the environment (no call to Azure)."""
        self.workspace = Workspace.from_settings(ctx.workspace)

    @contextlib.contextmanager
    def uploading(self, digests: Iterable[str]) -> Iterator[None]:
        """Hold the lock of each local content (by mlplan's digest) an SDK call is about to upload. azure-ai-ml
        1.35 waits forever when two uploads of the same content run at once (two environments with one docker build
        context, applied in parallel): its uploader's count of files done never reaches the total."""
        with self._lock:
            locks = [self._uploads.setdefault(d, threading.Lock()) for d in sorted(set(digests))]
        with contextlib.ExitStack() as held:
            for lock in locks:  # in sorted order: two calls never wait for each other's second lock
                held.enter_context(lock)
            yield

    def ws(self) -> Workspace:
        """The workspace, or a stand-in while none is bound (a resource type asked outside a session)."""
        return self.workspace or Workspace("", "", "")

    def ml(self, ctx: Context) -> Any:
        """The ``MLClient`` for the environment's workspace."""
        with self._lock:
            if self._client is None:
                # everything the resource types import lazily, imported once here under the lock: azure's
                # packages import each other circularly and fail when two threads import them at once
                import azure.ai.ml.constants
                import azure.core.exceptions  # noqa: F401

                from mlplan.providers.azure.clients import calling, connection_verify, ml_client
                from mlplan.providers.azure.cloud import cloud_of
                from mlplan.providers.azure.credentials import make_credential

                _quiet_uploads()
                target = Target.from_context(ctx)
                cloud = cloud_of(target.cloud)
                credential = make_credential(target.credential, cloud, verify=connection_verify())
                # Sign in once, here, before parallel reads share the client: otherwise every thread that finds
                # no token yet signs in on its own (a burst of sign-ins at the start of each refresh).
                with calling("sign-in", f"workspace '{target.workspace.name}'"):
                    credential.get_token(*cloud.arm_scopes)
                self._client = ml_client(target.workspace, cloud, credential)
                self._made = (cloud, credential)
                self.workspace = target.workspace
            return self._client

    def arm(self, ctx: Context) -> Any:
        """The ARM deployments client (template deployments, what-if) in the workspace's subscription, signed in
        with the ``MLClient``'s credential."""
        self.ml(ctx)
        with self._lock:
            if self._arm is None:
                import azure.mgmt.resource.deployments  # noqa: F401 - under the lock, as ``ml`` explains

                from mlplan.providers.azure.clients import deployments_client

                assert self._made is not None and self.workspace is not None
                cloud, credential = self._made
                self._arm = deployments_client(self.workspace, cloud, credential)
            return self._arm


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None


def _quiet_uploads() -> None:
    """azure-ai-ml's uploaders print a colour reset to stderr after every upload, whatever ``show_progress`` says;
    mlplan reports progress itself. Only those two modules' ``sys`` is replaced (they use it for nothing else),
    so that nothing process-wide is redirected while other threads print."""
    import types

    from azure.ai.ml._artifacts import _blob_storage_helper, _gen2_storage_helper

    for module in (_blob_storage_helper, _gen2_storage_helper):
        module.sys = types.SimpleNamespace(stderr=_Discard())  # type: ignore[attr-defined]
