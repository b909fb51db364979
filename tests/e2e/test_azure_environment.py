"""An azure environment validates offline; a state backend that cannot be opened (azureblob without its
connection string) and a type the azure provider does not manage are refused with the line to look at.
Nothing is written."""

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
      credential: connection_string
"""


def test_an_azure_environment_validates_offline_and_refuses_a_backend_it_cannot_open_with_file_and_line(
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
        r = run_mlplan("-C", str(project), "-e", "prd", *command, env={"AZURE_STORAGE_CONNECTION_STRING": ""})
        assert r.code == 1, (command, r.text)
        assert (
            f"mlplan.yaml:{backend_line}: state backend 'azureblob': credential connection_string needs"
            " AZURE_STORAGE_CONNECTION_STRING in the environment"
        ) in r.err
    assert not (project / ".mlplan").exists(), "nothing written"


def test_types_the_azure_provider_does_not_manage_are_refused_with_file_and_line(project: Path) -> None:
    """Every kind is managed on Azure; within a kind, a type it does not manage (a Kubernetes deployment, a compute
    type other than amlcompute and computeinstance) is refused at validate and plan, at the type's line."""
    config = project / "mlplan.yaml"
    config.write_text(config.read_text() + PRD.split("    state:")[0])
    (project / "res" / "k8s.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/kubernetesOnlineDeployment.schema.json\n"
        "name: blue\nendpoint_name: web\ntype: kubernetes\nmodel: azureml:clf:1\n"
        "environment: azureml:sk:1\ninstance_type: defaultinstancetype\n"
    )
    for command in (("validate", "--no-sdk"), ("plan",)):
        r = run_mlplan("-C", str(project), "-e", "prd", *command)
        assert r.code == 1, (command, r.text)
        assert (
            "res/k8s.yml:4: online_deployment.web/blue: kubernetes deployments are not supported by the azure"
            " provider yet" in r.err
        ), r.err
    assert not (project / ".mlplan").exists(), "nothing written"
