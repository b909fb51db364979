"""The ``azure`` provider: Azure ML workspaces through azure-ai-ml and azure-mgmt-resource.

Every Azure SDK import happens inside this package, lazily, so that ``mlplan --help`` and the
local provider never pay for them. So far it holds the azure-ai-ml loader check of ``validate``.
"""
