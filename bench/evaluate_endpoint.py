"""Scoring an evaluation set through a local online endpoint, against calling its score.py in-process.

Setup (untimed): the quickstart copied to a temp dir and applied (`mlplan apply --auto-approve` through the
console script: trains, registers cancer-model, serves it as the endpoint `cancer`, deployment `blue`, with the
real Azure ML inference server behind the endpoint's router); its evaluation set (data asset cancer-eval,
171 rows) repeated to N rows (default 4,000).

Timed, best of R interleaved rounds, the same batches of B rows (default 100, a policy's default):
- endpoint: `mlplan.engine.scoring.score` with the local provider's `invoke` (the endpoint's scoring URI, key
  auth, the `azureml-model-deployment` header, C requests in flight, default 4): what evaluation does;
- in-process (the peer): the deployment's own score.py, `init()` once (untimed) with AZUREML_MODEL_DIR set to
  the same model version, then `run(json.dumps({"data": batch}))` per batch, one after the other.
Both must return the same predictions. The ratio is the endpoint's rows/s over the in-process rows/s. Also
measured, for the breakdown: the same `score` sending each request straight to the deployment's inference
server (no router, no key check: the most the endpoint can reach), and all three at other batch sizes (the
fixed cost of a request against rows).
Teardown: `mlplan destroy --auto-approve` stops the servers.
"""

from __future__ import annotations

import functools
import http.client
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import common
from mlplan.engine import scoring
from mlplan.providers.base import Context
from mlplan.providers.local import LocalProvider
from mlplan.providers.local.paths import ASSET, asset_dir
from mlplan.providers.local.serving import HOST

TARGET = 0.5


def mlplan(root: Path, *args: str) -> None:
    proc = subprocess.run(
        [str(common.console_script()), "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"setup failed: mlplan {' '.join(args)}:\n{proc.stdout}{proc.stderr}")


def repeated(table: scoring.Table, n: int) -> scoring.Table:
    times = -(-n // len(table))
    return scoring.Table(
        table.asset, table.columns, (table.rows * times)[:n], table.label_column, np.tile(table.labels, times)[:n]
    )


def load_script(path: Path, model_dir: Path) -> ModuleType:
    """The deployment's score.py as the inference server loads it: AZUREML_MODEL_DIR set, then init()."""
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    spec = importlib.util.spec_from_file_location("bench_score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def in_process(script: ModuleType, table: scoring.Table, batch_size: int) -> np.ndarray:
    out: list[Any] = []
    for start in range(0, len(table.rows), batch_size):
        answer = script.run(json.dumps({"data": table.rows[start : start + batch_size]}))
        out.extend(answer["predictions"])
    return np.asarray(out)


def server_alone(port: int, _deployment: str, body: bytes, content_type: str) -> bytes:
    """A request straight to the deployment's inference server, as the router forwards it (a connection per
    request: its gunicorn sync worker closes each one): the endpoint without the router and the key check."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request("POST", "/score", body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise SystemExit(f"the inference server answered HTTP {resp.status}: {data[:200]!r}")
    return data


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--rows", type=int, default=4000, help="rows scored per round (default 4000)")
    parser.add_argument("--batch-size", type=int, default=100, help="rows per request (default 100)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--repeat", type=int, default=10, help="rounds; the best is kept (default 10)")
    parser.add_argument(
        "--sweep", default="10,1000", help="other batch sizes, for the breakdown (default 10,1000; --sweep= for none)"
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="mlplan-bench-evaluate-"))
    root = base / "quickstart"
    shutil.copytree(common.REPO / "examples/quickstart", root, ignore=shutil.ignore_patterns(".mlplan", "__pycache__"))
    provider = LocalProvider()
    try:
        mlplan(root, "apply", "--auto-approve")
        ctx = Context("quickstart", "local", root, {})
        endpoints, data, deployments = (
            provider.resource_type(k) for k in ("online_endpoint", "data", "online_deployment")
        )
        assert endpoints is not None and data is not None and deployments is not None
        endpoint = endpoints.lookup(ctx, "cancer", None)
        asset = data.lookup(ctx, "cancer-eval", None)
        blue = deployments.lookup(ctx, "cancer/blue", None)
        assert endpoint is not None and asset is not None and blue is not None
        base_table = scoring.read_table(data.fetch(ctx, asset), "target", f"data asset cancer-eval:{asset.version}")
        table = repeated(base_table, args.rows)
        model = ASSET.match(str(blue.attributes["model"]))
        assert model is not None
        script = load_script(root / "deploy/score/score.py", asset_dir(ctx, "model", model.group(1), model.group(2)))
        invoke = functools.partial(endpoints.invoke, ctx, endpoint)
        fmt = scoring.request_format("default", root)

        server = functools.partial(server_alone, int(blue.outputs["port"]))

        def runners(batch: int) -> dict[str, Callable[[], np.ndarray]]:
            return {
                "endpoint": lambda: scoring.score(invoke, "blue", table, fmt, batch, args.concurrency),
                "in-process": lambda: in_process(script, table, batch),
                "server alone": lambda: scoring.score(server, "blue", table, fmt, batch, args.concurrency),
            }

        common.report("setup", f"{len(table)} rows ({len(base_table)} repeated), {len(table.columns)} features")
        ratios: dict[int, float] = {}
        overhead: dict[int, float] = {}  # the endpoint's share of what the server alone reaches
        sweep = [int(b) for b in args.sweep.split(",") if b.strip()]
        for batch in (args.batch_size, *(b for b in sweep if b != args.batch_size)):
            fns = runners(batch)
            answers = {name: fn() for name, fn in fns.items()}  # warm-up: connections, caches
            if not all(np.array_equal(a, answers["in-process"]) for a in answers.values()):
                raise SystemExit("setup is wrong: the endpoint and the in-process score.py disagree")
            timings = common.best_of_each(fns, args.repeat)
            rates = {name: len(table) / t.best for name, t in timings.items()}
            ratios[batch] = rates["endpoint"] / rates["in-process"]
            overhead[batch] = rates["endpoint"] / rates["server alone"]
            for name, timing in timings.items():
                common.report(f"B={batch} {name}", f"{rates[name]:,.0f} rows/s; {timing.describe()}")
        for label, values in (("in-process", ratios), ("server alone", overhead)):
            print(
                f"endpoint / {label} by batch size: " + ", ".join(f"B={b}: {r:.2f}" for b, r in sorted(values.items()))
            )
        print(common.ratio_line(ratios[args.batch_size], TARGET, at_least=True))
    finally:
        provider.close()
        if (root / ".mlplan").exists():
            mlplan(root, "destroy", "--auto-approve")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
