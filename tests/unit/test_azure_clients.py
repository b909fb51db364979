"""The azure provider's clouds, credentials and clients, offline: public clouds' endpoints as the SDKs ship them,
custom clouds registered with MLClient under names that never go stale, each credential kind built from the
environment (missing variables named, secrets never shown), TLS trust from REQUESTS_CA_BUNDLE, and azure-core's
retry policy as configured: throttling waited out, faults retried, a dead service given up within the stated bound
with a message naming the call and the resource. HTTP goes through azure-core's real pipeline to a scripted
transport (no server, no network)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mlplan.core.errors import ProviderError
from mlplan.providers.azure import clients, credentials
from mlplan.providers.azure.cloud import PUBLIC_CLOUDS, cloud_of
from mlplan.providers.azure.settings import Target, Workspace
from mlplan.providers.base import Context

WS = Workspace("00000000-0000-0000-0000-000000000000", "rg", "ws", "westeurope")
LOOPBACK = {"name": "loop", "resource_manager": "https://127.0.0.1:9443", "active_directory": "https://127.0.0.1:9443/"}


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("t", int(time.time()) + 3600)


@pytest.fixture
def cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLClient records the current cloud in os.environ: put it back afterwards."""
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")


# -- clouds ------------------------------------------------------------------------------------------------------
def test_public_clouds_carry_the_sdks_endpoints() -> None:
    expected = {
        "AzureCloud": ("https://management.azure.com/", "https://login.microsoftonline.com", "core.windows.net"),
        "AzureChinaCloud": (
            "https://management.chinacloudapi.cn/",
            "https://login.chinacloudapi.cn",
            "core.chinacloudapi.cn",
        ),
        "AzureUSGovernment": (
            "https://management.usgovcloudapi.net/",
            "https://login.microsoftonline.us",
            "core.usgovcloudapi.net",
        ),
    }
    assert set(expected) == set(PUBLIC_CLOUDS)
    for name, (arm, authority, suffix) in expected.items():
        cloud = cloud_of(name)
        assert (cloud.resource_manager, cloud.authority, cloud.storage_suffix) == (arm, authority, suffix)
        assert cloud.public and cloud.sdk_name == name
        assert cloud.ml_client_kwargs() == {"cloud": name}
        assert cloud.arm_kwargs()["base_url"] == arm
        assert all(s.endswith("/.default") for s in cloud.arm_scopes)
        assert cloud.credential_kwargs() == {"authority": authority}


def test_a_custom_cloud_is_registered_under_a_name_its_endpoints_determine() -> None:
    a = cloud_of(LOOPBACK)
    assert (a.resource_manager, a.authority, a.storage_suffix) == (
        "https://127.0.0.1:9443/",
        "https://127.0.0.1:9443",
        "core.windows.net",
    )
    assert a.arm_scopes == ("https://127.0.0.1:9443/.default",)
    assert a.sdk_name == cloud_of(dict(LOOPBACK)).sdk_name, "the same endpoints: the same name"
    b = cloud_of({**LOOPBACK, "resource_manager": "https://127.0.0.1:9444/"})
    assert a.sdk_name != b.sdk_name and a.sdk_name.startswith("mlplan-loop-")
    assert a.ml_client_kwargs()["cloud_metadata"]["resource_manager"] == "https://127.0.0.1:9443/"
    stack = cloud_of({**LOOPBACK, "storage_suffix": "local.azurestack.external", "disable_instance_discovery": True})
    assert stack.credential_kwargs() == {"authority": "https://127.0.0.1:9443", "disable_instance_discovery": True}
    assert stack.metadata["storage_endpoint"] == "local.azurestack.external"


def test_mlclient_uses_each_custom_clouds_own_endpoints_in_one_process(cloud_env: None) -> None:
    """The cloud table never replaces an entry: two servers in one process each get their own URL."""
    first = clients.ml_client(WS, cloud_of(LOOPBACK), StaticCredential(), {})
    second = clients.ml_client(
        WS, cloud_of({**LOOPBACK, "resource_manager": "https://127.0.0.1:9444/"}), StaticCredential(), {}
    )
    again = clients.ml_client(WS, cloud_of(LOOPBACK), StaticCredential(), {})
    assert first._base_url == "https://127.0.0.1:9443"
    assert second._base_url == "https://127.0.0.1:9444"
    assert again._base_url == "https://127.0.0.1:9443"
    public = clients.ml_client(WS, cloud_of("AzureCloud"), StaticCredential(), {})
    assert public._base_url == "https://management.azure.com"


def test_the_clients_carry_the_retry_policy_timeouts_and_tls_trust(cloud_env: None, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"REQUESTS_CA_BUNDLE": str(bundle)}
    ml = clients.ml_client(WS, cloud_of(LOOPBACK), StaticCredential(), env)
    arm = clients.deployments_client(WS, cloud_of(LOOPBACK), StaticCredential(), env)
    for kwargs in (ml._kwargs,):
        assert {k: kwargs[k] for k in clients.retry_settings()} == clients.retry_settings()
        assert [type(kwargs[k]).__name__ for k in ("per_call_policies", "per_retry_policies")] == [
            "RetryPostsToo",
            "RetryAfterCeiling",
        ]
        assert "retry_policy" not in kwargs, "an instance would be shared by every pipeline azure-ai-ml builds"
        assert kwargs["connection_verify"] == str(bundle)
        assert (kwargs["connection_timeout"], kwargs["read_timeout"]) == (
            clients.CONNECT_TIMEOUT_S,
            clients.READ_TIMEOUT_S,
        )
    retry = arm._config.retry_policy
    assert (retry.total_retries, retry.status_retries, retry.timeout) == (
        clients.RETRY_TOTAL,
        clients.RETRY_STATUS,
        clients.CALL_BUDGET_S,
    )
    assert arm._config.credential_scopes == ["https://127.0.0.1:9443/.default"]
    assert ml._operation_config.enable_telemetry is False and ml._operation_config.show_progress is False


def test_tls_trust_follows_requests_ca_bundle_like_requests_does(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert clients.connection_verify({}) is True
    assert clients.connection_verify({"CURL_CA_BUNDLE": str(bundle)}) == str(bundle)
    assert clients.connection_verify({"REQUESTS_CA_BUNDLE": str(bundle), "CURL_CA_BUNDLE": "/nope"}) == str(bundle)
    with pytest.raises(ProviderError, match=r"REQUESTS_CA_BUNDLE names no CA bundle file \(/no/such.pem\)"):
        clients.connection_verify({"REQUESTS_CA_BUNDLE": "/no/such.pem"})


def test_the_target_comes_from_the_context() -> None:
    ctx = Context("p", "prd", Path(), {"subscription_id": "s", "resource_group": "r", "workspace_name": "w"})
    target = Target.from_context(ctx)
    assert (target.workspace, target.cloud, target.credential) == (
        Workspace("s", "r", "w", None),
        "AzureCloud",
        "default",
    )
    ctx.connection = {"cloud": LOOPBACK, "credential": "environment"}
    ctx.workspace["location"] = "West Europe"
    target = Target.from_context(ctx)
    assert (target.cloud, target.credential, target.workspace.location) == (LOOPBACK, "environment", "westeurope")
    assert target.workspace.asset_id("models", "m", "3").endswith("/workspaces/w/models/m/versions/3")
    with pytest.raises(ProviderError, match="lacks workspace_name"):
        Target.from_context(Context("p", "prd", Path(), {"subscription_id": "s", "resource_group": "r"}))


# -- credentials --------------------------------------------------------------------------------------------------
SECRET = "sp-secret-value-0123456789"
SP = {"AZURE_TENANT_ID": "tenant", "AZURE_CLIENT_ID": "client"}


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """Record how each azure-identity credential is constructed (the real classes are checked elsewhere)."""
    import azure.identity

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for name in (
        "DefaultAzureCredential",
        "ClientSecretCredential",
        "CertificateCredential",
        "ManagedIdentityCredential",
        "WorkloadIdentityCredential",
        "ClientAssertionCredential",
        "AzureCliCredential",
    ):

        def record(*args: Any, _name: str = name, **kwargs: Any) -> str:
            calls.append((_name, args, kwargs))
            return _name

        monkeypatch.setattr(azure.identity, name, record)
    return calls


def test_each_credential_kind_is_its_azure_identity_credential(
    made: list[tuple[str, tuple[Any, ...], dict[str, Any]]], tmp_path: Path
) -> None:
    stack = cloud_of({**LOOPBACK, "disable_instance_discovery": True})
    token = tmp_path / "token"
    token.write_text("jwt")
    cases = {
        "default": ({}, "DefaultAzureCredential"),
        "environment": ({**SP, "AZURE_CLIENT_SECRET": SECRET}, "ClientSecretCredential"),
        "managed_identity": ({"AZURE_CLIENT_ID": "uami"}, "ManagedIdentityCredential"),
        "workload_identity": ({**SP, "AZURE_FEDERATED_TOKEN_FILE": str(token)}, "WorkloadIdentityCredential"),
        "azure_cli": ({}, "AzureCliCredential"),
    }
    for kind, (env, cls) in cases.items():
        assert credentials.make_credential(kind, stack, env, verify="/ca.pem") == cls
    by = {name: (args, kwargs) for name, args, kwargs in made}
    assert by["DefaultAzureCredential"] == (
        (),
        {"authority": "https://127.0.0.1:9443", "disable_instance_discovery": True},
    )
    assert by["ClientSecretCredential"] == (
        ("tenant", "client", SECRET),
        {"authority": "https://127.0.0.1:9443", "disable_instance_discovery": True, "connection_verify": "/ca.pem"},
    )
    assert by["ManagedIdentityCredential"] == ((), {"client_id": "uami"})
    assert by["AzureCliCredential"] == ((), {})
    assert by["WorkloadIdentityCredential"][1] == {
        "tenant_id": "tenant",
        "client_id": "client",
        "token_file_path": str(token),
        "authority": "https://127.0.0.1:9443",
        "disable_instance_discovery": True,
        "connection_verify": "/ca.pem",
    }
    # a public cloud: its authority, and MSAL's instance discovery left on
    made.clear()
    credentials.make_credential("environment", cloud_of("AzureChinaCloud"), {**SP, "AZURE_CLIENT_SECRET": SECRET})
    assert made[0][2] == {"authority": "https://login.chinacloudapi.cn", "connection_verify": True}


def test_a_certificate_service_principal(
    made: list[tuple[str, tuple[Any, ...], dict[str, Any]]], tmp_path: Path
) -> None:
    cert = tmp_path / "sp.pem"
    cert.write_text("pem")
    env = {**SP, "AZURE_CLIENT_CERTIFICATE_PATH": str(cert), "AZURE_CLIENT_CERTIFICATE_PASSWORD": SECRET}
    assert credentials.make_credential("environment", cloud_of("AzureCloud"), env) == "CertificateCredential"
    assert made[0][2]["certificate_path"] == str(cert) and made[0][2]["password"] == SECRET


@pytest.mark.parametrize(
    ("kind", "env", "message"),
    [
        (
            "environment",
            {"AZURE_CLIENT_SECRET": SECRET},
            "credential: environment needs AZURE_TENANT_ID and AZURE_CLIENT_ID",
        ),
        (
            "environment",
            {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": SECRET},
            "credential: environment needs AZURE_CLIENT_ID in the environment",
        ),
        ("environment", SP, "credential: environment needs AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"),
        (
            "environment",
            {**SP, "AZURE_CLIENT_CERTIFICATE_PATH": "/no/cert.pem"},
            r"AZURE_CLIENT_CERTIFICATE_PATH names no file \(/no/cert.pem\)",
        ),
        ("workload_identity", {"AZURE_CLIENT_ID": "c"}, "credential: workload_identity needs AZURE_TENANT_ID"),
        (
            "workload_identity",
            SP,
            "needs a federated token: AZURE_FEDERATED_TOKEN_FILE .*`permissions: id-token: write`",
        ),
        ("workload_identity", {**SP, "AZURE_FEDERATED_TOKEN_FILE": "/no/token"}, r"names no file \(/no/token\)"),
        ("kerberos", {}, "unknown credential 'kerberos' \\(known: default, environment, managed_identity"),
    ],
)
def test_what_a_credential_lacks_is_named_and_no_secret_is_shown(
    made: list[Any], kind: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(credentials.CredentialError, match=message) as exc:
        credentials.make_credential(kind, cloud_of("AzureCloud"), env)
    assert SECRET not in str(exc.value)
    assert made == []


class _Answer(io.BytesIO):
    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_github_actions_oidc_fetches_a_fresh_token_for_each_sign_in(
    made: list[tuple[str, tuple[Any, ...], dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer = "gh-request-token-secret"
    env = {
        **SP,
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.example/idtoken?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": bearer,
    }
    assert credentials.make_credential("workload_identity", cloud_of("AzureCloud"), env) == "ClientAssertionCredential"
    tenant, client, fetch = made[0][1]
    assert (tenant, client) == ("tenant", "client")
    seen: list[Any] = []
    tokens = iter(["jwt-1", "jwt-2"])

    def urlopen(request: Any, timeout: float) -> _Answer:
        seen.append((request.full_url, request.get_header("Authorization"), timeout))
        return _Answer(json.dumps({"value": next(tokens)}).encode())

    monkeypatch.setattr(credentials.urllib.request, "urlopen", urlopen)
    assert (fetch(), fetch()) == ("jwt-1", "jwt-2")
    assert seen[0] == (
        "https://pipelines.actions.example/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange",
        f"bearer {bearer}",
        credentials.GITHUB_TIMEOUT_S,
    )

    def refused(request: Any, timeout: float) -> _Answer:
        raise credentials.urllib.error.HTTPError(request.full_url, 403, "Forbidden", None, None)  # type: ignore[arg-type]

    monkeypatch.setattr(credentials.urllib.request, "urlopen", refused)
    with pytest.raises(credentials.CredentialError, match=r"GitHub refused .* \(HTTP 403\): .*id-token: write") as exc:
        fetch()
    assert bearer not in str(exc.value)


def test_the_real_credentials_construct_offline(tmp_path: Path) -> None:
    """The keyword arguments passed are ones the installed azure-identity accepts (nothing is signed in)."""
    token = tmp_path / "token"
    token.write_text("jwt")
    stack = cloud_of({**LOOPBACK, "disable_instance_discovery": True})
    for kind, env in (
        ("default", {}),
        ("environment", {**SP, "AZURE_CLIENT_SECRET": SECRET}),
        ("managed_identity", {}),
        ("workload_identity", {**SP, "AZURE_FEDERATED_TOKEN_FILE": str(token)}),
        (
            "workload_identity",
            {**SP, "ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "b"},
        ),
        ("azure_cli", {}),
    ):
        assert hasattr(credentials.make_credential(kind, stack, env, verify=True), "get_token"), kind


# -- retries, bounds and messages ------------------------------------------------------------------------------------
class Clock:
    """azure-core's retry policy reads time.time(); the scripted transport advances it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


Step = Callable[[Any], Any]


class ScriptedTransport:
    """An azure-core transport that answers each request with the next step of a script."""

    def __init__(self, clock: Clock, steps: Iterator[Step]) -> None:
        self.clock, self.steps, self.requests = clock, steps, 0
        self.connection_config = type("Config", (), {"timeout": clients.CONNECT_TIMEOUT_S})()

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.requests += 1
        return next(self.steps)(request)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def open(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> ScriptedTransport:
        return self

    def __exit__(self, *exc: object) -> None: ...


def answer(status: int, headers: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> Step:
    from azure.core.pipeline.transport import RequestsTransportResponse

    def step(request: Any) -> Any:
        raw = requests.Response()
        raw.status_code, raw.reason = status, "Status"
        raw.headers.update({"Content-Type": "application/json", **(headers or {})})
        raw._content = json.dumps(body or {}).encode()
        return RequestsTransportResponse(request, raw)

    return step


def hang(clock: Clock, seconds: float) -> Step:
    """A server that accepts the connection and never answers: the read times out after ``seconds``."""

    def step(request: Any) -> Any:
        from azure.core.exceptions import ServiceResponseTimeoutError

        clock.now += seconds
        raise ServiceResponseTimeoutError("Read timed out")

    return step


def refuse(request: Any) -> Any:
    from azure.core.exceptions import ServiceRequestError

    raise ServiceRequestError("[Errno 111] Connection refused")


def run(
    monkeypatch: pytest.MonkeyPatch, steps: list[Step], method: str = "GET", clock: Clock | None = None
) -> tuple[Any, ScriptedTransport, Clock]:
    """One request through azure-core's pipeline with mlplan's retry policy, on a scripted transport."""
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import _retry
    from azure.core.rest import HttpRequest

    clock = clock or Clock()
    monkeypatch.setattr(_retry, "time", clock)
    transport = ScriptedTransport(clock, iter(steps))
    pipeline = Pipeline(transport, policies=clients.retry_policies())
    response = pipeline.run(HttpRequest(method, "https://management.azure.com/x")).http_response
    return response, transport, clock


def test_throttling_is_waited_out_as_retry_after_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    response, transport, clock = run(monkeypatch, [answer(429, {"Retry-After": "7"}), answer(200)])
    assert (response.status_code, transport.requests, clock.slept) == (200, 2, [7.0])
    # a very long Retry-After is cut to MAX_WAIT_S, so that the call stays inside its bound
    response, transport, clock = run(monkeypatch, [answer(429, {"Retry-After": "3600"}), answer(200)])
    assert (response.status_code, clock.slept) == (200, [float(clients.MAX_WAIT_S)])


def test_server_errors_and_resets_are_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    response, transport, clock = run(monkeypatch, [answer(503), answer(500), answer(502), answer(200)])
    assert (response.status_code, transport.requests) == (200, 4)
    assert clock.slept == [1.6, 3.2], "exponential back-off after the first retry (azure-core: none before it)"
    # a POST (what-if, list keys) is retried after a reset too
    from azure.core.exceptions import ServiceResponseError

    def reset(request: Any) -> Any:
        raise ServiceResponseError("Connection reset by peer")

    response, transport, _ = run(monkeypatch, [reset, answer(202)], method="POST")
    assert (response.status_code, transport.requests) == (202, 2)


def test_a_service_that_keeps_failing_returns_its_last_answer_after_the_status_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response, transport, clock = run(monkeypatch, [answer(503)] * (clients.RETRY_STATUS + 2))
    assert response.status_code == 503
    assert transport.requests == clients.RETRY_STATUS + 1
    assert sum(clock.slept) < clients.DEAD_SERVICE_BOUND_S


@pytest.mark.parametrize("dead", ["refused", "silent", "throttled"])
def test_a_dead_service_is_given_up_within_the_stated_bound(monkeypatch: pytest.MonkeyPatch, dead: str) -> None:
    from azure.core.exceptions import AzureError

    clock = Clock()
    start = clock.now
    script: list[Step] = {
        "refused": [refuse] * 20,
        "silent": [hang(clock, clients.READ_TIMEOUT_S)] * 20,
        "throttled": [answer(429, {"Retry-After": "3600"})] * 20,
    }[dead]
    try:
        response, _transport, _ = run(monkeypatch, script, clock=clock)
    except AzureError:
        pass
    else:
        assert response.status_code == 429  # the last answer, once the retries are spent
    assert clock.now - start <= clients.DEAD_SERVICE_BOUND_S
    assert clients.DEAD_SERVICE_BOUND_S == 160


class Recording(ScriptedTransport):
    """A transport that answers 200 and records the Authorization header of each request it sends."""

    def __init__(self) -> None:
        super().__init__(Clock(), iter([]))
        self.authorization: list[str] = []

    def send(self, request: Any, **kwargs: Any) -> Any:
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        self.authorization.append(request.headers.get("Authorization", ""))
        raw = requests.Response()
        raw.status_code, raw.reason = 200, "OK"
        raw.headers.update({"Content-Type": "application/json"})
        raw.raw = io.BytesIO(json.dumps({"name": "d", "properties": {}}).encode())
        return RestRequestsTransportResponse(request=request, internal_response=raw)


class Named:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3600)


def test_clients_built_from_the_same_keywords_each_send_through_their_own_pipeline(cloud_env: None) -> None:
    """azure-ai-ml builds all its pipelines from the keywords it is given; an HTTPPolicy instance among them (a retry
    policy) is linked into the pipeline built last, and requests of the others went on through that one's
    credential and transport (seen as a 401 on invoke). Each pipeline has its own retry policy now."""
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    shared = clients.transport_kwargs({})
    first, second = Recording(), Recording()
    a = DeploymentsMgmtClient(Named("token-a"), WS.subscription_id, transport=first, **shared)
    DeploymentsMgmtClient(Named("token-b"), WS.subscription_id, transport=second, **shared)
    a.deployments.get("rg", "d")
    assert (first.authorization, second.authorization) == (["Bearer token-a"], [])


def test_every_pipeline_of_an_mlclient_has_a_retry_policy_of_its_own(cloud_env: None) -> None:
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import RetryPolicy

    ml = clients.ml_client(WS, cloud_of(LOOPBACK), StaticCredential(), {})
    pipelines: list[Any] = []
    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > 4 or not hasattr(obj, "__dict__"):
            return
        seen.add(id(obj))
        if isinstance(obj, Pipeline):
            pipelines.append(obj)
            return
        for value in list(vars(obj).values()):
            walk(value, depth + 1)

    walk(ml, 0)
    retries = [p for pipeline in pipelines for p in pipeline._impl_policies if isinstance(p, RetryPolicy)]
    assert len(pipelines) >= 10 and len(retries) == len(pipelines), (len(pipelines), len(retries))
    assert len({id(r) for r in retries}) == len(retries), "a retry policy shared by two pipelines"
    # the pipelines built from mlplan's keywords (all but one azure-ai-ml builds without them) carry its rules
    ours = [[type(getattr(p, "_policy", p)).__name__ for p in pipeline._impl_policies] for pipeline in pipelines]
    assert sum("RetryAfterCeiling" in names for names in ours) >= 10
    assert sum(r.total_retries == clients.RETRY_TOTAL for r in retries) >= len(retries) - 1


def test_calling_names_the_call_and_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    with pytest.raises(ProviderError) as exc, clients.calling("computes.get", "compute 'cpu'"):
        run(monkeypatch, [refuse] * 10)
    assert str(exc.value).startswith("computes.get (compute 'cpu'): no answer from Azure after ")
    assert f"gives up on a call after at most {clients.DEAD_SERVICE_BOUND_S} s" in str(exc.value)

    def failed(status: int, message: str) -> HttpResponseError:
        response, _, _ = run(monkeypatch, [answer(status, body={"error": {"code": "Conflict", "message": message}})])
        return HttpResponseError(response=response)

    with pytest.raises(ProviderError) as exc, clients.calling("models.create_or_update", "model 'm' version 3"):
        raise failed(409, "Model version m:3 exists and is immutable")
    assert str(exc.value) == (
        "models.create_or_update (model 'm' version 3): Azure answered HTTP 409 Conflict: (Conflict) Model version"
        " m:3 exists and is immutable"
    )
    sas = "https://acct.blob.core.windows.net/c/b?sv=2021&sig=SECRETSIG&se=2030"
    with pytest.raises(ProviderError) as exc, clients.calling("data.create_or_update", "data asset 'd'"):
        raise failed(403, f"AuthorizationFailure for {sas} with Bearer eyJ0eXAi.secret")
    assert "SECRETSIG" not in str(exc.value) and "eyJ0eXAi" not in str(exc.value)
    assert "sig=(sensitive)" in str(exc.value)
    with (
        pytest.raises(
            ProviderError, match=r"^online_endpoints.get \(online endpoint 'e'\): signing in to Azure failed"
        ),
        clients.calling("online_endpoints.get", "online endpoint 'e'"),
    ):
        raise ClientAuthenticationError("AADSTS7000215: Invalid client secret provided.")
    with pytest.raises(ResourceNotFoundError), clients.calling("models.get", "model 'm'"):
        raise ResourceNotFoundError("gone")


def test_no_azure_sdk_is_imported_until_the_provider_calls_azure() -> None:
    """`mlplan --help` and the local provider never pay for the Azure SDKs: the azure provider's modules import
    them inside the functions that call Azure."""
    code = (
        "import sys, mlplan.providers.azure, mlplan.providers.azure.cloud, mlplan.providers.azure.credentials,"
        " mlplan.providers.azure.clients, mlplan.providers.azure.settings, mlplan.providers.azure.kinds;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] == 'azure'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_long_running_operation_says_it_still_runs_and_what_azure_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-core's own LROPoller, with a polling method that takes a few polls: progress lines while it runs,
    the result at the end."""
    from azure.core.polling import LROPoller, PollingMethod

    from mlplan.providers.azure import compute

    class Slow(PollingMethod[str]):
        def __init__(self) -> None:
            self.polls = 0

        def initialize(self, client: Any, initial_response: Any, deserialization_callback: Any) -> None:
            return None

        def run(self) -> None:
            while self.polls < 3:
                time.sleep(0.05)
                self.polls += 1

        def status(self) -> str:
            return "Succeeded" if self.polls >= 3 else "InProgress"

        def finished(self) -> bool:
            return self.polls >= 3

        def resource(self) -> str:
            return "made"

    monkeypatch.setattr(compute, "POLL_S", 0.02)
    monkeypatch.setattr(compute, "PROGRESS_EVERY_S", 0.0)
    lines: list[str] = []
    ctx = Context("p", "dev", Path("."), {}, log=lines.append)
    poller: LROPoller[str] = LROPoller(None, None, lambda r: r, Slow())
    assert compute.wait_for(ctx, poller, "creating compute 'cpu'") == "made"
    assert lines and all(
        line.startswith("still creating compute 'cpu': 0m00s so far, Azure reports InProgress") for line in lines
    ), lines
