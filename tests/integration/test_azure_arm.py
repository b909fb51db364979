"""The azure provider's ARM deployments called directly against the loopback Azure (azure-mgmt-resource-deployments
over HTTPS): create with its what-if, a re-read that is a no-op, a template change predicted property by property,
a change made in the portal predicted as a modify, the journalled token polled, and delete (the deployment goes, the
resources its template made stay, as the prediction for the removal says)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlplan.providers.azure import AzureProvider
from mlplan.providers.base import TAG_OPERATION, Context, Desired, PredictedChange, ResourceType
from tests.loopback_azure import LoopbackAzure

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {
        "name": {"type": "string"},
        "sku": {"type": "string", "defaultValue": "Standard_LRS"},
        "adminPassword": {"type": "securestring", "defaultValue": ""},
    },
    "resources": [
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2023-01-01",
            "name": "[parameters('name')]",
            "location": "[resourceGroup().location]",
            "sku": {"name": "[parameters('sku')]"},
            "kind": "StorageV2",
            "properties": {"minimumTlsVersion": "TLS1_2"},
        }
    ],
    "outputs": {
        "storage_id": {
            "type": "string",
            "value": "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]",
        },
        "secret": {"type": "securestring", "value": "[parameters('adminPassword')]"},
    },
}


def context(root: Path, az: LoopbackAzure, tokens: list[dict[str, Any]] | None = None) -> Context:
    workspace = {
        "subscription_id": az.subscription_id,
        "resource_group": az.resource_group,
        "workspace_name": az.workspace,
        "location": az.location,
    }
    ctx = Context("demo", "dev", root, workspace, connection={"cloud": az.cloud_config, "credential": "environment"})
    if tokens is not None:
        ctx.checkpoint = tokens.append
    return ctx


def arm_type(ctx: Context) -> ResourceType:
    provider = AzureProvider()
    provider.bind(ctx)
    rt = provider.resource_type("arm_deployment")
    assert rt is not None
    return rt


def desired(root: Path, spec: dict[str, Any], operation: str = "op1") -> Desired:
    digests = {"template": "t-" + json.dumps(TEMPLATE["parameters"]["sku"])}  # stands for the file's digest
    if isinstance(spec.get("parameters"), str):
        digests["parameters"] = "p-" + (root / spec["parameters"]).read_text()
    return Desired("arm_deployment", "infra", spec, root, content=digests, tags={TAG_OPERATION: operation})


def changes(predicted: tuple[PredictedChange, ...] | None) -> list[tuple[str, str]]:
    assert predicted is not None
    return [(p.change, p.resource_id.rsplit("/", 1)[-1]) for p in predicted]


def test_create_replan_template_change_portal_drift_poll_and_delete(
    tmp_path: Path, loopback_azure: LoopbackAzure
) -> None:
    az = loopback_azure
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.json").write_text(json.dumps(TEMPLATE))
    (tmp_path / "infra" / "main.parameters.json").write_text(
        json.dumps({"contentVersion": "1.0.0.0", "parameters": {"name": {"value": "stdata"}}})
    )
    tokens: list[dict[str, Any]] = []
    ctx = context(tmp_path, az, tokens)
    rt = arm_type(ctx)
    spec = {"template": "infra/main.json", "parameters": "infra/main.parameters.json"}
    assert rt.validate(desired(tmp_path, spec)) == []
    assert rt.output_names(desired(tmp_path, spec)) == {
        *("arm_id", "provisioning_state", "output_resources"),
        *("storage_id", "secret"),  # the template's: what mlplan.yaml's outputs may read
    }
    storage = f"/subscriptions/{az.subscription_id}/resourceGroups/{az.resource_group}"
    storage += "/providers/Microsoft.Storage/storageAccounts/stdata"

    # create: what-if predicts the storage account, and the workspace the template does not name is left alone
    first = rt.predict(ctx, desired(tmp_path, spec), None)
    assert changes(first) == [("ignore", az.workspace), ("create", "stdata")]  # by resource id
    assert first is not None and first[1].resource_type == "Microsoft.Storage/storageAccounts"
    assert az.resource(storage) is None, "what-if changes nothing"
    made = rt.create(ctx, desired(tmp_path, spec))
    assert tokens == [{"resource_group": az.resource_group, "deployment": "infra"}]
    assert made.id == "deployments/infra" and made.outputs["provisioning_state"] == "Succeeded"
    assert made.outputs["storage_id"] == storage and made.outputs["secret"] == "(sensitive)"
    assert made.outputs["output_resources"] == [storage]
    assert az.resource(storage)["sku"] == {"name": "Standard_LRS"}

    # read back: what desired_attributes says, so the re-plan is a no-op; what-if agrees
    read = rt.read(ctx, "deployments/infra")
    assert read is not None and read.attributes == rt.desired_attributes(desired(tmp_path, spec))
    assert rt.read_many(ctx, ["deployments/infra", "deployments/nope"])[1] is None
    again = rt.predict(ctx, desired(tmp_path, spec), read)
    assert changes(again) == [("ignore", az.workspace), ("no_change", "stdata")]

    # a template change: predicted as a modify with the property path, before and after
    (tmp_path / "infra" / "main.parameters.json").write_text(
        json.dumps({"parameters": {"name": {"value": "stdata"}, "sku": {"value": "Standard_GRS"}}})
    )
    changed = rt.predict(ctx, desired(tmp_path, spec), read)
    assert changes(changed)[1] == ("modify", "stdata")
    assert changed is not None
    assert [(d.path, d.change, d.before, d.after) for d in changed[1].delta] == [
        ("sku.name", "modify", "Standard_LRS", "Standard_GRS")
    ]

    # a change made in the portal to what the template deployed: the same files now predict a modify
    (tmp_path / "infra" / "main.parameters.json").write_text(json.dumps({"parameters": {"name": {"value": "stdata"}}}))
    az.edit(storage, lambda b: b["properties"].update(minimumTlsVersion="TLS1_0"))
    drifted = rt.predict(ctx, desired(tmp_path, spec), read)
    assert drifted is not None and changes(drifted)[1] == ("modify", "stdata")
    assert [(d.path, d.before, d.after) for d in drifted[1].delta] == [
        ("properties.minimumTlsVersion", "TLS1_0", "TLS1_2")
    ]
    rt.update(ctx, desired(tmp_path, spec, "op2"), read)
    assert az.resource(storage)["properties"]["minimumTlsVersion"] == "TLS1_2"

    # the journalled token: polled and waited for by the next run
    progress = rt.poll(ctx, tokens[0])
    assert progress.done and progress.result is not None and progress.result.tags[TAG_OPERATION] == "op2"
    assert rt.wait(ctx, tokens[0]) is not None
    assert rt.find_owned(ctx, "infra", "op2") is not None and rt.find_owned(ctx, "infra", "op1") is None

    # delete: the deployment goes; the storage account stays, as the removal's prediction says
    current = rt.read(ctx, "deployments/infra")
    assert current is not None
    staying = rt.predict(ctx, None, current)
    assert changes(staying) == [("ignore", "stdata")] and staying is not None and "stays" in staying[0].note
    rt.delete(ctx, current)
    assert rt.read(ctx, "deployments/infra") is None
    assert az.resource(storage) is not None
    rt.delete(ctx, current)  # already gone: nothing to do
    assert rt.poll(ctx, tokens[0]).done and rt.poll(ctx, tokens[0]).result is None


def test_inline_parameters_compare_by_value_and_secure_ones_by_hash(
    tmp_path: Path, loopback_azure: LoopbackAzure
) -> None:
    az = loopback_azure
    (tmp_path / "main.json").write_text(json.dumps(TEMPLATE))
    ctx = context(tmp_path, az)
    rt = arm_type(ctx)
    password = "hunter2-not-in-tags"
    spec = {"template": "main.json", "parameters": {"name": "stinline", "adminPassword": password}, "mode": "Complete"}
    d = Desired("arm_deployment", "inline", spec, tmp_path, content={"template": "t"}, project="demo")
    made = rt.create(ctx, d)
    assert made.attributes == rt.desired_attributes(d)
    assert made.attributes["mode"] == "complete"
    assert made.attributes["parameters"]["name"] == "stinline"  # sku, at its default, is not compared
    assert set(made.attributes["parameters"]) == {"name", "adminPassword"}
    assert made.attributes["parameters"]["adminPassword"].startswith("scrypt:")
    stored = az.resource(
        f"/subscriptions/{az.subscription_id}/resourceGroups/{az.resource_group}"
        "/providers/Microsoft.Resources/deployments/inline"
    )
    assert stored is not None and password not in json.dumps(stored["tags"])
    assert password not in json.dumps([made.attributes, made.outputs, made.tags])
    other = Desired(
        "arm_deployment",
        "inline",
        {**spec, "parameters": {"name": "stinline", "adminPassword": "changed"}},
        tmp_path,
        content={"template": "t"},
        project="demo",
    )
    assert rt.diff(rt.desired_attributes(other), made.attributes).changed


def test_validate_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1]")
    rt = AzureProvider().resource_type("arm_deployment")
    assert rt is not None
    spec = {"template": "missing.json", "parameters": "bad.json", "mode": "Sometimes"}
    problems = rt.validate(Desired("arm_deployment", "x", spec, tmp_path))
    assert [(p.path, p.message) for p in problems] == [
        (("template",), "template: missing.json cannot be read"),
        (("parameters",), "parameters: bad.json is not a JSON object"),
        (("mode",), "mode: 'Sometimes' is not Incremental or Complete"),
    ]
