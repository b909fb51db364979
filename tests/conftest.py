"""Shared fixtures: project builders and a runner for the installed ``mlplan`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# the loopback Azure's fixtures (loopback_azure, azurite, loopback_azure_storage): see tests/loopback_azure
pytest_plugins = ["tests.loopback_azure.fixtures"]

REPO = Path(__file__).resolve().parent.parent
MLPLAN = shutil.which("mlplan", path=str(Path(sys.executable).parent)) or "mlplan"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_mlplan(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input_text: str | None = None,
) -> Result:
    """Run the installed ``mlplan`` console script, as a user would."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MLPLAN_ENV", None) if env is None or "MLPLAN_ENV" not in env else None
    proc = subprocess.run(
        [MLPLAN, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture
def project(tmp_path: Path):
    """A small valid project: data, environment, model, compute."""
    root = tmp_path / "proj"
    write(
        root,
        {
            "mlplan.yaml": """
            project: demo
            resources: ["res/*.yml"]
            variables:
              slots: {default: 2, type: number}
            """,
            "res/data.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
            name: iris
            type: uri_file
            path: ../files/iris.csv
            """,
            "res/env.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
            name: sk
            version: "1"
            image: python:3.11
            conda_file: ../files/conda.yml
            """,
            "res/model.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
            name: clf
            path: ../files/model
            """,
            "res/compute.yml": """
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu
            type: amlcompute
            max_instances: ${var.slots}
            """,
            "files/iris.csv": "a,b\n1,2\n",
            "files/conda.yml": "name: sk\ndependencies: [python=3.11]\n",
            "files/model/w.txt": "weights\n",
        },
    )
    return root


FULL_KEYS = REPO / "tests" / "fixtures" / "full_keys"
# The resource files of tests/fixtures/full_keys that the local provider supports (not compute_instance.yml).
FULL_KEYS_LOCAL = [
    "data_mltable.yml",
    "data_noversion.yml",
    "data_uri_file.yml",
    "data_uri_folder.yml",
    "environment_build.yml",
    "environment_image_conda.yml",
    "model_custom.yml",
    "model_mlflow.yml",
    "model_noversion.yml",
    "compute_amlcompute.yml",
]


def copy_full_keys(dest: Path, files: list[str] | None = None) -> Path:
    """Copy the full_keys fixtures to ``dest`` with an mlplan.yaml listing ``files`` (default: FULL_KEYS_LOCAL)."""
    files = FULL_KEYS_LOCAL if files is None else files
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(FULL_KEYS / "files", dest / "files")
    for name in files:
        shutil.copyfile(FULL_KEYS / name, dest / name)
    listed = ", ".join(f'"{name}"' for name in files)
    (dest / "mlplan.yaml").write_text(f"project: fullkeys\nresources: [{listed}]\n")
    return dest


def state_snapshot(root: Path, env: str = "local") -> dict[str, bytes]:
    """The exact bytes of an environment's local state file and its journal (both must exist)."""
    state_dir = root / ".mlplan" / "state"
    files = (state_dir / f"{env}.json", state_dir / f"{env}.json.journal")
    return {p.name: p.read_bytes() for p in files}
