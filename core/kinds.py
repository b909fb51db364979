"""Facts about the resource kinds mlplan manages, in one registry that config, addresses, desired objects,
the engine's node kinds, providers and the test fakes all read.

The kind of a resource file comes from its ``$schema`` URL (the file name, case-insensitive),
or, since ``$schema`` is optional for ``az ml``, from the ``kind`` of the ``resources`` glob.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class KindFacts:
    """What mlplan knows of one address kind, whatever the provider."""

    kind: str
    # How the engine plans and applies it: the name of an engine node kind (engine/nodes/):
    # "resource" (a plain resource), "asset" (immutable versions), "run" (each execution a new record),
    # "setting" (a setting of another resource, such as an endpoint's traffic split).
    node: str
    # `$schema` file stems (lower case) of Azure ML CLI v2 files of this kind -> the Azure ML type they imply
    schemas: tuple[tuple[str, str | None], ...] = ()
    # dotted spec fields that name local content (hashed for change detection, uploaded by providers);
    # resolved relative to the resource file like azure-ai-ml does
    path_fields: tuple[str, ...] = ()
    versioned: bool = False  # immutable versions: a content change makes a new version
    # The address name is `<parent name>/<name>`, the parent's name taken from this spec field
    # (a deployment is named after its endpoint).
    parent: str | None = None
    parent_field: str | None = None
    # With no `name:`, the resource is named after its file (a job, an ARM template).
    name_from_file: bool = False
    # Suffixes dropped, in this order, from the file's stem when naming a resource after its file
    # (`main.template.yml` is the ARM template `main`).
    file_stem_suffixes: tuple[str, ...] = ()
    # Counts towards the inputs of a run that depends on it (a new data version retrains; a bigger
    # compute cluster does not).
    run_input: bool = False
    # Only ever derived from another resource's file (an endpoint's `traffic:`), never a file of its own.
    derived: bool = False
    # What messages call one ("a data asset", "an online endpoint"); default: the kind, `_` as a space.
    noun: str = ""
    # Lives in mlplan's state only (a promotion's champion and last evaluation): the engine, not a provider,
    # has its resource type, and refresh reads nothing for it.
    state_only: bool = False


REGISTRY: dict[str, KindFacts] = {
    f.kind: f
    for f in (
        KindFacts(
            "compute",
            "resource",
            schemas=(
                ("amlcompute", "amlcompute"),
                ("computeinstance", "computeinstance"),
                ("kubernetescompute", "kubernetes"),
                ("attachedcompute", "virtualmachine"),
                ("vmcompute", "virtualmachine"),
                ("synapsesparkcompute", "synapsespark"),
                ("serverlesscompute", "serverless"),
            ),
        ),
        KindFacts(
            "data",
            "asset",
            schemas=(("data", None), ("mltable", "mltable")),
            path_fields=("path",),
            versioned=True,
            run_input=True,
            noun="data asset",
        ),
        KindFacts(
            "environment",
            "asset",
            schemas=(("environment", None),),
            path_fields=("conda_file", "build.path"),
            versioned=True,
            run_input=True,
        ),
        KindFacts("model", "asset", schemas=(("model", None),), path_fields=("path",), versioned=True, run_input=True),
        KindFacts(
            "job",
            "run",
            schemas=(
                ("commandjob", "command"),
                ("pipelinejob", "pipeline"),
                ("sweepjob", "sweep"),
                ("sparkjob", "spark"),
                ("automl.classificationjob", "automl"),
            ),
            path_fields=("code", "environment.conda_file", "environment.build.path"),
            name_from_file=True,
            run_input=True,
        ),
        KindFacts(
            "online_endpoint",
            "resource",
            schemas=(("managedonlineendpoint", "managed"), ("kubernetesonlineendpoint", "kubernetes")),
        ),
        KindFacts(
            "online_deployment",
            "resource",
            schemas=(("managedonlinedeployment", "managed"), ("kubernetesonlinedeployment", "kubernetes")),
            path_fields=("code_configuration.code", "model.path", "environment.conda_file", "environment.build.path"),
            parent="online_endpoint",
            parent_field="endpoint_name",
        ),
        # an endpoint's traffic split: its own step, after the deployments it names
        KindFacts("traffic", "setting", derived=True, noun="traffic split"),
        # a model's promotion policy (mlplan.yaml `promotion:`): evaluates a new version against the champion
        # through a temporary deployment (`challenger`, a copy of the deployment that serves the model)
        KindFacts(
            "promotion",
            "promotion",
            path_fields=(
                "challenger.code_configuration.code",
                "challenger.model.path",
                "challenger.environment.conda_file",
                "challenger.environment.build.path",
            ),
            derived=True,
            state_only=True,
        ),
        KindFacts(
            "arm_deployment",
            "resource",
            schemas=(("deploymenttemplate", None),),
            path_fields=("template", "parameters"),
            name_from_file=True,
            file_stem_suffixes=(".template", ".parameters"),
            noun="ARM deployment",
        ),
    )
}

KINDS: tuple[str, ...] = tuple(REGISTRY)


def facts(kind: str) -> KindFacts:
    """The facts of ``kind``; KeyError for a kind mlplan does not know."""
    return REGISTRY[kind]


def noun(kind: str) -> str:
    """What messages call a resource of ``kind``: ``data asset``, ``online endpoint``."""
    found = REGISTRY.get(kind)
    return (found.noun if found is not None else "") or kind.replace("_", " ")


def a(kind: str) -> str:
    """``noun`` with its article: ``a data asset``, ``an environment``, ``an online endpoint``."""
    word = noun(kind)
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


# schema file stem (lower case) -> (address kind, Azure ML type implied by the schema or None)
SCHEMA_KINDS: dict[str, tuple[str, str | None]] = {
    stem: (f.kind, subtype) for f in REGISTRY.values() for stem, subtype in f.schemas
}

_SCHEMA_STEM = re.compile(r"/([A-Za-z0-9_.]+?)(?:\.schema)?\.json#?$")


@functools.lru_cache(maxsize=256)  # a project names a few schemas in thousands of files
def kind_from_schema(url: str) -> tuple[str, str | None] | None:
    """Map a ``$schema`` URL to (kind, type); None when the schema is not one mlplan knows."""
    match = _SCHEMA_STEM.search(url.strip())
    if not match:
        return None
    return SCHEMA_KINDS.get(match.group(1).lower())


# A job input's or output's `type:` -> the kind of asset it reads or registers.
TYPE_KINDS = {
    "custom_model": "model",
    "mlflow_model": "model",
    "triton_model": "model",
    "uri_folder": "data",
    "uri_file": "data",
    "mltable": "data",
}

# Fields that hold local paths whose content is part of the resource, per kind.
PATH_FIELDS: dict[str, tuple[str, ...]] = {f.kind: f.path_fields for f in REGISTRY.values()}

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
VERSIONED_KINDS = frozenset(f.kind for f in REGISTRY.values() if f.versioned)
