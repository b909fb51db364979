"""Generate engine/schema/azureml/*.json, the rules `mlplan plan` checks resource files against, from
azure-ai-ml's own marshmallow schemas (the ones `az ml <kind> create -f` loads a file with).

Run it (through scripts/gen-azureml-rules) whenever azure-ai-ml's pin in constraints.txt changes, and
commit the result: plan reads the JSON files and never imports azure-ai-ml (it takes seconds to import).
tests/unit/test_azureml_rules.py fails when the committed files differ from what this script makes
from the installed azure-ai-ml.

index.json says which schema azure-ai-ml's loader picks for a file of each kind (by `type`, `task`,
`compute`). Each other file is one such schema, named after the `$schema` stem of its files:
{"root": <def>, "defs": {name: def}, "names": {field: the name rule Azure enforces}, ...}.
A def is a marshmallow schema: {"fields": {yaml key: node}, "required": [...], "ignored": [...], ...}.
A node is one field: {"t": "str" | "int" | "float" | "number" | "bool" | "enum" | "ref" | "binding" |
"version" | "list" | "dict" | "obj" | "union" | "any", ...}. What a field class does that cannot be told
without running it (a custom `_deserialize`, a file it reads, a `validates` hook) becomes "any", or is left
to `mlplan validate`, which runs the real loaders.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Kinds whose files are not Azure ML entities (mlplan's own ARM template deployments): no rules.
NOT_AZURE_ML = frozenset({"arm_deployment"})
OUT = REPO / "engine" / "schema" / "azureml"
FORMAT = 1

# Rule file -> the schema azure-ai-ml's loader uses (entities/*: `_load_from_dict`). Files are named after
# the `$schema` stem of such a file.
SCHEMAS = {
    "amlcompute": "azure.ai.ml._schema.compute.aml_compute:AmlComputeSchema",
    "computeinstance": "azure.ai.ml._schema.compute.compute_instance:ComputeInstanceSchema",
    "kubernetescompute": "azure.ai.ml._schema.compute.kubernetes_compute:KubernetesComputeSchema",
    "vmcompute": "azure.ai.ml._schema.compute.virtual_machine_compute:VirtualMachineComputeSchema",
    "synapsesparkcompute": "azure.ai.ml._schema.compute.synapsespark_compute:SynapseSparkComputeSchema",
    "data": "azure.ai.ml._schema.assets.data:DataSchema",
    "environment": "azure.ai.ml._schema.assets.environment:EnvironmentSchema",
    "model": "azure.ai.ml._schema.assets.model:ModelSchema",
    "commandjob": "azure.ai.ml._schema.job.command_job:CommandJobSchema",
    "pipelinejob": "azure.ai.ml._schema.pipeline.pipeline_job:PipelineJobSchema",
    "sweepjob": "azure.ai.ml._schema._sweep.sweep_job:SweepJobSchema",
    "sparkjob": "azure.ai.ml._schema.job.spark_job:SparkJobSchema",
    "automl.classificationjob": "azure.ai.ml._schema.automl.table_vertical.classification:AutoMLClassificationSchema",
    "managedonlineendpoint": "azure.ai.ml._schema._endpoint.online.online_endpoint:ManagedOnlineEndpointSchema",
    "kubernetesonlineendpoint": "azure.ai.ml._schema._endpoint.online.online_endpoint:KubernetesOnlineEndpointSchema",
    "managedonlinedeployment": "azure.ai.ml._schema._deployment.online.online_deployment:ManagedOnlineDeploymentSchema",
    "kubernetesonlinedeployment": (
        "azure.ai.ml._schema._deployment.online.online_deployment:KubernetesOnlineDeploymentSchema"
    ),
}


def dispatch() -> dict[str, Any]:
    """How azure-ai-ml's load_<kind> picks the schema of a file (as `az ml <kind> create -f` does; `$schema`
    plays no part): by a field of the file. A step is {"by": field, "case": how its value is compared, "to":
    {value: rule file, or null for a type azure-ai-ml loads but mlplan has no rules for, or another step},
    "default": the value when the field is absent, "else": the rule file for any other value}."""
    from azure.ai.ml.constants import JobType
    from azure.ai.ml.constants._compute import ComputeType
    from azure.ai.ml.entities._job.automl.automl_job import AutoMLJob

    automl = {t: None for t in AutoMLJob._get_task_mapping()}
    automl["classification"] = "automl.classificationjob"
    return {
        # entities/_compute/compute.py Compute._load: type.lower(), no default
        "compute": {
            "by": "type",
            "case": "lower",
            "to": {
                ComputeType.AMLCOMPUTE: "amlcompute",
                ComputeType.COMPUTEINSTANCE: "computeinstance",
                ComputeType.KUBERNETES: "kubernetescompute",
                ComputeType.VIRTUALMACHINE: "vmcompute",
                ComputeType.SYNAPSESPARK: "synapsesparkcompute",
            },
        },
        "data": {"to": "data"},
        "environment": {"to": "environment"},
        "model": {"to": "model"},
        # entities/_job/job.py Job._resolve_cls_and_type: exact type, command by default;
        # AutoMLJob._load_from_dict: by task
        "job": {
            "by": "type",
            "case": "exact",
            "default": JobType.COMMAND,
            "to": {
                JobType.COMMAND: "commandjob",
                JobType.SPARK: "sparkjob",
                JobType.IMPORT: None,
                JobType.SWEEP: "sweepjob",
                JobType.AUTOML: {"by": "task", "case": "exact", "to": automl},
                JobType.PIPELINE: "pipelinejob",
                JobType.FINE_TUNING: None,
                JobType.DISTILLATION: None,
            },
        },
        # entities/_endpoint/online_endpoint.py OnlineEndpoint._load: Kubernetes when `compute` is set
        "online_endpoint": {"by": "compute", "if_set": "kubernetesonlineendpoint", "else": "managedonlineendpoint"},
        # entities/_deployment/online_deployment.py OnlineDeployment._load: `type: kubernetes`, else managed
        "online_deployment": {
            "by": "type",
            "case": "exact",
            "to": {"kubernetes": "kubernetesonlinedeployment"},
            "else": "managedonlinedeployment",
        },
    }


# Names as Azure enforces them, per stem, with where each rule comes from. Online endpoints and deployments:
# azure-ai-ml's own check (entities/_endpoint/_endpoint_helpers.validate_endpoint_or_deployment_name), read
# from azure-ai-ml below. Computes: Azure's naming rules (learn.microsoft.com, azure-resource-manager
# "resource-name-rules", Microsoft.MachineLearningServices: workspaces/computes 3-24 characters for a
# compute instance, 3-32 for AML compute, 2-16 for other compute types, alphanumerics and hyphens) and the
# Azure ML "create compute cluster / instance" pages (start with a letter; a '-' must be followed by at
# least one letter later in the name). Assets: the REST API (2024-04-01 mfe.json, the `name` path
# parameter of *Containers_CreateOrUpdate / *Versions_CreateOrUpdate): ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$.
_COMPUTE_CHARS = r"^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z])?[a-zA-Z0-9]*$"
_COMPUTE_SAYS = "a letter first, then letters, digits and '-', with a letter somewhere after the last '-'"
_OTHER_COMPUTE = {
    "min": 2,
    "max": 16,
    "pattern": r"^[a-zA-Z][a-zA-Z0-9-]*$",
    "says": "2-16 characters: a letter first, then letters, digits and '-'",
}
_ASSET = {
    "min": 1,
    "max": 255,
    "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$",
    "says": "1-255 characters: a letter or digit first, then letters, digits, '-' and '_' (no '.')",
}
NAME_RULES: dict[str, dict[str, Any]] = {
    "amlcompute": {"min": 3, "max": 32, "pattern": _COMPUTE_CHARS, "says": f"3-32 characters: {_COMPUTE_SAYS}"},
    "computeinstance": {"min": 3, "max": 24, "pattern": _COMPUTE_CHARS, "says": f"3-24 characters: {_COMPUTE_SAYS}"},
    "kubernetescompute": _OTHER_COMPUTE,
    "vmcompute": _OTHER_COMPUTE,
    "synapsesparkcompute": _OTHER_COMPUTE,
    "data": _ASSET,
    "environment": _ASSET,
    "model": _ASSET,
}
# the spec fields a name rule applies to, per stem (a deployment names its endpoint too)
NAME_FIELDS = {
    "managedonlinedeployment": ("name", "endpoint_name"),
    "kubernetesonlinedeployment": ("name", "endpoint_name"),
}

# What each pre_load hook azure-ai-ml's schemas run does to the keys it is given. A hook not listed here
# stops the script: look at it and say what it does, or the rules could refuse what azure-ai-ml accepts.
PRE_LOAD_HOOKS: dict[str, dict[str, Any]] = {
    "PathAwareSchema.add_param_overrides": {},  # `--set` overrides: none from a file
    "PathAwareSchema.trim_dump_only": {"trims_dump_only": True},  # read-only keys are dropped, not refused
    "YamlFileSchema.load_from_file": {"file_ok": True},  # `file:<path>` loads the mapping from that file
    "AnonymousAssetSchema.warn_if_named": {"drops": ["name", "version"]},  # dropped with a warning
    "AnonymousEnvironmentSchema.trim_dump_only": {"drops": ["name", "version"], "trims_dump_only": True},
    "_BaseEnvironmentSchema.pre_load": {},  # refuses `channels` / `dependencies`, unknown keys anyway
    "ResourceSettingsSchema.conversion": {"aliases": {"nvidia.com/gpu": "gpu"}},
    "ParameterizedSparkSchema.map_conf_field_names": {},  # renames inside `conf`, a free mapping
    "PipelineJobSchema.check_exclusive_fields": {},  # `jobs` and `component` together: left to the loader
    "ComponentSchema.convert_version_to_str": {},  # a number `version` becomes a string
    # sweep distributions written as strings, inside pipelines only
    "ImageModelDistributionSettingsClassificationSchema.before_make": {},
    "ImageModelDistributionSettingsDetectionCommonSchema.before_make": {},
    "NlpParameterSubspaceSchema.before_make": {},
}


class Generator:
    """Walks marshmallow schemas once each and writes them as rule nodes."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self.names: dict[Any, str] = {}  # (schema class, only, exclude) -> def name

    # -- schemas -------------------------------------------------------------------------------
    def schema(self, cls: type, only: Any = None, exclude: Any = ()) -> str:
        """The def name of a schema class (written on first use; recursion-safe)."""
        key = (cls, tuple(sorted(only)) if only else None, tuple(sorted(exclude or ())))
        if key in self.names:
            return self.names[key]
        name = cls.__name__
        taken = set(self.names.values())
        n = 2
        while name in taken:
            name = f"{cls.__name__}_{n}"
            n += 1
        self.names[key] = name
        self.defs[name] = {}  # placeholder while its fields are walked (a schema may nest itself)
        self.defs[name] = self._schema_def(cls, only, exclude)
        return name

    def _schema_def(self, cls: type, only: Any, exclude: Any) -> dict[str, Any]:
        effects = self._hook_effects(cls)
        out: dict[str, Any] = {"schema": cls.__name__}
        fields_: dict[str, Any] = {}
        required: list[str] = []
        ignored: list[str] = []
        for attr, f in cls._declared_fields.items():
            if (only and attr not in only) or attr in (exclude or ()):
                continue
            key = f.data_key or attr
            if f.dump_only:
                # PathAwareSchema.trim_dump_only drops them; elsewhere marshmallow refuses them as unknown
                if effects.get("trims_dump_only"):
                    ignored.append(key)
                continue
            fields_[key] = self.field(f)
            if f.required:
                required.append(key)
        for key in effects.get("drops", ()):
            if key not in fields_:
                ignored.append(key)
        out["fields"] = fields_
        if required:
            out["required"] = required
        if ignored:
            out["ignored"] = sorted(set(ignored))
        if effects.get("aliases"):
            out["aliases"] = effects["aliases"]
        if effects.get("file_ok"):
            out["file_ok"] = True
        return out

    def _hook_effects(self, cls: type) -> dict[str, Any]:
        effects: dict[str, Any] = {}
        for attr, _many, _kwargs in cls._hooks.get("pre_load", ()):
            qualname = getattr(cls, attr).__qualname__
            if qualname not in PRE_LOAD_HOOKS:
                raise SystemExit(
                    f"{cls.__module__}.{cls.__name__} has a pre_load hook {qualname} that scripts/azureml_rules.py"
                    " does not know: read it and add what it does to the keys to PRE_LOAD_HOOKS"
                )
            for k, v in PRE_LOAD_HOOKS[qualname].items():
                if k == "drops":
                    effects["drops"] = sorted({*effects.get("drops", ()), *v})
                elif k == "aliases":
                    effects["aliases"] = {**effects.get("aliases", {}), **v}
                else:
                    effects[k] = v
        return effects

    def _unknown(self, policy: str | None, cls: type) -> str:
        return str(policy or cls.opts.unknown)

    # -- fields --------------------------------------------------------------------------------
    def field(self, f: Any) -> Any:
        node = self._field(f)
        for v in getattr(f, "validators", ()):
            node = self._validator(node, v)
        return node

    def _field(self, f: Any) -> Any:
        from azure.ai.ml._schema.core import fields as az
        from marshmallow import fields

        t = type(f)
        if t in (az.NestedField, fields.Nested):
            return self._nested(f)
        if t is az.ExperimentalField:
            return self.field(f.experimental_field)
        if t in (az.UnionField, az.TypeSensitiveUnionField):
            alts = [self.field(u) for u in f._union_fields]
            if t is az.TypeSensitiveUnionField and f._allow_load_from_yaml:
                alts.append({"t": "str"})  # a path to a YAML file of the mapping
            return union(alts)
        if t in (az.StringTransformedEnum, az.DumpableEnumField):
            return {"t": "enum", "values": list(f.allowed_values), "case": casing(f.casing_transform)}
        if t in (az.ArmStr, az.ArmVersionedStr):
            node: dict[str, Any] = {"t": "ref", "asset": f.azureml_type or "asset"}
            if t is az.ArmVersionedStr:
                node["versioned"] = True
                if f.allow_default_version:
                    node["default_version"] = True
            return node
        if t is az.RegistryStr:
            return {"t": "str", "prefix": ["azureml://registries/"], "says": "a registry path azureml://registries/..."}
        if t is az.InternalRegistryStr:
            return {"t": "str", "prefix": ["azureml://feeds/", "azureml://registries/"], "says": "a registry path"}
        if t is az.GitStr:
            return {"t": "str", "prefix": ["git+"], "says": "a git+ URL"}
        if t in (az.DataBindingStr, az.NodeBindingStr):
            return {"t": "binding"}
        if t in (az.VersionField, az.NumberVersionField):
            return {"t": "version"}
        if t in (az.DumpableIntegerField, fields.Integer):
            return {"t": "int", "strict": bool(f.strict)}
        if t is az.DumpableFloatField:
            return {"t": "float", "strict": bool(f.strict)}
        if t is fields.Float:
            return {"t": "float"}
        if t in (fields.Number, fields.Decimal):
            return {"t": "number"}
        if t is fields.Boolean:
            node = {"t": "bool"}
            if f.truthy != fields.Boolean.truthy or f.falsy != fields.Boolean.falsy:
                node["truthy"], node["falsy"] = sorted(map(str, f.truthy)), sorted(map(str, f.falsy))
            return node
        if t in (
            fields.String,
            fields.Url,
            fields.Email,
            fields.UUID,
            az.LocalPathField,
            az.SerializeValidatedUrl,
            az.DateTimeStr,
            az.DumpableStringField,
            az.FileRefField,
        ):
            return {"t": "str"}
        if t in (fields.Dict, fields.Mapping):
            node = {"t": "dict"}
            if f.key_field is not None:
                node["keys"] = self.field(f.key_field)
            if f.value_field is not None:
                node["values"] = self.field(f.value_field)
            return simplify(node)
        if t is fields.List:
            return {"t": "list", "of": self.field(f.inner)}
        if t in (fields.Raw, fields.Field):
            return "any"
        return self._unknown_field(f)

    def _unknown_field(self, f: Any) -> Any:
        """A field class without a branch above: if it only narrows a known class (no class between them has a
        `_deserialize` or `_validate` of its own), the known class's rule; else it does something only running it
        can tell: anything."""
        from marshmallow import fields

        known = (fields.String, fields.Integer, fields.Float, fields.Boolean, fields.Dict, fields.List)
        for cls in type(f).__mro__:
            if cls in known:
                probe = cls.__new__(cls)
                probe.__dict__.update(f.__dict__)
                return self._field(probe)
            if cls is fields.Field or any(m in vars(cls) for m in ("_deserialize", "_validated", "_validate")):
                break
        return "any"

    def _nested(self, f: Any) -> Any:
        nested = f.nested
        if callable(nested) and not isinstance(nested, type):
            nested = nested()
        if isinstance(nested, str):
            from marshmallow import class_registry

            nested = class_registry.get_class(nested)
        cls = nested if isinstance(nested, type) else type(nested)
        name = self.schema(cls, f.only, f.exclude)
        node: dict[str, Any] = {"t": "obj", "ref": name, "unknown": self._unknown(f.unknown, cls)}
        return {"t": "list", "of": node} if f.many else node

    def _validator(self, node: Any, v: Any) -> Any:
        from marshmallow import validate

        if not isinstance(node, dict) or node.get("t") not in ("str", "int", "float", "number"):
            return node
        if isinstance(v, validate.Regexp):
            return {**node, "pattern": v.regex.pattern}
        if isinstance(v, validate.OneOf):
            return {"t": "enum", "values": list(v.choices), "case": "exact"}
        if isinstance(v, validate.Length):
            return {**node, "min_len": v.min, "max_len": v.max}
        if isinstance(v, validate.Range):
            return {**node, "min": v.min, "max": v.max}
        return node  # URL and other validators: what they accept is left to the loader


def union(alts: list[Any]) -> Any:
    """One node for "any of these": duplicates dropped, nested unions flattened, "any" absorbs the rest."""
    flat: list[Any] = []
    for a in alts:
        for b in a["of"] if isinstance(a, dict) and a.get("t") == "union" else [a]:
            if b == "any":
                return "any"
            if b not in flat:
                flat.append(b)
    if {"t": "str"} in flat:  # any string is fine: the other string-only alternatives add nothing
        flat = [b for b in flat if b == {"t": "str"} or b["t"] not in ("str", "ref", "binding", "enum")]
    return flat[0] if len(flat) == 1 else {"t": "union", "of": flat}


def simplify(node: dict[str, Any]) -> Any:
    if node.get("keys") in ({"t": "str"}, "any"):
        node.pop("keys")  # YAML keys are strings
    if node.get("values") == "any":
        node.pop("values")
    return node


def casing(transform: Callable[[str], Any]) -> str:
    """Name azure-ai-ml's casing transform (what a value is turned into before it is compared)."""
    from azure.ai.ml._utils import utils

    known = {"exact": lambda x: x, "lower": str.lower, "upper": str.upper}
    for name in ("camel_to_snake", "snake_to_camel", "snake_to_pascal"):
        known[name] = getattr(utils, name)
    probes = ["UserAssigned", "user_assigned", "Low_Priority", "abc,DefG", "x"]
    for name, fn in known.items():
        if transform is fn or all(transform(p) == fn(p) for p in probes):
            return name
    raise SystemExit(f"unknown casing transform {transform!r}: teach scripts/azureml_rules.py and engine/speccheck.py")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """azure-ai-ml prints notices on import (experimental classes): keep the output to what this script says."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def endpoint_name_rule() -> dict[str, Any]:
    from azure.ai.ml.constants._endpoint import EndpointConfigurations as ec

    return {
        "min": ec.MIN_NAME_LENGTH,
        "max": ec.MAX_NAME_LENGTH,
        "pattern": ec.NAME_REGEX_PATTERN,
        "says": f"{ec.MIN_NAME_LENGTH}-{ec.MAX_NAME_LENGTH} characters: a letter first, then letters, digits and"
        " '-' (no '_'), not ending in '-'",
    }


def targets(step: Any) -> Iterator[str]:
    """The rule files a dispatch step can lead to."""
    if isinstance(step, str):
        yield step
    elif isinstance(step, dict):
        for key in ("to", "if_set", "else"):
            value = step.get(key)
            for target in value.values() if isinstance(value, dict) and key == "to" else [value]:
                yield from targets(target)


def kinds_by_type(index: dict[str, Any], type_values: dict[str, list[str]]) -> dict[str, list[str]]:
    """`type:` value (lower case) -> the kinds whose files take it: what a file without `$schema` is, when
    only one kind takes its type (`type: command` is a job; `kubernetes` is a compute or a deployment).
    From the root schemas' `type` enums and the values the loaders dispatch on (a job `type: import`)."""
    out: dict[str, set[str]] = {}
    for kind, step in index.items():
        values = {v for stem in targets(step) for v in type_values.get(stem, [])}
        if isinstance(step, dict) and step.get("by") == "type":
            values |= set(step["to"])
        for value in values:
            out.setdefault(str(value).lower(), set()).add(kind)
    return {value: sorted(found) for value, found in sorted(out.items())}


def generate() -> dict[str, str]:
    """File name -> content of every rules file (and index.json), from the installed azure-ai-ml."""
    from marshmallow import fields

    with quiet():
        from mlplan.core import kinds

        version = metadata.version("azure-ai-ml")
        index = dispatch()
        unrouted = {f.kind for f in kinds.REGISTRY.values() if f.schemas} - set(index) - NOT_AZURE_ML
        if unrouted:
            raise SystemExit(f"kind(s) {sorted(unrouted)} have $schema stems but no dispatch: add them to dispatch()")
        used = {t for step in index.values() for t in targets(step)}
        if used != set(SCHEMAS):
            raise SystemExit(f"dispatch() and SCHEMAS disagree: {sorted(used ^ set(SCHEMAS))}")
        endpoint = endpoint_name_rule()
        names = {**NAME_RULES}
        for stem in ("managedonlineendpoint", "kubernetesonlineendpoint"):
            names[stem] = endpoint
        for stem in ("managedonlinedeployment", "kubernetesonlinedeployment"):
            names[stem] = endpoint
        files: dict[str, str] = {}
        header = {"generated_by": "scripts/gen-azureml-rules", "format": FORMAT, "azure_ai_ml": version}
        type_values: dict[str, list[str]] = {}
        for stem, target in sorted(SCHEMAS.items()):
            module, cls_name = target.split(":")
            cls = getattr(importlib.import_module(module), cls_name)
            gen = Generator()
            root = gen.schema(cls)
            type_node = gen.defs[root]["fields"].get("type", {})
            type_values[stem] = type_node.get("values", []) if type_node.get("t") == "enum" else []
            doc: dict[str, Any] = {
                **header,
                "stem": stem,
                "schema": f"{module}.{cls_name}",
                "root": root,
                "unknown": gen._unknown(None, cls),
                "booleans": {
                    "truthy": sorted(fields.Boolean.truthy, key=repr),
                    "falsy": sorted(fields.Boolean.falsy, key=repr),
                },
                "defs": gen.defs,
            }
            if stem in names:
                doc["names"] = {f: names[stem] for f in NAME_FIELDS.get(stem, ("name",))}
            files[f"{stem}.json"] = dump(doc)
        files["index.json"] = dump({**header, "dispatch": index, "kinds_by_type": kinds_by_type(index, type_values)})
    return files


def dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are not up to date")
    args = parser.parse_args()
    files = generate()
    stale = sorted(
        name for name, text in files.items() if not (OUT / name).is_file() or (OUT / name).read_text() != text
    )
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files) if OUT.is_dir() else []
    if args.check:
        if stale or extra:
            print(f"out of date: {', '.join(stale + extra)}; run scripts/gen-azureml-rules")
            raise SystemExit(1)
        print(f"{len(files)} rule files are up to date")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (OUT / name).unlink()
    for name in stale:
        (OUT / name).write_text(files[name])
    where = OUT.relative_to(REPO)
    print(f"wrote {len(stale)} of {len(files)} rule files in {where} (azure-ai-ml {metadata.version('azure-ai-ml')})")


if __name__ == "__main__":
    main()
