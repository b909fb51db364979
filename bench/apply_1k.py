"""`mlplan apply` of a random layered DAG of N resources whose create takes 20 ms, against its schedule bound.

Setup (untimed, every round): a temp project of N resource files (the plan_10k mix) whose edges are a
random layered DAG (fixed seed) written as `depends_on` under `settings:` in mlplan.yaml; an empty state;
bench.fakes.SlowProvider (in memory) with create = 20 ms; open the session, lock, read state, plan.

Timed, in-process, best of R: the apply of that plan by the real engine (scheduler, journal with fsync,
snapshot compaction, result checks) on the real durable backend, mlplan.state.local.LocalBackend.

Bounds, for equal operations of d = 20 ms on P workers:
  lower bound   max(critical path in nodes x d, N x d / P): no schedule can beat it (the target ratio);
  list schedule the makespan of greedy list scheduling with mlplan's own tie-break (ready nodes by address),
                simulated with zero overhead: what the scheduler would achieve if the engine cost nothing.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import networkx as nx

from bench import common
from bench.fakes import SlowProvider

TARGET = 1.15


def layered_dag(nodes: Sequence[str], layers: int, seed: int, max_parents: int = 3) -> dict[str, list[str]]:
    """Shuffle ``nodes`` into ``layers`` layers of random width; each node outside the first layer depends on
    one node of the layer just before it and, sometimes, on up to ``max_parents - 1`` older ones."""
    rng = random.Random(seed)
    order = list(nodes)
    rng.shuffle(order)
    cuts = sorted(rng.sample(range(1, len(order)), layers - 1))
    bounds = [0, *cuts, len(order)]
    levels = [order[a:b] for a, b in itertools.pairwise(bounds)]
    deps: dict[str, list[str]] = {}
    for k in range(1, len(levels)):
        older = [x for level in levels[:k] for x in level]
        for node in levels[k]:
            parents = {rng.choice(levels[k - 1])}
            for _ in range(rng.randrange(max_parents)):
                parents.add(rng.choice(older))
            deps[node] = sorted(parents)
    return deps


def list_schedule(g: nx.DiGraph, workers: int, duration: float, key: Any = str) -> float:
    """Makespan of greedy list scheduling: whenever a worker is free, start the first ready node by ``key``."""
    remaining = {v: g.in_degree(v) for v in g.nodes}
    ready = sorted((v for v, d in remaining.items() if d == 0), key=key)
    running: list[tuple[float, int, Hashable]] = []
    now, seq = 0.0, 0
    while ready or running:
        while ready and len(running) < workers:
            heapq.heappush(running, (now + duration, seq, ready.pop(0)))
            seq += 1
        now, _, done = heapq.heappop(running)
        finished = [done]
        while running and running[0][0] <= now:
            finished.append(heapq.heappop(running)[2])
        for v in finished:
            for s in g.successors(v):
                remaining[s] -= 1
                if remaining[s] == 0:
                    ready.append(s)
        ready.sort(key=key)
    return now


def state_files(state_path: Path) -> list[Path]:
    return [state_path.with_name(state_path.name + suffix) for suffix in ("", ".journal", ".backup")]


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("n", nargs="?", type=int, default=1000, help="resources (default 1000)")
    parser.add_argument("--parallelism", type=int, default=10, help="apply parallelism (default 10)")
    parser.add_argument("--create-ms", type=float, default=20.0, help="duration of one create (default 20)")
    parser.add_argument("--layers", type=int, default=25, help="layers of the random DAG (default 25)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random DAG (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept (default 3)")
    args = parser.parse_args()
    n, par, d = args.n, args.parallelism, args.create_ms / 1000

    from mlplan.engine import session as s
    from mlplan.engine import workflow
    from mlplan.engine.apply import ApplyOptions, execution_graph
    from mlplan.engine.planner import PlanOptions

    base = Path(tempfile.mkdtemp(prefix="mlplan-bench-apply-"))
    try:
        addresses = common.mix_addresses(n)
        deps = layered_dag(addresses, args.layers, args.seed)
        project = common.generate_project(base, n, parallelism=par, depends_on=deps, project="bench-apply")
        fake = SlowProvider(write_delay=d)

        runs: list[float] = []
        g: nx.DiGraph | None = None
        for _ in range(args.repeat):
            for f in state_files(project.state_path):
                f.unlink(missing_ok=True)
            fake.clear()
            fake.reset_counters()
            session = common.open_session(project.root, fake)
            with s.locked_state(session, "apply") as state:
                the_plan = workflow.plan(session, state, PlanOptions(refresh=True, parallelism=0))
                g = execution_graph(the_plan)
                gc.collect()
                t0 = time.perf_counter()
                result = workflow.apply_plan(session, state, the_plan, ApplyOptions(parallelism=par))
                runs.append(time.perf_counter() - t0)
            if not result.ok or len(result.done) != n or fake.store.calls.get("create") != n:
                raise SystemExit(f"apply did not create the {n} resources: {len(result.done)} done, {result.failed}")
        timing = common.Timing(runs)
        assert g is not None

        journal = state_files(project.state_path)[1]
        critical = nx.dag_longest_path_length(g) + 1  # in nodes
        cp_bound, work_bound = critical * d, n * d / par
        lower = max(cp_bound, work_bound)
        listed = list_schedule(g, par, d)
        graham = n * d / par + (1 - 1 / par) * cp_bound
        edges = g.number_of_edges()
        common.report("DAG", f"{n} nodes, {edges} edges, {args.layers} layers, seed {args.seed}")
        common.report(f"mlplan apply (P={par}, create {args.create_ms:g} ms)", timing.describe())
        common.report("most creates in flight at once", f"{fake.store.max_in_flight} (parallelism {par})")
        common.report(
            "state after apply",
            f"{project.state_path.stat().st_size / 1e6:.2f} MB snapshot, "
            f"{journal.stat().st_size if journal.exists() else 0} B journal",
        )
        common.report("critical path x d", f"{critical} nodes -> {cp_bound:.3f}s")
        common.report("N x d / P", f"{work_bound:.3f}s")
        common.report("lower bound = max of both", f"{lower:.3f}s")
        common.report("greedy list schedule (zero overhead)", f"{listed:.3f}s (ratio {timing.best / listed:.2f})")
        common.report("Graham bound (any list schedule <=)", f"{graham:.3f}s")
        print(common.ratio_line(timing.best / lower, TARGET))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
