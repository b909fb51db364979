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
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

TARGET = 1.25
ENDPOINT_EVERY = 50  # one endpoint (with two deployments and a traffic split) per 50 resources
DEPLOYMENTS = ("blue", "green")
SIGN_IN = "sign-in (token, metadata)"
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


class Server:
    """The loopback Azure in a process of its own (``multiprocessing`` manager), so that its CPU does not share
    mlplan's interpreter lock (Azure's CPUs are not the client's); what the benchmark asks of it, as methods."""

    def __init__(self) -> None:
        from tests.loopback_azure import LoopbackAzure

        self.az = LoopbackAzure().start()

    def attach_storage(self, blob_url: str) -> None:
        self.az.attach_storage(blob_url)

    def facts(self) -> dict[str, Any]:
        az = self.az
        return {
            "env": az.env(),
            "cloud": az.cloud_config,
            "workspace": {
                "subscription_id": az.subscription_id,
                "resource_group": az.resource_group,
                "workspace_name": az.workspace,
                "location": az.location,
            },
            "page_size": az.page_size,
        }

    def set_latency(self, seconds: float) -> None:
        self.az.latency = seconds

    def clear_calls(self) -> None:
        self.az.clear_calls()

    def calls(self) -> list[tuple[str, str]]:
        """(method, path and query) of each request since ``clear_calls``."""
        return [(c.method, f"{c.path}?{urllib.parse.urlencode(c.query)}" if c.query else c.path) for c in self.az.calls]

    def max_in_flight(self) -> int:
        return self.az.max_in_flight

    def stop(self) -> None:
        self.az.stop()


class _Manager(BaseManager):
    pass


_Manager.register("Server", Server)


@contextlib.contextmanager
def loopback_azure(base: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The tests' loopback Azure (its own process) with Azurite for uploads, and this process's environment
    pointed at them; the server (a proxy) and its facts."""
    from tests.loopback_azure.azurite import run_azurite, sdk_uploads_to

    saved = dict(os.environ)
    try:
        with run_azurite(base / "azurite") as azurite, _Manager() as manager:
            server = manager.Server()  # type: ignore[attr-defined]
            try:
                server.attach_storage(azurite.blob_url)
                facts = server.facts()
                os.environ.pop("AZUREML_CURRENT_CLOUD", None)
                os.environ.update(facts["env"])
                with sdk_uploads_to(azurite.url_template):
                    yield server, facts
            finally:
                server.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def replayer(facts: dict[str, Any], calls: list[tuple[str, str]], parallelism: int) -> Any:
    """The floor a client reaches on this machine, now: the refresh's GETs (sign-in apart) sent again with
    ``requests`` (one keep-alive session per thread, ``parallelism`` threads, a token got beforehand), reading each
    body and parsing nothing."""
    import requests

    from mlplan.providers.azure.cloud import cloud_of
    from mlplan.providers.azure.credentials import make_credential

    cloud = cloud_of(facts["cloud"])
    ca = facts["env"]["REQUESTS_CA_BUNDLE"]
    token = make_credential("environment", cloud, verify=ca).get_token(*cloud.arm_scopes).token
    base = cloud.resource_manager.rstrip("/")
    urls = [base + path for method, path in calls if method == "GET" and what(path.split("?")[0]) != SIGN_IN]
    local = threading.local()

    def get(url: str) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        answer = local.session.get(url, headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=60)
        answer.raise_for_status()

    def replay() -> None:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            list(pool.map(get, urls))

    return replay


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
        return SIGN_IN
    return f"other: {path}"


def pages(count: int, page_size: int) -> int:
    return max(1, -(-count // page_size))


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("n", nargs="?", type=int, default=1000, help="resources (default 1000)")
    parser.add_argument("--parallelism", type=int, default=10, help="environment parallelism (default 10)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency of every request (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept (default 3)")
    args = parser.parse_args()
    n, par, latency = args.n, args.parallelism, args.latency_ms / 1000
    endpoints = max(1, n // ENDPOINT_EVERY)
    mix = n - endpoints * (2 + len(DEPLOYMENTS))
    if mix < 10 * endpoints:
        raise SystemExit(f"N={n} is too small for {endpoints} endpoint(s)")

    base = Path(tempfile.mkdtemp(prefix="mlplan-bench-refresh-azure-"))
    try:
        with loopback_azure(base) as (az, facts):
            settings = {"provider": "azure", "workspace": facts["workspace"], "cloud": facts["cloud"]}
            env = ("dev", {**settings, "credential": "environment"})
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
            result = common.apply_all(root, parallelism=max(par, 16))
            if len(result.done) != n:
                raise SystemExit(f"setup applied {len(result.done)} resources, expected {n}")

            az.set_latency(latency)
            calls: list[Any] = []
            max_in_flight = 0
            cpu: list[float] = []

            def refreshing() -> None:
                nonlocal calls, max_in_flight
                az.clear_calls()
                start = time.process_time()
                the_plan, _text = common.plan_and_render(root, refresh=True)
                cpu.append(time.process_time() - start)
                if any(c.action.changes for c in the_plan.changes):
                    raise SystemExit("the refreshing plan is not a no-op")
                calls, max_in_flight = az.calls(), max(max_in_flight, az.max_in_flight())

            def no_refresh() -> None:
                common.plan_and_render(root, refresh=False)

            az.clear_calls()
            the_plan, text = common.plan_and_render(root, refresh=True)
            if any(c.action.changes for c in the_plan.changes):
                raise SystemExit(f"setup is wrong: the refreshing plan is not a no-op: {common.summary_line(text)}")
            common.report(f"setup N={n}", common.summary_line(text))
            replay = replayer(facts, az.calls(), par)
            timings = common.best_of_each(
                {"refresh": refreshing, "no_refresh": no_refresh, "replay": replay}, args.repeat
            )

        kinds = collections.Counter(a.split(".", 1)[0] for a in addresses)
        by_what = collections.Counter(what(path.split("?")[0]) for _method, path in calls)
        names = kinds["data"] + kinds["model"] + kinds["environment"]  # one version of each name
        page = facts["page_size"]
        # one list per asset name; the workspace's computes; its endpoints, once for the endpoints and once for the
        # traffic kind (a split is part of its endpoint); each endpoint's deployments
        targets = {
            what(f"/workspaces/w/{folder}/n/versions"): kinds[kind]
            for kind, folder in (("data", "data"), ("model", "models"), ("environment", "environments"))
        }
        targets[what("/computes")] = pages(kinds["compute"], page)
        targets[what("/onlineEndpoints")] = 2 * pages(kinds["online_endpoint"], page)
        targets[what("/deployments")] = kinds["online_endpoint"]
        target = sum(targets.values())
        sign_in = by_what.get(SIGN_IN, 0)
        counted = len(calls) - sign_in

        best = timings["refresh"].best
        bound = len(calls) * latency / par
        baseline = n * latency / par
        common.report(f"resources (N={n})", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        for label in sorted({*by_what, *targets}):
            wanted = f" (target {targets[label]})" if label in targets else ""
            common.report(f"  calls: {label}", f"{by_what.get(label, 0)}{wanted}")
        common.report("calls (sign-in apart) / target", f"{counted} / {target} (names {names} + paged lists)")
        common.report("calls per resource", f"{len(calls) / n:.3f}")
        common.report("most requests in flight at once", f"{max_in_flight} (parallelism {par})")
        common.report(f"mlplan plan (refresh, P={par}, {args.latency_ms:g} ms)", timings["refresh"].describe())
        common.report("mlplan plan --no-refresh (same project)", timings["no_refresh"].describe())
        common.report("refresh part (plan - no-refresh plan)", f"{best - timings['no_refresh'].best:.3f}s")
        per_call = min(cpu) / len(calls) * 1000
        common.report("CPU of the plan (mlplan's process)", f"{min(cpu):.3f}s ({per_call:.1f} ms a call)")
        common.report("floor: the same GETs replayed, bare", timings["replay"].describe())
        common.report("plan / floor (robust to load)", f"{best / timings['replay'].best:.2f}")
        common.report("bound: calls x latency / P", f"{bound:.3f}s")
        common.report("baseline: N x latency / P (one GET each)", f"{baseline:.3f}s (plan / it {best / baseline:.2f})")
        print(common.ratio_line(counted / target, 1.0, label="calls / target"))
        print(common.ratio_line(best / bound, TARGET))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
