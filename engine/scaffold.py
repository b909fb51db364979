"""``mlplan init``: a project file to start from, the quickstart copied anywhere, the annotated example and
the JSON Schema of mlplan.yaml (all shipped with mlplan, so that an installed mlplan can show them)."""

from __future__ import annotations

import re
import shutil
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from mlplan.core.errors import UsageError
from mlplan.engine.config import PROJECT_FILE

MINIMAL = """\
# mlplan project file. `mlplan init --example` prints every setting, annotated.
project: {name}
# Which Azure ML CLI v2 YAML files are resources (default: every .yml/.yaml with an Azure ML $schema):
# resources: ["**/*.yml", "**/*.yaml"]
# `local` (the embedded provider: a workspace on disk) always exists; add your Azure ML targets:
# environments:
#   dev:
#     provider: azure
#     workspace: {{subscription_id: ..., resource_group: ..., workspace_name: ...}}
"""
_SKIP = re.compile(r"(^|/)(\.mlplan|__pycache__)(/|$)|\.pyc$|^__init__\.py$")


def project_name(root: Path) -> str:
    """A project name from a folder name: letters, digits and '-'."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", root.resolve().name).strip("-").lower()
    return name or "my-project"


def write_project(root: Path) -> Path:
    """Write a minimal mlplan.yaml in ``root``; refuse to overwrite one."""
    target = root / PROJECT_FILE
    if target.exists():
        raise UsageError(f"{target} exists already: mlplan init never overwrites it")
    root.mkdir(parents=True, exist_ok=True)
    target.write_text(MINIMAL.format(name=project_name(root)), encoding="utf-8")
    return target


def copy_quickstart(root: Path) -> list[str]:
    """Copy the quickstart project into ``root`` (which must hold none of its files); the files written."""
    source = resources.files("mlplan.examples").joinpath("quickstart")
    files = [(rel, item) for rel, item in _walk(source, "") if not _SKIP.search(rel)]
    clashes = [rel for rel, _ in files if (root / rel).exists()]
    if clashes:
        raise UsageError(
            f"{root} has files the quickstart would overwrite ({', '.join(clashes[:3])}): use an empty folder"
        )
    for rel, item in files:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with item.open("rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out)
    return sorted(rel for rel, _ in files)


def _walk(node: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for child in node.iterdir():
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out += _walk(child, rel + "/")
        else:
            out.append((rel, child))
    return out


def example() -> str:
    """The annotated example of mlplan.yaml: every setting, with what it does."""
    return resources.files("mlplan.engine").joinpath("schema/mlplan.example.yaml").read_text(encoding="utf-8")


def schema() -> str:
    """The JSON Schema of mlplan.yaml, for editors."""
    return resources.files("mlplan.engine").joinpath("schema/mlplan.schema.json").read_text(encoding="utf-8")
