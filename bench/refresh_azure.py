"""A refreshing `mlplan plan` of N resources on the loopback Azure, through the azure provider and the real SDK
clients, with a per-request latency: calls per resource and time against calls x latency / parallelism.

Setup (untimed): a temp project of N resources: the plan_10k mix (data, models, environments, amlcompute) plus
managed online endpoints (one in 50 resources), two deployments each (blue, green) and each endpoint's traffic
split; its environment points at the tests' loopback Azure (tests/loopback_azure, in this process, TLS, sign-in
through azure-identity) with Azurite for the uploads, and is applied through the real engine and the azure
provider with no latency.

Timed, in-process, best of R: the whole `mlplan plan` (load, graph, lock, read state, refresh through the azure
provider's batched reads, diff, render), with every request to the loopback delayed by --latency-ms. It must be
a no-op plan. The server's request log gives the calls, grouped by what they read.

Targets: calls <= one list per asset name + one paged list (its pages) per listable kind, the sign-in apart;
time <= 1.25 x calls x latency / parallelism (the environment's parallelism, which also bounds the requests in
flight). Also shown: the one-GET-each baseline, N x latency / parallelism.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

TARGET = 1.25
ENDPOINT_EVERY = 50  # one endpoint (with two deployments and a traffic split) per 50 resources
DEPLOYMENTS = ("blue", "green")
ASSET_LIST = re.compile(r"/workspaces/[^/]+/(data|models|environments)/[^/]+/versions$")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_endpoints(root: Path, count: int) -> list[str]:
    """``count`` managed online endpoints, each with deployments blue and green (of a model and an environment
    of the mix, one scoring script shared by all) and ``traffic: {blue: 100, green: 0}``; their addresses."""
    _write(root / "files" / "score" / "score.py", "def init():\n    pass\n\n\ndef run(raw):\n    return raw\n")
    addresses = []
    for i in range(count):
        name = f"ep{i:05d}"
        _write(
            root / "endpoints" / f"{name}.yml",
            "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
            f"name: {name}\nauth_mode: key\ndescription: Churn scoring {i}.\n"
            "traffic: {blue: 100, green: 0}\n",
        )
        addresses += [f"online_endpoint.{name}", f"traffic.{name}"]
        for deployment in DEPLOYMENTS:
            _write(
                root / "endpoints" / f"{name}-{deployment}.yml",
                "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
                f"name: {deployment}\nendpoint_name: {name}\n"
                f"model: azureml:{common.NAME['model'].format(3 * i)}:1\n"  # a model with version 1 declared

                f"environment: azureml:{common.NAME['environment'].format(i)}:1\n"
                "code_configuration: {code: ../files/score, scoring_script: score.py}\n"
                "instance_type: Standard_DS3_v2\ninstance_count: 1\n",
            )
            addresses.append(f"online_deployment.{name}/{deployment}")
    return addresses


@contextlib.contextmanager
def one_upload_at_a_time() -> Iterator[None]:
    """Setup only: azure-ai-ml's uploads one after another. Two environments sharing a docker build context,
    uploaded at once, leave azure-ai-ml 1.35 waiting forever for a file count that never comes
    (``_blob_storage_helper.upload``); the timed part uploads nothing."""
    from azure.ai.ml._artifacts import _artifact_utilities as artifacts

    upload = artifacts._upload_to_datastore
    lock = threading.Lock()

    def serialised(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return upload(*args, **kwargs)

    artifacts._upload_to_datastore = serialised
    try:
        yield
    finally:
        artifacts._upload_to_datastore = upload


@contextlib.contextmanager
def loopback_azure(base: Path) -> Iterator[Any]:
    """The tests' loopback Azure with Azurite for uploads, and this process's environment pointed at them."""
    from tests.loopback_azure import LoopbackAzure
    from tests.loopback_azure.azurite import run_azurite, sdk_uploads_to

    saved = dict(os.environ)
    try:
        with run_azurite(base / "azurite") as azurite, LoopbackAzure() as az, sdk_uploads_to(azurite.url_template):
            az.attach_storage(azurite.blob_url)
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
            os.environ.update(az.env())
            yield az
    finally:
        os.environ.clear()
        os.environ.update(saved)


def what(path: str) -> str:
    """What a request read, for the per-kind table."""
    found = ASSET_LIST.search(path)
    if found:
        return f"{found.group(1)}: list of one name's versions"
    for suffix, label in (
        ("/computes", "computes: list"),
        ("/onlineEndpoints", "online endpoints: list"),
        ("/deployments", "deployments: list of one endpoint's"),
    ):
        if path.endswith(suffix):
            return label
    if "/oauth2/" in path or "openid-configuration" in path:
        return "sign-in (token, metadata)"
    return f"other: {path}"


def pages(count: int, page_size: int) -> int:
    return max(1, -(-count // page_size))


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("n", nargs="?", type=int, default=1000, help="resources (default 1000)")
    parser.add_argument("--parallelism", type=int, default=10, help="environment parallelism (default 10)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency of every request (default 30)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept (default 3)")
    args = parser.parse_args()
    n, par, latency = args.n, args.parallelism, args.latency_ms / 1000
    endpoints = max(1, n // ENDPOINT_EVERY)
    mix = n - endpoints * (2 + len(DEPLOYMENTS))
    if mix < 10 * endpoints:
        raise SystemExit(f"N={n} is too small for {endpoints} endpoint(s)")

    base = Path(tempfile.mkdtemp(prefix="mlplan-bench-refresh-azure-"))
    try:
        with loopback_azure(base) as az:
            workspace = {
                "subscription_id": az.subscription_id,
                "resource_group": az.resource_group,
                "workspace_name": az.workspace,
                "location": az.location,
            }
            env = ("dev", {"provider": "azure", "workspace": workspace, "cloud": az.cloud_config, "credential": "environment"})
            root = base / "project"
            addresses = common.mix_addresses(mix)
            project = common.generate_project(
                root,
                mix,
                parallelism=par,
                depends_on=common.lineage_edges(addresses),
                project="bench-refresh-azure",
                environment=env,
                extra_globs=("endpoints/*.yml",),
            )
            addresses = project.addresses + write_endpoints(root, endpoints)
            with one_upload_at_a_time():
                result = common.apply_all(root, parallelism=max(par, 16))
            if len(result.done) != n:
                raise SystemExit(f"setup applied {len(result.done)} resources, expected {n}")

            az.latency = latency
            calls: list[Any] = []
            max_in_flight = 0

            def refreshing() -> None:
                nonlocal calls, max_in_flight
                az.clear_calls()
                the_plan, _text = common.plan_and_render(root, refresh=True)
                if any(c.action.changes for c in the_plan.changes):
                    raise SystemExit("the refreshing plan is not a no-op")
                calls, max_in_flight = az.calls, max(max_in_flight, az.max_in_flight)

            def no_refresh() -> None:
                common.plan_and_render(root, refresh=False)

            the_plan, text = common.plan_and_render(root, refresh=True)
            if any(c.action.changes for c in the_plan.changes):
                raise SystemExit(f"setup is wrong: the refreshing plan is not a no-op: {common.summary_line(text)}")
            common.report(f"setup N={n}", common.summary_line(text))
            timings = common.best_of_each({"refresh": refreshing, "no_refresh": no_refresh}, args.repeat)

        kinds = collections.Counter(a.split(".", 1)[0] for a in addresses)
        by_what = collections.Counter(what(c.path) for c in calls)
        names = kinds["data"] + kinds["model"] + kinds["environment"]  # one version of each name
        page = az.page_size
        # one list per asset name; the workspace's computes; its endpoints, once for the endpoints and once for the
        # traffic kind (a split is part of its endpoint); each endpoint's deployments
        endpoint_pages = pages(kinds["online_endpoint"], page)
        target = names + pages(kinds["compute"], page) + 2 * endpoint_pages + kinds["online_endpoint"]
        sign_in = by_what.get("sign-in (token, metadata)", 0)
        counted = len(calls) - sign_in

        best = timings["refresh"].best
        bound = len(calls) * latency / par
        baseline = n * latency / par
        common.report(f"resources (N={n})", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        for label, count in sorted(by_what.items()):
            common.report(f"  calls: {label}", str(count))
        common.report("calls (sign-in apart) / target", f"{counted} / {target} (names {names} + paged lists)")
        common.report("calls per resource", f"{len(calls) / n:.3f}")
        common.report("most requests in flight at once", f"{max_in_flight} (parallelism {par})")
        common.report(f"mlplan plan (refresh, P={par}, {args.latency_ms:g} ms)", timings["refresh"].describe())
        common.report("mlplan plan --no-refresh (same project)", timings["no_refresh"].describe())
        common.report("refresh part (plan - no-refresh plan)", f"{best - timings['no_refresh'].best:.3f}s")
        common.report("bound: calls x latency / P", f"{bound:.3f}s")
        common.report("baseline: N x latency / P (one GET each)", f"{baseline:.3f}s (plan / baseline {best / baseline:.2f})")
        print(common.ratio_line(counted / target, 1.0, label="calls / target"))
        print(common.ratio_line(best / bound, TARGET))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
