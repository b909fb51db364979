"""An azure environment in mlplan.yaml: workspace, cloud (a public cloud by name or a mapping) and credential, checked
with the line of the offending key, the closest allowed value, and never a secret accepted or echoed."""

from __future__ import annotations

import pytest

from mlplan.core.errors import Diagnostic, ValidationFailed
from mlplan.engine.session import open_session
from tests.unit.fakes import PROJECT, Harness

GUID = "00000000-0000-0000-0000-000000000000"
# PROJECT is two lines: `environments:` is line 3, `prd:` 4, `provider:` 5, `workspace:` 6; what a test adds, 7 on.
PRD = f"""
environments:
  prd:
    provider: azure
    workspace: {{subscription_id: {GUID}, resource_group: rg, workspace_name: ws, location: westeurope}}
"""


def problems(h: Harness, text: str, env: str = "prd") -> list[Diagnostic]:
    h.write({"mlplan.yaml": PROJECT + text.lstrip("\n")})
    with pytest.raises(ValidationFailed) as exc:
        h.load(env)
    return exc.value.diagnostics


def one(h: Harness, text: str, env: str = "prd") -> Diagnostic:
    [found] = problems(h, text, env)
    assert found.file == "mlplan.yaml" and found.hint, found
    return found


def test_an_azure_environment_defaults_to_the_public_cloud_and_default_credential(h: Harness) -> None:
    h.write({"mlplan.yaml": PROJECT + PRD.lstrip("\n")})
    config, _ = h.load("prd")
    env = config.environment
    assert env.provider == "azure"
    assert env.workspace == {
        "subscription_id": GUID,
        "resource_group": "rg",
        "workspace_name": "ws",
        "location": "westeurope",
    }
    assert env.connection == {"cloud": "AzureCloud", "credential": "default"}


def test_a_named_cloud_a_custom_cloud_and_each_credential_load(h: Harness) -> None:
    for credential in ("default", "environment", "managed_identity", "workload_identity", "azure_cli"):
        h.write(
            {"mlplan.yaml": PROJECT + PRD.lstrip("\n") + f"    cloud: AzureChinaCloud\n    credential: {credential}\n"}
        )
        config, _ = h.load("prd")
        assert config.environment.connection == {"cloud": "AzureChinaCloud", "credential": credential}
    custom = (
        "    cloud:\n      name: stack\n      resource_manager: https://management.local/\n"
        "      active_directory: https://adfs.local/adfs/\n      storage_suffix: local\n"
        "      disable_instance_discovery: true\n"
    )
    h.write({"mlplan.yaml": PROJECT + PRD.lstrip("\n") + custom})
    config, _ = h.load("prd")
    assert config.environment.connection["cloud"] == {
        "name": "stack",
        "resource_manager": "https://management.local/",
        "active_directory": "https://adfs.local/adfs/",
        "storage_suffix": "local",
        "disable_instance_discovery": True,
    }
    assert config.environment.lines["cloud"] == 7


def test_the_session_hands_the_connection_to_the_provider(h: Harness) -> None:
    h.write({"mlplan.yaml": PROJECT + PRD.lstrip("\n") + "    credential: azure_cli\n"})
    session = open_session(h.root, "prd")
    assert session.ctx.connection == {"cloud": "AzureCloud", "credential": "azure_cli"}
    assert session.ctx.workspace["workspace_name"] == "ws"


def test_a_misspelt_credential_or_cloud_name_gets_the_closest_one_at_its_line(h: Harness) -> None:
    found = one(h, PRD + "    credential: enviroment\n")
    assert found.line == 7
    assert found.message == (
        "environments.prd.credential: 'enviroment' is not one of default, environment, managed_identity,"
        " workload_identity, azure_cli; did you mean 'environment'?"
    )
    found = one(h, PRD + "    cloud: AzureChina\n")
    assert found.line == 7
    assert "'AzureChina' is not one of AzureCloud, AzureChinaCloud, AzureUSGovernment" in found.message
    assert found.message.endswith("did you mean 'AzureChinaCloud'?")


def test_a_custom_cloud_with_a_misspelt_or_missing_key(h: Harness) -> None:
    found = one(
        h,
        PRD + "    cloud:\n      name: s\n      resource_manger: https://m/\n      active_directory: https://a/\n",
    )
    assert found.line == 9
    assert found.message == "environments.prd.cloud.resource_manger: unknown key; did you mean 'resource_manager'?"
    found = one(h, PRD + "    cloud:\n      name: s\n      resource_manager: https://m/\n")
    assert found.line == 7
    assert "'active_directory' is a required property" in found.message


def test_custom_cloud_endpoints_must_be_https_urls(h: Harness) -> None:
    found = one(
        h,
        PRD + "    cloud:\n      name: s\n      resource_manager: http://127.0.0.1:8443/\n"
        "      active_directory: https://login.local/\n",
    )
    assert found.line == 9
    assert found.message == "environments.prd.cloud.resource_manager: 'http://127.0.0.1:8443/' is not an https URL"


def test_no_secret_is_accepted_or_echoed(h: Harness) -> None:
    secret = "s3cr3t-value-1234"
    found = problems(
        h,
        PRD
        + f"    client_secret: {secret}\n    cloud:\n      name: s\n      resource_manager: https://m/\n"
        + f"      active_directory: https://a/\n      password: {secret}\n",
    )
    assert [(d.line, d.message.split(": ", 1)[0]) for d in found] == [
        (7, "environments.prd.client_secret"),
        (12, "environments.prd.cloud.password"),
    ]
    for d in found:
        assert d.message.endswith("mlplan.yaml never holds a secret (it is committed): this key is not read")
        assert "AZURE_CLIENT_SECRET" in (d.hint or "")
    # a secret written where a credential's name goes is not echoed either
    found_one = one(h, PRD + f"    credential: {{tenant_id: t, client_secret: {secret}}}\n")
    assert found_one.message == (
        "environments.prd.credential: a mapping is not one of default, environment, managed_identity,"
        " workload_identity, azure_cli"
    )
    for d in [*found, found_one]:
        assert secret not in d.message and secret not in (d.hint or "")


def test_azure_settings_on_a_local_environment_are_refused_with_their_line(h: Harness) -> None:
    text = "environments:\n  dev:\n    provider: local\n    cloud: AzureCloud\n    credential: azure_cli\n"
    found = problems(h, text, env="dev")
    assert [(d.line, d.message) for d in found] == [
        (6, "environments.dev.cloud: only an azure environment takes cloud (this one's provider is local)"),
        (7, "environments.dev.credential: only an azure environment takes credential (this one's provider is local)"),
    ]


def test_a_subscription_id_that_is_no_guid_is_refused_in_the_selected_environment_only(h: Harness) -> None:
    other = (
        "  qa:\n    provider: azure\n"
        "    workspace: {subscription_id: '${env:QA_SUB}', resource_group: r, workspace_name: w}\n"
    )
    found = one(h, PRD.replace(GUID, "my-subscription") + other)
    assert found.line == 6
    assert found.message.startswith(
        "environments.prd.workspace.subscription_id: 'my-subscription' is not a subscription ID (a GUID"
    )
    assert "az account show" in (found.hint or "")
    h.write({"mlplan.yaml": PROJECT + PRD.lstrip("\n") + other})
    config, _ = h.load("prd")  # qa's ${env:QA_SUB} is not interpolated, nor checked, while prd is selected
    assert config.environment.name == "prd"


def test_an_azure_environment_needs_its_workspace(h: Harness) -> None:
    found = one(h, "environments:\n  prd:\n    provider: azure\n")
    assert found.line == 4
    assert found.message == "environments.prd: 'workspace' is a required property"
