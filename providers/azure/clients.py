"""The Azure clients the provider calls through, built alike: azure-ai-ml's ``MLClient`` (Azure ML: assets,
computes, jobs, endpoints) and azure-mgmt-resource-deployments' ``DeploymentsMgmtClient`` (ARM template
deployments and what-if), each with the cloud's endpoints, the TLS trust azure-core would use, and azure-core's
``RetryPolicy`` configured (not a hand-written loop) so that throttling and transient faults are survived and a
dead service fails within a stated time, in a message naming the call and the resource (``calling``).

Throttling and faults, per HTTP call (``RetryPolicy`` and the transport):

- retried: 408, 429, 500, 502, 503, 504 (any answer with ``Retry-After`` too), connection errors and resets;
  ``Retry-After`` is honoured up to ``MAX_WAIT_S``, otherwise exponential back-off (0.8 s doubling, at most
  ``BACKOFF_MAX_S``); at most ``RETRY_STATUS`` retries for status codes, ``RETRY_CONNECT`` / ``RETRY_READ`` for
  connection and read errors, ``RETRY_TOTAL`` in all. POST is retried too (mlplan's POSTs are list-keys, upload
  leases and what-if: repeating one is harmless).
- bounded: a connection must open within ``CONNECT_TIMEOUT_S`` and answer within ``READ_TIMEOUT_S`` (above ARM's
  own 60 s gateway timeout, so that its 504 arrives and is retried); no new attempt starts after ``CALL_BUDGET_S``.

So one call against a dead service (refused, reset, or silent) ends, with its retries, within
``DEAD_SERVICE_BOUND_S`` = ``CALL_BUDGET_S + CONNECT_TIMEOUT_S + READ_TIMEOUT_S + MAX_WAIT_S`` = 160 s: the last
attempt may start just before the budget runs out and wait its full timeouts, and a wait before a next attempt is
never longer than ``MAX_WAIT_S``. A refused connection fails in seconds (4 attempts, 5 s of back-off). Long-running
operations are polled call by call; each poll has the same bound, and the wait as a whole is the resource type's
(cancellation, progress).

How the rules reach the pipelines (``transport_kwargs``): as ``RetryPolicy`` settings, from which every pipeline
azure-ai-ml and azure-mgmt build makes a policy of its own, plus two shareable ``SansIOHTTPPolicy`` objects for the
ceiling on ``Retry-After`` and the POST retries (``bound_policies``); never a policy instance, which azure-core
would link into the last pipeline built (one instance in many pipelines sends requests through another pipeline's
credential). azure-ai-ml's general-purpose ``HttpPipeline`` (used for some data-plane calls) builds a fixed policy
list: it gets the settings but not those two; one of MLClient's clients is built without mlplan's keywords at all
(azure-core's defaults).

``connection_verify`` follows ``REQUESTS_CA_BUNDLE`` (then ``CURL_CA_BUNDLE``), the variables requests, and so
azure-core's default transport, reads: a private CA (a proxy, Azure Stack Hub, the tests' loopback server) is
trusted the same way by every client and by the credentials that call the cloud's authority. ``SSL_CERT_FILE`` is
not read by requests.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.azure.cloud import Cloud
from mlplan.providers.azure.settings import Workspace

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 70
CALL_BUDGET_S = 60
MAX_WAIT_S = 20
BACKOFF_FACTOR_S = 0.8
BACKOFF_MAX_S = 20
RETRY_TOTAL = 8
RETRY_CONNECT = 3
RETRY_READ = 3
RETRY_STATUS = 5
DEAD_SERVICE_BOUND_S = CALL_BUDGET_S + CONNECT_TIMEOUT_S + READ_TIMEOUT_S + MAX_WAIT_S
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
RETRIED_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "POST"})  # azure-core's, and POST


def connection_verify(environ: Mapping[str, str] | None = None) -> bool | str:
    """What to verify TLS with: the CA bundle ``REQUESTS_CA_BUNDLE`` (else ``CURL_CA_BUNDLE``) names, as requests
    reads them, else the system's trust (True). A variable naming no file is an error naming the variable."""
    env = os.environ if environ is None else environ
    for name in CA_BUNDLE_VARIABLES:
        path = env.get(name)
        if path:
            if not os.path.exists(path):
                raise ProviderError(f"{name} names no CA bundle file ({path})", provider="azure")
            return path
    return True


def retry_settings() -> dict[str, Any]:
    """azure-core's ``RetryPolicy`` keywords with mlplan's bounds (see the module's docstring): each pipeline built
    with them makes a ``RetryPolicy`` of its own."""
    return {
        "retry_total": RETRY_TOTAL,
        "retry_connect": RETRY_CONNECT,
        "retry_read": RETRY_READ,
        "retry_status": RETRY_STATUS,
        "retry_backoff_factor": BACKOFF_FACTOR_S,
        "retry_backoff_max": BACKOFF_MAX_S,
        "timeout": CALL_BUDGET_S,
    }


def bound_policies() -> tuple[Any, Any]:
    """What of mlplan's retry rules azure-core's settings cannot say, as two ``SansIOHTTPPolicy`` objects (which
    azure-core wraps in a runner of each pipeline's own, so one object may serve every pipeline): before the retry
    policy, POST among the retried methods (mlplan's POSTs are list-keys, upload leases and what-if: repeating one
    is harmless); after it, a ceiling of ``MAX_WAIT_S`` on the ``Retry-After`` it honours (and on the wait a
    long-running operation's poller takes from it)."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class RetryPostsToo(SansIOHTTPPolicy[Any, Any]):
        def on_request(self, request: Any) -> None:
            request.context.options.setdefault("retry_on_methods", RETRIED_METHODS)

    class RetryAfterCeiling(SansIOHTTPPolicy[Any, Any]):
        def on_response(self, request: Any, response: Any) -> None:
            headers = response.http_response.headers
            for name, unit in (("retry-after-ms", 1000), ("x-ms-retry-after-ms", 1000), ("Retry-After", 1)):
                value = headers.get(name)
                if value is not None and _wait_s(value, unit) > MAX_WAIT_S:
                    headers[name] = str(MAX_WAIT_S * unit)

    return RetryPostsToo(), RetryAfterCeiling()


def _wait_s(value: str, unit: int) -> float:
    """A Retry-After header's wait in seconds: a number of ``1/unit`` seconds, or (Retry-After) an HTTP date."""
    try:
        return float(value) / unit
    except ValueError:
        try:
            return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return 0.0  # unreadable: azure-core ignores it too


def retry_policies() -> list[Any]:
    """mlplan's retry rules as one pipeline's policies, in azure-core's order (for a pipeline built by hand)."""
    from azure.core.pipeline.policies import RetryPolicy

    per_call, per_retry = bound_policies()
    return [per_call, RetryPolicy(**retry_settings()), per_retry]


def transport_kwargs(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What every client is built with (azure-core's keyword arguments).

    No ``retry_policy`` instance: azure-ai-ml hands its keyword arguments to each of the pipelines it builds (about
    twenty), and azure-core links an ``HTTPPolicy`` such as ``RetryPolicy`` into a pipeline by setting its ``next``,
    so one instance in many pipelines sends every request on through the pipeline built last: its credential, its
    transport (seen as an Azure AD token replacing an endpoint key on ``online_endpoints.invoke``). The settings
    make each pipeline build its own; ``bound_policies`` are safe to share."""
    per_call, per_retry = bound_policies()
    return {
        **retry_settings(),
        # single policies, not lists: azure-mgmt-core appends an HTTPPolicy of its own to a per-call list it is
        # given, and that list (so that instance) would go to every pipeline built after
        "per_call_policies": per_call,
        "per_retry_policies": per_retry,
        "connection_timeout": CONNECT_TIMEOUT_S,
        "read_timeout": READ_TIMEOUT_S,
        "connection_verify": connection_verify(environ),
    }


def pipeline_client(base_url: str, environ: Mapping[str, str] | None = None) -> Any:
    """An azure-core ``PipelineClient`` for a request mlplan sends itself (scoring), with the same retry rules,
    timeouts and TLS trust as the SDK clients (a bare ``Configuration`` has no retry policy: it is set here)."""
    from azure.core import PipelineClient
    from azure.core.configuration import Configuration
    from azure.core.pipeline.policies import RetryPolicy

    config: Configuration[Any, Any] = Configuration()
    config.retry_policy = RetryPolicy(**retry_settings())
    return PipelineClient(base_url, config=config, **transport_kwargs(environ))


def ml_client(workspace: Workspace, cloud: Cloud, credential: Any, environ: Mapping[str, str] | None = None) -> Any:
    """azure-ai-ml's ``MLClient`` for the workspace: no telemetry, no progress bars (mlplan reports progress)."""
    from azure.ai.ml import MLClient

    return MLClient(
        credential,
        subscription_id=workspace.subscription_id,
        resource_group_name=workspace.resource_group,
        workspace_name=workspace.name,
        enable_telemetry=False,
        show_progress=False,
        **cloud.ml_client_kwargs(),
        **transport_kwargs(environ),
    )


def deployments_client(
    workspace: Workspace, cloud: Cloud, credential: Any, environ: Mapping[str, str] | None = None
) -> Any:
    """azure-mgmt-resource-deployments' client (ARM template deployments and what-if) in the workspace's
    subscription, on the cloud's resource manager."""
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(
        credential, workspace.subscription_id, **cloud.arm_kwargs(), **transport_kwargs(environ)
    )


# -- errors -----------------------------------------------------------------------------------------------------
_SECRETS = (
    (re.compile(r"(?i)([?&](?:sig|se|sp|sv|skoid|sktid)=)[^&\s'\"]+"), r"\1(sensitive)"),  # SAS query parameters
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1(sensitive)"),
    (re.compile(r"(?i)(AccountKey=)[^;\s'\"]+"), r"\1(sensitive)"),
)


def scrub(text: str) -> str:
    """``text`` without what could be a credential: SAS signatures, bearer tokens, storage account keys."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def calling(call: str, resource: str) -> Iterator[None]:
    """Run one SDK call (``call``: ``computes.begin_create_or_update``; ``resource``: ``compute 'cpu'``) and turn
    what Azure or the network answered into a ``ProviderError`` that names both. A missing resource
    (``ResourceNotFoundError``) is left to the caller, for whom it is usually an answer, not an error."""
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    sdk_errors: tuple[type[BaseException], ...] = (AzureError,)
    if "azure.ai.ml" in sys.modules:  # azure-ai-ml wraps some answers in its own exceptions
        from azure.ai.ml.exceptions import MlException

        sdk_errors = (AzureError, MlException)
    start = time.monotonic()
    try:
        yield
    except ResourceNotFoundError:
        raise
    except ClientAuthenticationError as exc:
        raise ProviderError(
            f"{call} ({resource}): signing in to Azure failed: {_first_line(exc)}; check the environment's"
            ' credential: (README.md, "Azure": the sign-in each credential needs)',
            provider="azure",
        ) from None
    except HttpResponseError as exc:
        status = f"HTTP {exc.status_code}" if exc.status_code else "an error"
        code = getattr(getattr(exc, "error", None), "code", None)
        raise ProviderError(
            f"{call} ({resource}): Azure answered {status}{f' {code}' if code else ''}: {_first_line(exc)}",
            provider="azure",
        ) from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        elapsed = time.monotonic() - start
        raise ProviderError(
            f"{call} ({resource}): no answer from Azure after {elapsed:.0f} s of retries"
            f" ({type(exc).__name__}: {_first_line(exc)}); mlplan gives up on a call after at most"
            f" {DEAD_SERVICE_BOUND_S} s: check the network, a proxy, or the Azure status page",
            provider="azure",
        ) from None
    except sdk_errors as exc:
        raise ProviderError(f"{call} ({resource}): {_first_line(exc)}", provider="azure") from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return scrub(text.splitlines()[0] if text else type(exc).__name__)[:500]
