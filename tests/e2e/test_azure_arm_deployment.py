"""An ``arm_deployment`` end to end: the installed ``mlplan`` on a ``provider: azure`` environment pointed at the
loopback Azure (azure-mgmt-resource-deployments over HTTPS). The plan shows ARM what-if's predictions in text,
JSON and markdown; apply deploys; a re-plan is a no-op; a change made in the portal to what the template deployed
shows in ``drift`` and makes the next plan an update predicting the modify; a saved plan whose predictions moved is
refused as stale before anything is deployed; removing the resource file deletes the deployment and says its
resources stay; a deployment killed mid-apply is resumed from its journalled token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_mlplan, write
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"storageName": {"type": "string"}, "sku": {"type": "string", "defaultValue": "Standard_LRS"}},
    "resources": [
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2023-01-01",
            "name": "[parameters('storageName')]",
            "location": "[resourceGroup().location]",
            "sku": {"name": "[parameters('sku')]"},
            "kind": "StorageV2",
            "properties": {"minimumTlsVersion": "TLS1_2"},
        }
    ],
    "outputs": {"storageName": {"type": "string", "value": "[parameters('storageName')]"}},
}


def arm_project(root: Path, az: LoopbackAzure) -> Path:
    workspace = {
        "subscription_id": az.subscription_id,
        "resource_group": az.resource_group,
        "workspace_name": az.workspace,
        "location": az.location,
    }
    write(
        root,
        {
            "mlplan.yaml": f"""
            project: demo
            resources: ["infra/*.yml"]
            outputs:
              storage: {{value: "${{arm_deployment.core.storageName}}"}}
            environments:
              dev:
                provider: azure
                workspace: {json.dumps(workspace)}
                cloud: {json.dumps(az.cloud_config)}
                credential: environment
            """,
            "infra/core.template.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/deploymentTemplate.schema.json
            template: ../.cloud/deploy.core-infra.json
            parameters: ../.cloud/params.deploy.core-infra.json
            """,
            ".cloud/deploy.core-infra.json": json.dumps(TEMPLATE, indent=2),
            ".cloud/params.deploy.core-infra.json": json.dumps({"parameters": {"storageName": {"value": "stcore"}}}),
        },
    )
    return root


def mlplan(root: Path, *args: str) -> tuple[int, str]:
    r = run_mlplan("-C", str(root), "-e", "dev", *args, timeout=120)
    return r.code, r.text


def test_what_if_in_the_plan_apply_portal_drift_stale_refusal_and_removal(
    tmp_path: Path, loopback_azure: LoopbackAzure
) -> None:
    az = loopback_azure
    root = arm_project(tmp_path / "proj", az)
    rg = f"/subscriptions/{az.subscription_id}/resourceGroups/{az.resource_group}/providers"
    storage = f"{rg}/Microsoft.Storage/storageAccounts/stcore"
    deployment = f"{rg}/Microsoft.Resources/deployments/core"

    # the plan shows what ARM predicts, in every format, and changes nothing
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 2, out
    assert "    + arm_deployment.core  (create)\n      not in state: will be created\n" in out, out
    assert (
        "      predicted changes to the resources it manages:\n"
        "        + Microsoft.Storage/storageAccounts/stcore  (create)\n"
        "        = 1 other resource(s) unchanged or left alone\n"  # the workspace: not in the template
    ) in out, out
    code, out = mlplan(root, "plan", "--json")
    assert code == 0, out
    [change] = [c for c in json.loads(out)["changes"] if c["address"] == "arm_deployment.core"]
    assert [(p["change"], p["resource_id"]) for p in change["predicted"]] == [
        ("ignore", az.workspace_id),
        ("create", storage),
    ]
    assert change["predicted"][1]["resource_type"] == "Microsoft.Storage/storageAccounts"
    code, out = mlplan(root, "plan", "--format", "markdown")
    assert code == 0, out
    assert "<details open><summary>Predicted changes (what-if)</summary>" in out, out
    assert "# arm_deployment.core\n+ Microsoft.Storage/storageAccounts/stcore  (create)\n" in out, out
    assert az.resource(storage) is None and az.resource(deployment) is None, "plan deployed nothing"

    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert "Apply complete: 1 done" in out, out
    assert az.resource(storage)["properties"]["minimumTlsVersion"] == "TLS1_2"
    assert "storage = stcore" in out, out  # the template's output, read through mlplan.yaml's outputs
    stored = az.resource(deployment)
    assert stored is not None and stored["tags"]["mlplan.address"] == "arm_deployment.core"
    r = run_mlplan("-C", str(root), "-e", "dev", "output", "storage")
    assert r.code == 0 and r.out.strip() == "stcore", r.text
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out  # the files are unchanged and ARM predicts no change

    # someone lowers the TLS version in the portal: the same files now make an update, and the plan says why
    az.edit(storage, lambda b: b["properties"].update(minimumTlsVersion="TLS1_0"))
    code, out = mlplan(root, "drift")
    assert code != 0, out
    assert (
        "changed outside mlplan: what it deployed drifted; the azure provider predicts that deploying it again would"
        " modify Microsoft.Storage/storageAccounts/stcore (properties.minimumTlsVersion)"
    ) in out, out
    plan_file = tmp_path / "drift.json"
    code, out = mlplan(root, "plan", "--detailed-exitcode", "--out", str(plan_file))
    assert code == 2, out
    assert (
        "    ~ arm_deployment.core  (update)\n"
        "      configuration unchanged, but what it deployed drifted: the azure provider predicts"
        " modify Microsoft.Storage/storageAccounts/stcore (properties.minimumTlsVersion)\n"
    ) in out, out
    assert "            ~ properties.minimumTlsVersion: TLS1_0 -> TLS1_2\n" in out, out

    # before the saved plan is applied, the portal changes it again: ARM now predicts something else
    az.edit(storage, lambda b: b["properties"].update(minimumTlsVersion="TLS1_1"))
    calls_before = len([c for c in az.calls if c.method == "PUT" and "deployments/core" in c.path])
    code, out = mlplan(root, "apply", str(plan_file))
    assert code == 1, out
    assert "the plan is stale: the azure provider now predicts other changes for arm_deployment.core" in out, out
    assert (
        "(the plan shows: modify Microsoft.Storage/storageAccounts/stcore (properties.minimumTlsVersion: TLS1_0 ->"
        " TLS1_2); now predicted instead: modify Microsoft.Storage/storageAccounts/stcore"
        " (properties.minimumTlsVersion: TLS1_1 -> TLS1_2))"
    ) in out, out
    assert "Run `mlplan plan` again" in out, out
    assert az.resource(storage)["properties"]["minimumTlsVersion"] == "TLS1_1", "nothing was deployed"
    assert len([c for c in az.calls if c.method == "PUT" and "deployments/core" in c.path]) == calls_before

    code, out = mlplan(root, "apply", "--auto-approve")  # planned again and shown: deployed
    assert code == 0, out
    assert "~ properties.minimumTlsVersion: TLS1_1 -> TLS1_2" in out, out
    assert az.resource(storage)["properties"]["minimumTlsVersion"] == "TLS1_2"
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out

    # removed from the configuration: the deployment is deleted, and the plan says its resources stay
    (root / "infra" / "core.template.yml").unlink()
    config = root / "mlplan.yaml"
    output = 'outputs:\n  storage: {value: "${arm_deployment.core.storageName}"}\n'
    config.write_text(config.read_text().replace(output, ""))  # the output goes with it
    code, out = mlplan(root, "apply", "--auto-approve")
    assert code == 0, out
    assert "    - arm_deployment.core  (delete)\n" in out, out
    assert "* Microsoft.Storage/storageAccounts/stcore  (ignore): stays in the resource group" in out, out
    assert az.resource(deployment) is None
    assert az.resource(storage) is not None


def test_a_deployment_killed_mid_apply_is_resumed_from_its_journalled_token(
    tmp_path: Path, loopback_azure: LoopbackAzure
) -> None:
    az = loopback_azure
    root = arm_project(tmp_path / "proj", az)
    deployment = "/providers/Microsoft.Resources/deployments/core"
    az.slow_operations(deployment, 3600, method="PUT")  # it still runs in Azure when mlplan dies
    r = run_mlplan(
        *("-C", str(root), "-e", "dev", "apply", "--auto-approve"),
        env={"MLPLAN_CRASHPOINT": "mid_operation"},
        timeout=120,
    )
    assert r.code == -9, r.text  # SIGKILL right after ARM accepted the deployment and its token was journalled
    puts = [c for c in az.calls if c.method == "PUT" and c.path.endswith(deployment)]
    assert len(puts) == 1

    code, out = mlplan(root, "plan")
    assert code == 1, out
    assert "arm_deployment.core: an interrupted create" in out and "is still running in the workspace" in out, out

    assert az.hold_operations(deployment, 2) == 1  # it finishes while apply waits
    code, out = mlplan(root, "apply", "--auto-approve")  # waits for it by its token: adopted, not deployed again
    assert code == 0, out
    assert "+s arm_deployment.core  (interrupted create: adopt)" in out, out
    assert len([c for c in az.calls if c.method == "PUT" and c.path.endswith(deployment)]) == 1
    code, out = mlplan(root, "plan", "--detailed-exitcode")
    assert code == 0, out
