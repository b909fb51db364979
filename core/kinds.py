"""Facts about Azure ML CLI v2 YAML that every provider shares: schema -> kind, and which fields are paths.

The kind of a resource file comes from its ``$schema`` URL (the file name, case-insensitive),
or, since ``$schema`` is optional for ``az ml``, from the ``kind`` of the ``resources`` glob.
"""

from __future__ import annotations

import re

# schema file stem (lower case) -> (address kind, Azure ML type implied by the schema or None)
SCHEMA_KINDS: dict[str, tuple[str, str | None]] = {
    "data": ("data", None),
    "mltable": ("data", "mltable"),
    "environment": ("environment", None),
    "model": ("model", None),
    "amlcompute": ("compute", "amlcompute"),
    "computeinstance": ("compute", "computeinstance"),
    "kubernetescompute": ("compute", "kubernetes"),
    "attachedcompute": ("compute", "virtualmachine"),
    "vmcompute": ("compute", "virtualmachine"),
    "synapsesparkcompute": ("compute", "synapsespark"),
    "serverlesscompute": ("compute", "serverless"),
    "managedonlineendpoint": ("online_endpoint", "managed"),
    "kubernetesonlineendpoint": ("online_endpoint", "kubernetes"),
    "managedonlinedeployment": ("online_deployment", "managed"),
    "kubernetesonlinedeployment": ("online_deployment", "kubernetes"),
    "commandjob": ("job", "command"),
    "pipelinejob": ("job", "pipeline"),
    "sweepjob": ("job", "sweep"),
    "sparkjob": ("job", "spark"),
    "automl.classificationjob": ("job", "automl"),
    "deploymenttemplate": ("arm_deployment", None),
}

_SCHEMA_STEM = re.compile(r"/([A-Za-z0-9_.]+?)(?:\.schema)?\.json#?$")


def kind_from_schema(url: str) -> tuple[str, str | None] | None:
    """Map a ``$schema`` URL to (kind, type); None when the schema is not one mlplan knows."""
    match = _SCHEMA_STEM.search(url.strip())
    if not match:
        return None
    return SCHEMA_KINDS.get(match.group(1).lower())


# Fields that hold local paths whose content is part of the resource (hashed for change detection).
# Dotted paths; resolved relative to the resource file like azure-ai-ml does.
PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "data": ("path",),
    "model": ("path",),
    "environment": ("conda_file", "build.path"),
    "job": ("code", "environment.conda_file", "environment.build.path"),
    "online_deployment": ("code_configuration.code", "environment.conda_file", "environment.build.path"),
    "online_endpoint": (),
    "compute": (),
    "arm_deployment": ("template", "parameters"),
}

REMOTE_PREFIXES = (
    "azureml:",
    "azureml://",
    "https://",
    "http://",
    "wasbs://",
    "wasb://",
    "abfss://",
    "adl://",
)


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE_PREFIXES)


# Kinds whose versions are immutable (Azure ML assets): a content change makes a new version.
VERSIONED_KINDS = frozenset({"data", "environment", "model"})
