"""Finding and loading the resource files: the ``resources:`` globs of mlplan.yaml (hidden files skipped),
each file's kind (from its ``$schema``, else its glob's ``kind``, else its ``type:`` when only one kind takes
that type), its name and address (the kind's facts
say how: named after its file, or after its parent), the local paths it names, duplicate addresses."""

from __future__ import annotations

import glob
import os
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from mlplan.core import kinds
from mlplan.core.errors import Diagnostic
from mlplan.engine import speccheck, variables
from mlplan.engine.address import Address
from mlplan.engine.config import PROJECT_FILE, ResourceSpec, get_dotted
from mlplan.engine.interpolate import Interpolator, line_for_path
from mlplan.engine.yamlio import LineDict, Lines, YamlError, load_plain

DEFAULT_GLOBS = ("**/*.yml", "**/*.yaml")


def resource_globs(body: LineDict) -> list[tuple[str, str | None, int | None]]:
    """(glob, kind it sets or None, its line in mlplan.yaml) for each entry of ``resources:``."""
    entries = body.get("resources")
    if entries is None:
        entries = list(DEFAULT_GLOBS)
    out: list[tuple[str, str | None, int | None]] = []
    for i, entry in enumerate(entries):
        line = line_for_path(body, ("resources", str(i)))
        if isinstance(entry, str):
            out.append((entry, None, line))
        else:
            out.append((str(entry["glob"]), entry.get("kind"), line))
    return out


def load_resources(
    root: Path, body: LineDict, interp: Interpolator, out: list[Diagnostic]
) -> dict[Address, ResourceSpec]:
    """Every resource file the globs match, loaded, by address."""
    resources: dict[Address, ResourceSpec] = {}
    seen_files: set[str] = set()
    root_text = str(root)
    folders: dict[str, Path] = {}  # one Path per folder, not per file: this loop runs once per file
    explicit = body.get("resources") is not None
    for pattern, glob_kind, glob_line in resource_globs(body):
        matches = sorted(glob.glob(pattern, root_dir=root, recursive=True))
        if not matches and explicit and not glob.has_magic(pattern):
            out.append(
                Diagnostic(
                    f"resource file {pattern!r} does not exist",
                    file=PROJECT_FILE,
                    line=glob_line,
                    hint="fix the path under resources:, relative to the project root",
                )
            )
        for rel in matches:
            # os.path, not Path.resolve: this loop runs once per file of a large project
            key = os.path.normpath(os.path.join(root_text, rel))
            if key in seen_files or os.path.basename(rel) == PROJECT_FILE or is_hidden(rel) or not os.path.isfile(key):
                continue
            seen_files.add(key)
            display = os.path.normpath(rel)
            folder = os.path.dirname(key)
            base_dir = folders.get(folder)
            if base_dir is None:
                base_dir = folders[folder] = Path(folder)
            spec = load_file(key, base_dir, display, glob_kind, interp, out, explicit)
            if spec is None:
                continue
            if spec.address in resources:
                other = resources[spec.address]
                out.append(
                    Diagnostic(
                        f"duplicate address {spec.address}: also defined in {other.file}:{other.line_of(('name',))}",
                        file=spec.file,
                        line=spec.line_of(("name",)),
                        address=str(spec.address),
                        hint="give one of them another name (names must be unique per kind)",
                    )
                )
                continue
            resources[spec.address] = spec
    return resources


def is_hidden(rel: str) -> bool:
    parts = rel.split(os.sep)
    return any(p.startswith(".") for p in parts) or "node_modules" in parts


def load_file(
    path: str,
    base_dir: Path,
    display: str,
    glob_kind: str | None,
    interp: Interpolator,
    out: list[Diagnostic],
    explicit: bool,
) -> ResourceSpec | None:
    """One resource file (``path``, in the folder ``base_dir``), interpolated; None (with the reason in
    ``out``) when it is not a valid resource.

    With the default globs (``explicit`` false), YAML files that are not resources are skipped silently.
    """
    try:
        raw = load_plain(path, display)
    except YamlError as exc:
        out.append(exc.diagnostic)
        return None
    lines = Lines(path, display)
    if not isinstance(raw, dict):
        if explicit:
            out.append(Diagnostic("a resource file must be a YAML mapping", file=display, line=1))
        return None

    schema_url = raw.get("$schema")
    kind: str | None = glob_kind
    subtype: str | None = None
    if isinstance(schema_url, str):
        found = kinds.kind_from_schema(schema_url)
        if found is None and glob_kind is None:
            out.append(
                Diagnostic(
                    f"unknown kind: $schema {schema_url!r} is not an Azure ML CLI v2 schema mlplan knows",
                    file=display,
                    line=lines.line(("$schema",)),
                    hint="use a schema from the table in README.md (e.g. .../latest/environment.schema.json),"
                    " or set `kind:` on the resources glob",
                )
            )
            return None
        if found is not None:
            kind, subtype = found
    if kind is None and schema_url is None and isinstance(raw.get("type"), str):
        # as `az ml job create` needs no $schema for `type: command`: the one kind that takes this type
        candidates = speccheck.kinds_for_type(raw["type"])
        if len(candidates) > 1:
            out.append(_ambiguous_type(raw["type"], candidates, display, lines))
            return None
        kind = candidates[0] if candidates else None
    if kind is None:
        if not explicit:
            return None  # default glob: ignore YAML files that are not resources (CI files, MLTable...)
        out.append(
            Diagnostic(
                "unknown kind: the file has no $schema and its resources glob sets no kind",
                file=display,
                line=1,
                hint="add `$schema: https://azuremlschemas.azureedge.net/latest/<kind>.schema.json`"
                " or write the glob as {glob: ..., kind: environment}",
            )
        )
        return None

    pending: list[Diagnostic] = []  # interpolation errors get the address once it is known

    def on_error(message: str, p: tuple[str, ...]) -> None:
        pending.append(Diagnostic(message, file=display, line=lines.line(p), hint=variables.hint(message)))

    spec = interp.value(raw, on_error)
    facts = kinds.facts(kind)
    name = resource_name(facts, spec, path)
    guess = f"{kind}.{name}" if name else None
    for d in pending:
        out.append(replace(d, address=guess))
    if name is None:
        out.append(Diagnostic(f"{kinds.a(kind)} needs a name", file=display, line=1, hint=_name_hint(facts)))
        return None
    try:
        address = Address.parse(f"{kind}.{name}")
    except ValueError:
        out.append(
            Diagnostic(
                f"invalid {kind} name {name!r}",
                file=display,
                line=lines.line(("name",)),
                hint="names start with a letter or digit and use letters, digits, '-', '_' and '.'",
            )
        )
        return None
    if subtype is None and isinstance(spec.get("type"), str):
        subtype = spec["type"].lower()

    res = ResourceSpec(
        address=address,
        spec=spec,
        file=display,
        line=1,
        base_dir=base_dir,
        subtype=subtype,
        lines=lines,
    )
    check_paths(res, facts, out)
    speccheck.check(res, out)
    return res


def _ambiguous_type(value: str, candidates: list[str], display: str, lines: Lines) -> Diagnostic:
    either = " or ".join(kinds.a(k) for k in candidates)
    return Diagnostic(
        f"unknown kind: a file with `type: {value}` and no $schema may be {either}",
        file=display,
        line=lines.line(("type",)),
        hint="add `$schema: https://azuremlschemas.azureedge.net/latest/<kind>.schema.json` or write the glob"
        f" as {{glob: ..., kind: {candidates[0]}}}",
    )


def resource_name(facts: kinds.KindFacts, spec: dict[str, Any], path: str | Path) -> str | None:
    """The address name: ``name:`` (``<parent>/<name>`` for a nested kind), else the file's stem for a kind
    named after its file; None when it has none."""
    name = spec.get("name")
    if not name:
        if not facts.name_from_file:
            return None
        stem = PurePath(path).stem
        for suffix in facts.file_stem_suffixes:
            stem = stem.removesuffix(suffix)
        return stem
    if facts.parent_field is not None:
        parent = spec.get(facts.parent_field)
        return f"{parent}/{name}" if parent else None
    return str(name)


def _name_hint(facts: kinds.KindFacts) -> str:
    hint = "add `name: <name>`"
    if facts.parent_field is not None:  # `endpoint_name: <endpoint>`
        hint += f" and `{facts.parent_field}: <{facts.parent_field.removesuffix('_name')}>`"
    return hint


def check_paths(res: ResourceSpec, facts: kinds.KindFacts, out: list[Diagnostic]) -> None:
    """A local path the spec names (the kind's path fields) must exist, relative to the resource file."""
    for dotted in facts.path_fields:
        value = get_dotted(res.spec, dotted)
        if not isinstance(value, str) or kinds.is_remote(value):
            continue
        if not os.path.exists(os.path.join(res.base_dir, value)):
            out.append(
                res.diag(
                    f"{dotted}: referenced file {value!r} does not exist",
                    tuple(dotted.split(".")),
                    hint=f"paths are relative to {res.file}; fix the path or create the file",
                )
            )
