"""What the benchmarks share: timing, a project generator, and driving the engine the way the CLI does."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlplan.engine.apply import ApplyResult
    from mlplan.engine.plan import Plan
    from mlplan.engine.session import Session
    from mlplan.providers.base import Provider

REPO = Path(__file__).resolve().parent.parent


def console_script() -> Path:
    """The installed ``mlplan`` command beside this interpreter (else the repository's .venv)."""
    found = Path(sys.executable).parent / "mlplan"
    return found if found.exists() else REPO / ".venv" / "bin" / "mlplan"


# -- timing ---------------------------------------------------------------------------------------


@dataclass
class Timing:
    runs: list[float]

    @property
    def best(self) -> float:
        return min(self.runs)

    def describe(self) -> str:
        runs = ", ".join(f"{r:.3f}" for r in self.runs)
        return f"best {self.best:.3f}s of {len(self.runs)} ({runs})"


def best_of_each(fns: Mapping[str, Callable[[], Any]], repeat: int = 3) -> dict[str, Timing]:
    """Time each function ``repeat`` times, interleaved round by round, so that a load spike on a shared
    machine hits a measurement and its reference alike; every wall time is kept, the best is reported."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()  # do not bill one run for the garbage of the previous one
            t0 = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - t0)
    return {name: Timing(r) for name, r in runs.items()}


def ratio_line(ratio: float, target: float, label: str = "ratio", at_least: bool = False) -> str:
    """``ratio: X.XX (target <= Y)``; ``at_least`` for a ratio where more is better (a throughput share)."""
    return f"{label}: {ratio:.2f} (target {'>=' if at_least else '<='} {target:g})"


def report(label: str, value: str) -> None:
    print(f"{label:<40} {value}", flush=True)


def arg_parser(doc: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


# -- project generator ------------------------------------------------------------------------------

SCHEMA = "https://azuremlschemas.azureedge.net/latest/{}.schema.json"
# A realistic estate has many more data assets and model versions than environments and clusters.
KIND_CYCLE = ("data", "data", "data", "data", "model", "model", "model", "environment", "environment", "compute")
FOLDER = {"data": "data", "model": "models", "environment": "environments", "compute": "compute"}
# Resource names (Azure refuses a compute name whose last '-' is followed by digits only: cpu-00001).
NAME = {"data": "sales-{:05d}", "model": "churn-{:05d}", "environment": "train-env-{:05d}", "compute": "cpu{:05d}"}
CONDA_FILES = 10  # environments share a handful of conda files and docker contexts, as real projects do
DOCKER_CONTEXTS = 5
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"


@dataclass
class Project:
    root: Path
    addresses: list[str]  # in generation order
    resource_files: list[Path]

    @property
    def project_file(self) -> Path:
        return self.root / "mlplan.yaml"

    @property
    def state_path(self) -> Path:
        return self.root / ".mlplan" / "state" / "local.json"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _data(root: Path, i: int) -> tuple[str, str]:
    name = NAME["data"].format(i)
    if i % 4 == 3:  # a folder of parts
        for part in range(2):
            _write(root / "files" / "data" / name / f"part-{part}.csv", f"day,amount\n{i},{part}\n")
        kind_type, path = "uri_folder", f"../files/data/{name}"
    else:
        _write(root / "files" / "data" / f"{name}.csv", f"day,amount\n{i},{i * 7 % 101}\n")
        kind_type, path = "uri_file", f"../files/data/{name}.csv"
    return name, (
        f"$schema: {SCHEMA.format('data')}\n"
        f"name: {name}\n"
        f"description: Daily sales extract {i} (benchmark fixture).\n"
        f"type: {kind_type}\n"
        f"path: {path}\n"
        "tags:\n"
        f"  owner: team-{i % 7}\n"
        "  source: warehouse\n"
    )


def _model(root: Path, i: int) -> tuple[str, str]:
    name = NAME["model"].format(i)
    if i % 2:
        _write(root / "files" / "models" / name / "model.pkl", f"weights {i}\n")
        _write(root / "files" / "models" / name / "MLmodel", f"flavors: {{}}\nrun: {i}\n")
        path = f"../files/models/{name}"
    else:
        _write(root / "files" / "models" / f"{name}.pkl", f"weights {i}\n")
        path = f"../files/models/{name}.pkl"
    version = 'version: "1"\n' if i % 3 == 0 else ""
    return name, (
        f"$schema: {SCHEMA.format('model')}\n"
        f"name: {name}\n"
        f"{version}"
        "type: custom_model\n"
        f"path: {path}\n"
        f"description: Churn classifier {i}.\n"
        "tags:\n"
        "  framework: sklearn\n"
        f"  team: team-{i % 7}\n"
        "properties:\n"
        f'  auc: "0.{80 + i % 19}"\n'
    )


def _environment(root: Path, i: int) -> tuple[str, str]:
    name = NAME["environment"].format(i)
    if i % 5 == 4:
        ctx = f"ctx-{i % DOCKER_CONTEXTS}"
        _write(root / "files" / "docker" / ctx / "Dockerfile", f"FROM {BASE_IMAGE}\nRUN echo {ctx}\n")
        body = f"build:\n  path: ../files/docker/{ctx}\n  dockerfile_path: Dockerfile\n"
    else:
        conda = f"conda-{i % CONDA_FILES:02d}.yml"
        _write(
            root / "files" / "conda" / conda,
            f"name: env{i % CONDA_FILES}\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n",
        )
        body = f"image: ${{var.base_image}}\nconda_file: ../files/conda/{conda}\n"
    return name, (
        f"$schema: {SCHEMA.format('environment')}\n"
        f"name: {name}\n"
        'version: "1"\n'
        f"{body}"
        f"description: Training environment {i}.\n"
    )


def _compute(_root: Path, i: int) -> tuple[str, str]:
    name = NAME["compute"].format(i)
    return name, (
        f"$schema: {SCHEMA.format('amlCompute')}\n"
        f"name: {name}\n"
        "type: amlcompute\n"
        f"size: {('STANDARD_DS3_V2', 'STANDARD_DS11_V2', 'STANDARD_NC6S_V3')[i % 3]}\n"
        "min_instances: 0\n"
        "max_instances: ${var.max_nodes}\n"
        f"idle_time_before_scale_down: {(120, 300, 1800)[i % 3]}\n"
        "tags:\n"
        f"  team: team-{i % 7}\n"
    )


_WRITERS: dict[str, Callable[[Path, int], tuple[str, str]]] = {
    "data": _data,
    "model": _model,
    "environment": _environment,
    "compute": _compute,
}


def mix_addresses(n: int) -> list[str]:
    """The addresses ``generate_project(root, n)`` makes, in order (without writing anything)."""
    counters = dict.fromkeys(_WRITERS, 0)
    out = []
    for i in range(n):
        kind = KIND_CYCLE[i % len(KIND_CYCLE)]
        out.append(f"{kind}.{NAME[kind].format(counters[kind])}")
        counters[kind] += 1
    return out


def lineage_edges(addresses: Sequence[str], every: int = 20) -> dict[str, list[str]]:
    """Every ``every``-th model depends on the data asset of the same number (a little graph, as in life)."""
    data = [a for a in addresses if a.startswith("data.")]
    models = [a for a in addresses if a.startswith("model.")]
    return {m: [data[i % len(data)]] for i, m in enumerate(models) if i % every == 0 and data}


def generate_project(
    root: Path,
    n: int,
    *,
    parallelism: int = 10,
    depends_on: Mapping[str, Sequence[str]] | None = None,
    project: str = "bench",
    environment: tuple[str, Mapping[str, Any]] = ("local", {"provider": "local"}),
    extra_globs: Sequence[str] = (),
) -> Project:
    """Write ``n`` Azure ML CLI v2 resource files (a mix of data, model, environment, amlcompute), the tiny
    local files they reference, and an ``mlplan.yaml`` (``depends_on`` goes under ``settings:``).

    ``environment``: the project's one environment, its name and settings (each written as inline JSON, which
    YAML reads), made the default; ``extra_globs``: more resource globs (files the caller writes)."""
    root.mkdir(parents=True, exist_ok=True)
    counters = dict.fromkeys(_WRITERS, 0)
    addresses: list[str] = []
    files: list[Path] = []
    for i in range(n):
        kind = KIND_CYCLE[i % len(KIND_CYCLE)]
        name, text = _WRITERS[kind](root, counters[kind])
        counters[kind] += 1
        path = root / FOLDER[kind] / f"{name}.yml"
        _write(path, text)
        addresses.append(f"{kind}.{name}")
        files.append(path)
    lines = [
        "# Generated by bench/common.py",
        f"project: {project}",
        "resources:",
        *(f'  - "{FOLDER[k]}/*.yml"' for k in _WRITERS),
        *(f'  - "{glob}"' for glob in extra_globs),
        "variables:",
        "  base_image:",
        f"    default: {BASE_IMAGE}",
        "  max_nodes:",
        "    default: 4",
        "    type: number",
        f"default_environment: {environment[0]}",
        "environments:",
        f"  {environment[0]}:",
        *(f"    {key}: {json.dumps(value)}" for key, value in environment[1].items()),
        f"    parallelism: {parallelism}",
    ]
    if depends_on:
        lines.append("settings:")
        for address, deps in depends_on.items():
            if deps:
                lines.append(f"  {address}:")
                lines.append(f"    depends_on: [{', '.join(deps)}]")
    _write(root / "mlplan.yaml", "\n".join(lines) + "\n")
    return Project(root, addresses, files)


# -- driving the engine as the CLI does ------------------------------------------------------------


def open_session(root: Path, provider: Provider | None = None) -> Session:
    """``open_session`` as the CLI calls it; ``provider`` swaps in a fake (the schema only names local/azure)."""
    from mlplan.engine.session import open_session as _open

    session = _open(root, None)
    if provider is not None:
        session = dataclasses.replace(session, provider=provider)
    return session


def plan_and_render(root: Path, *, refresh: bool, provider: Provider | None = None) -> tuple[Plan, str]:
    """``mlplan plan [--no-refresh]`` without click: load, graph, validate, lock, read state, plan, render."""
    from mlplan.engine import render, workflow
    from mlplan.engine import session as s
    from mlplan.engine.planner import PlanOptions

    session = open_session(root, provider)
    with s.locked_state(session, "plan") as state:
        the_plan = workflow.plan(session, state, PlanOptions(refresh=refresh, parallelism=0))
    return the_plan, render.render(the_plan.to_json(), "text")


def apply_all(
    root: Path,
    *,
    provider: Provider | None = None,
    parallelism: int | None = None,
    compact_every: int | None = None,
) -> ApplyResult:
    """``mlplan apply --auto-approve``: plan with refresh, then apply it under the same lock.

    ``compact_every`` overrides the backend's snapshot interval (setup only: fewer whole-state rewrites).
    """
    from mlplan.engine import render, workflow
    from mlplan.engine import session as s
    from mlplan.engine.apply import ApplyOptions
    from mlplan.engine.planner import PlanOptions

    session = open_session(root, provider)
    if compact_every is not None:
        session.backend.compact_every = compact_every
    with s.locked_state(session, "apply") as state:
        the_plan = workflow.plan(session, state, PlanOptions(refresh=True, parallelism=0))
        render.text(the_plan.to_json())
        par = parallelism or session.config.environment.parallelism
        result = workflow.apply_plan(session, state, the_plan, ApplyOptions(parallelism=par))
    if not result.ok:
        raise RuntimeError(f"setup apply failed: {dict(list(result.failed.items())[:3])}")
    return result


def apply_dry(root: Path, parallelism: int = 32) -> ApplyResult:
    """Bring ``root`` to "everything applied" through the real engine and state backend, with a dry copy
    of the local provider (same attributes and versions, no workspace on disk): setup for plan benchmarks."""
    from bench.fakes import SlowProvider
    from mlplan.providers import load_provider

    dry = SlowProvider(like=load_provider("local"))
    return apply_all(root, provider=dry, parallelism=parallelism, compact_every=1 << 30)


def summary_line(text: str) -> str:
    """The summary of a rendered text plan (its last line), to show what was measured."""
    return text.strip().splitlines()[-1]
