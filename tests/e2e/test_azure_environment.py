"""An azure environment validates offline; a state backend this version lacks (azureblob) and a kind the azure
provider does not manage yet are refused with the line to look at. Nothing is written."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_mlplan

PRD = """
environments:
  prd:
    provider: azure
    workspace: {subscription_id: 00000000-0000-0000-0000-000000000000, resource_group: rg, workspace_name: ws}
    state:
      backend: azureblob
      account_url: https://acct.blob.core.windows.net
      container: state
      blob: prd.json
"""


def test_an_azure_environment_validates_offline_and_refuses_an_unavailable_backend_with_file_and_line(
    project: Path,
) -> None:
    config = project / "mlplan.yaml"
    config.write_text(config.read_text() + PRD)
    backend_line = config.read_text().splitlines().index("      backend: azureblob") + 1
    v = run_mlplan("-C", str(project), "-e", "prd", "validate")  # with the azure-ai-ml loaders, no Azure call
    assert v.code == 0, v.text
    assert "The configuration is valid: 4 resource(s) in environment prd." in v.out
    for command in (
        ("plan",),
        ("apply", "--auto-approve"),
        ("destroy", "--auto-approve"),
        ("drift",),
        ("state", "list"),
    ):
        r = run_mlplan("-C", str(project), "-e", "prd", *command)
        assert r.code == 1, (command, r.text)
        assert f"mlplan.yaml:{backend_line}: state backend 'azureblob' is not available in this version" in r.err
    assert not (project / ".mlplan").exists(), "nothing written"


def test_kinds_the_azure_provider_does_not_manage_yet_are_refused_with_file_and_line(project: Path) -> None:
    config = project / "mlplan.yaml"
    config.write_text(config.read_text() + PRD.split("    state:")[0])
    template = project / "res" / "network.yml"
    template.write_text(
        "$schema: https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\n"
        "contentVersion: 1.0.0.0\nresources: []\n"
    )
    for command in (("validate",), ("plan",)):
        r = run_mlplan("-C", str(project), "-e", "prd", *command)
        assert r.code == 1, (command, r.text)
        assert (
            "res/network.yml:1: arm_deployment.network: arm_deployment is not supported by the azure provider yet"
            in r.err
        ), r.err
        assert "1 error; nothing was changed." in r.err, r.err
    assert not (project / ".mlplan").exists(), "nothing written"


def test_a_misspelt_credential_and_a_secret_in_mlplan_yaml_are_refused_with_their_lines(project: Path) -> None:
    config = project / "mlplan.yaml"
    secret = "pa55-w0rd-not-for-git"
    config.write_text(config.read_text() + PRD + f"    credential: enviroment\n    client_secret: {secret}\n")
    lines = config.read_text().splitlines()
    credential_line = lines.index("    credential: enviroment") + 1
    r = run_mlplan("-C", str(project), "-e", "prd", "validate")
    assert r.code == 1, r.text
    assert (
        f"mlplan.yaml:{credential_line}: environments.prd.credential: 'enviroment' is not one of default,"
        " environment, managed_identity, workload_identity, azure_cli; did you mean 'environment'?"
    ) in r.err
    assert (
        f"mlplan.yaml:{credential_line + 1}: environments.prd.client_secret: mlplan.yaml never holds a secret" in r.err
    )
    assert secret not in r.text
    assert not (project / ".mlplan").exists(), "nothing written"
