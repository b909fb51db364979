"""Azurite, the Azure Blob emulator, for the SDK's real upload code.

``scripts/test`` installs the pinned npm package (``tests/loopback_azure/npm/package-lock.json``) into
``.azurite/`` (git-ignored). ``run_azurite(location)`` starts ``azurite-blob`` on a free port of 127.0.0.1
(``--blobPort 0``: Azurite says which port it took), in its own process group, and kills that group when the
``with`` block ends, however it ends.

azure-ai-ml builds a datastore's account URL from ``STORAGE_ACCOUNT_URLS["AzureBlob"]``
(``https://{account}.blob.{suffix}``); Azurite serves ``http://127.0.0.1:PORT/{account}``. ``sdk_uploads_to``
re-points that template in this process; ``child_env`` does it in a child process (an ``mlplan`` run) through a
``sitecustomize`` module on its PYTHONPATH (``tests/loopback_azure/child/``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core import AZURITE_ACCOUNT, AZURITE_KEY

REPO = Path(__file__).resolve().parents[2]
INSTALLED = REPO / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
CHILD_DIR = Path(__file__).resolve().parent / "child"
TEMPLATE_ENV = "LOOPBACK_AZURE_BLOB_TEMPLATE"
RETRY_SCALE_ENV = "LOOPBACK_AZURE_RETRY_TIME_SCALE"
READY = re.compile(r"successfully listens on http://127\.0\.0\.1:(\d+)")


@dataclass
class Azurite:
    port: int
    location: Path
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    @property
    def blob_url(self) -> str:
        """``http://127.0.0.1:PORT/devstoreaccount1``: what ``LoopbackAzure.attach_storage`` takes."""
        return f"http://127.0.0.1:{self.port}/{self.account}"

    @property
    def url_template(self) -> str:
        """azure-ai-ml's account URL template (``{}`` is the account) for this Azurite."""
        return f"http://127.0.0.1:{self.port}/{{}}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
            f"BlobEndpoint={self.blob_url};"
        )

    def container(self, name: str) -> Any:
        """The ``ContainerClient`` of container ``name``, created when absent (tests share the session's Azurite)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        container = BlobServiceClient.from_connection_string(self.connection_string).get_container_client(name)
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        return container


def azurite_command() -> str:
    """The ``azurite-blob`` to run: ``$MLPLAN_AZURITE``, else the one scripts/test installed, else one on PATH."""
    for candidate in (os.environ.get("MLPLAN_AZURITE"), str(INSTALLED), shutil.which("azurite-blob")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "Azurite is not installed: `bash scripts/test` installs it into .azurite/ "
        "(by hand: mkdir -p .azurite && cp tests/loopback_azure/npm/package*.json .azurite/ && "
        "npm ci --prefix .azurite)."
    )


@contextlib.contextmanager
def run_azurite(location: Path, *, timeout: float = 30.0) -> Iterator[Azurite]:
    location.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            azurite_command(),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            str(location),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # keep reading, so that a chatty Azurite never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=drain, name="azurite-output", daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        port = None
        while port is None:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"Azurite did not start within {timeout} s: {''.join(seen)}") from None
            if line is None:
                raise RuntimeError(f"Azurite exited ({proc.wait()}): {''.join(seen)}")
            seen.append(line)
            found = READY.search(line)
            if found:
                port = int(found.group(1))
        yield Azurite(port, location)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def sdk_uploads_to(template: str) -> Iterator[None]:
    """azure-ai-ml's blob uploads (and downloads) in this process go to ``template`` (``Azurite.url_template``)."""
    from azure.ai.ml.constants._common import STORAGE_ACCOUNT_URLS

    previous = STORAGE_ACCOUNT_URLS["AzureBlob"]
    STORAGE_ACCOUNT_URLS["AzureBlob"] = template  # the same dict object every importer of it holds
    try:
        yield
    finally:
        STORAGE_ACCOUNT_URLS["AzureBlob"] = previous


def retry_time_scale_env(scale: float, pythonpath: str | None = None) -> dict[str, str]:
    """Environment variables that multiply the durations of a child ``mlplan``'s retry policy by ``scale`` (the
    numbers of retries stay): ``child/sitecustomize.py``."""
    current = os.environ.get("PYTHONPATH", "") if pythonpath is None else pythonpath
    return {RETRY_SCALE_ENV: str(scale), "PYTHONPATH": os.pathsep.join(p for p in (str(CHILD_DIR), current) if p)}


def child_env(template: str, pythonpath: str | None = None) -> dict[str, str]:
    """Environment variables that make a child Python process's azure-ai-ml upload to ``template``."""
    current = os.environ.get("PYTHONPATH", "") if pythonpath is None else pythonpath
    return {TEMPLATE_ENV: template, "PYTHONPATH": os.pathsep.join(p for p in (str(CHILD_DIR), current) if p)}
