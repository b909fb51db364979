"""The published JSON Schema of mlplan.yaml accepts the documented example and every example project."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "engine/schema/mlplan.schema.json").read_text())
PROJECT_FILES = [*sorted(REPO.glob("examples/*/mlplan.yaml")), REPO / "engine/schema/mlplan.example.yaml"]


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_documented_project_files_validate(path: Path) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(yaml.safe_load(path.read_text()))


def test_typos_are_rejected() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert list(validator.iter_errors({"project": "p", "enviroments": {}}))
    assert list(validator.iter_errors({"project": "p", "promotion": {"m": {"aplha": 0.05}}}))
    assert list(validator.iter_errors({"project": "p", "settings": {"model.m": {"lifecycle": {"ttl": "1 day"}}}}))
