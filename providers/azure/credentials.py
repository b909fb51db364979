"""Signing in: the azure-identity credential for mlplan.yaml's ``credential:``, against the environment's cloud.

No secret is ever read from mlplan.yaml (the schema refuses such keys): a service principal's secret, a certificate,
a federated token come from the process environment, as azure-identity reads them, and no message here ever holds
their values (only the names of the variables).

- ``default``: ``DefaultAzureCredential``, whatever it finds first (environment, workload identity, managed
  identity, az CLI, ...);
- ``environment``: ``ClientSecretCredential`` (or ``CertificateCredential``) from AZURE_TENANT_ID, AZURE_CLIENT_ID,
  and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH, + AZURE_CLIENT_CERTIFICATE_PASSWORD);
- ``managed_identity``: ``ManagedIdentityCredential``, AZURE_CLIENT_ID picking a user-assigned identity;
- ``workload_identity``: ``WorkloadIdentityCredential`` from AZURE_TENANT_ID, AZURE_CLIENT_ID and
  AZURE_FEDERATED_TOKEN_FILE, or on GitHub Actions (``permissions: id-token: write``) ``ClientAssertionCredential``
  exchanging a fresh GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN) each time;
- ``azure_cli``: ``AzureCliCredential``, the account of ``az login`` (``az cloud set`` first for another cloud).

The authority is the cloud's (``active_directory``); ``disable_instance_discovery`` is passed when the cloud says so
(Azure Stack Hub with AD FS, a private cloud, the tests' stand-in: MSAL would otherwise ask
login.microsoftonline.com to validate the authority).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from mlplan.core.errors import ProviderError
from mlplan.providers.azure.cloud import Cloud

CREDENTIALS = ("default", "environment", "managed_identity", "workload_identity", "azure_cli")
# GitHub Actions: the audience Microsoft Entra expects of a federated token from GitHub
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
GITHUB_TIMEOUT_S = 30.0


class CredentialError(ProviderError):
    """A credential cannot be made: what is missing, by name; never a value."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider="azure")


def make_credential(
    kind: str, cloud: Cloud, environ: Mapping[str, str] | None = None, verify: bool | str = True
) -> Any:
    """The azure-identity credential for ``credential: <kind>`` (``verify``: the TLS trust of clients.py's
    ``connection_verify``, for the credentials that call the cloud's authority)."""
    env = os.environ if environ is None else environ
    maker = _MAKERS.get(kind)
    if maker is None:
        raise CredentialError(f"unknown credential {kind!r} (known: {', '.join(CREDENTIALS)})")
    return maker(cloud, env, verify)


def _default(cloud: Cloud, env: Mapping[str, str], verify: bool | str) -> Any:
    from azure.identity import DefaultAzureCredential

    # its chain reads the environment itself; only the cloud's authority has to be passed
    return DefaultAzureCredential(**cloud.credential_kwargs())


def _environment(cloud: Cloud, env: Mapping[str, str], verify: bool | str) -> Any:
    from azure.identity import CertificateCredential, ClientSecretCredential

    tenant, client = _required(env, "environment", ("AZURE_TENANT_ID", "AZURE_CLIENT_ID"))
    options = {**cloud.credential_kwargs(), "connection_verify": verify}
    if env.get("AZURE_CLIENT_SECRET"):
        return ClientSecretCredential(tenant, client, env["AZURE_CLIENT_SECRET"], **options)
    if env.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        path = env["AZURE_CLIENT_CERTIFICATE_PATH"]
        if not os.path.isfile(path):
            raise CredentialError(f"credential: environment: AZURE_CLIENT_CERTIFICATE_PATH names no file ({path})")
        password = env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
        return CertificateCredential(tenant, client, certificate_path=path, password=password, **options)
    raise CredentialError(
        "credential: environment needs AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH in the environment"
        " (the service principal's secret or certificate), besides AZURE_TENANT_ID and AZURE_CLIENT_ID"
    )


def _managed_identity(cloud: Cloud, env: Mapping[str, str], verify: bool | str) -> Any:
    from azure.identity import ManagedIdentityCredential

    # AZURE_CLIENT_ID picks a user-assigned identity, as DefaultAzureCredential does; unset: the system-assigned one
    return ManagedIdentityCredential(client_id=env.get("AZURE_CLIENT_ID") or None)


def _workload_identity(cloud: Cloud, env: Mapping[str, str], verify: bool | str) -> Any:
    from azure.identity import ClientAssertionCredential, WorkloadIdentityCredential

    tenant, client = _required(env, "workload_identity", ("AZURE_TENANT_ID", "AZURE_CLIENT_ID"))
    options = {**cloud.credential_kwargs(), "connection_verify": verify}
    token_file = env.get("AZURE_FEDERATED_TOKEN_FILE")
    if token_file:
        if not os.path.isfile(token_file):
            raise CredentialError(
                f"credential: workload_identity: AZURE_FEDERATED_TOKEN_FILE names no file ({token_file})"
            )
        return WorkloadIdentityCredential(tenant_id=tenant, client_id=client, token_file_path=token_file, **options)
    url, bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if url and bearer:
        # a GitHub token lives minutes: each new Azure token is exchanged for a fresh one (a file would go stale)
        return ClientAssertionCredential(tenant, client, github_assertion(url, bearer), **options)
    raise CredentialError(
        "credential: workload_identity needs a federated token: AZURE_FEDERATED_TOKEN_FILE (Kubernetes workload"
        " identity), or on GitHub Actions ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, which"
        " GitHub sets for a job with `permissions: id-token: write`"
    )


def _azure_cli(cloud: Cloud, env: Mapping[str, str], verify: bool | str) -> Any:
    from azure.identity import AzureCliCredential

    # the signed-in account of `az login` (`az login --tenant` picks the tenant; AZURE_TENANT_ID is not read: it is
    # often left over from a service principal); its cloud is `az cloud set`'s, not mlplan's
    return AzureCliCredential()


_MAKERS: dict[str, Callable[[Cloud, Mapping[str, str], bool | str], Any]] = {
    "default": _default,
    "environment": _environment,
    "managed_identity": _managed_identity,
    "workload_identity": _workload_identity,
    "azure_cli": _azure_cli,
}


def _required(env: Mapping[str, str], kind: str, names: tuple[str, ...]) -> tuple[str, ...]:
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise CredentialError(
            f"credential: {kind} needs {' and '.join(missing)} in the environment"
            " (the service principal's or identity's tenant and application (client) ID)"
        )
    return tuple(env[n] for n in names)


def github_assertion(url: str, bearer: str, timeout: float = GITHUB_TIMEOUT_S) -> Callable[[], str]:
    """A function returning a fresh GitHub Actions OIDC token for Microsoft Entra (the documented request: GET the
    request URL with ``audience=api://AzureADTokenExchange`` and the request token as a bearer; the answer is
    ``{"value": "<jwt>"}``). Its errors name the URL's host, never the bearer or the token."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), ("audience", GITHUB_AUDIENCE)])
    request_url = urllib.parse.urlunsplit(parts._replace(query=query))

    def fetch() -> str:
        request = urllib.request.Request(request_url, headers={"Authorization": f"bearer {bearer}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                value = json.loads(answer.read().decode("utf-8")).get("value")
        except urllib.error.HTTPError as exc:
            raise CredentialError(
                f"GitHub refused the OIDC token request to {parts.hostname} (HTTP {exc.code}): does the job have"
                " `permissions: id-token: write`?"
            ) from None
        except (OSError, ValueError) as exc:
            raise CredentialError(f"no OIDC token from GitHub ({parts.hostname}): {type(exc).__name__}") from None
        if not isinstance(value, str) or not value:
            raise CredentialError(f"GitHub's OIDC answer from {parts.hostname} holds no token")
        return value

    return fetch
