"""A refreshing `mlplan plan` over N resources whose provider read takes 50 ms, against N x 50 ms / parallelism.

Setup (untimed): a temp project of N resource files (the same mix as plan_10k) applied through the real
engine and state backend with bench.fakes.SlowProvider (in memory, every kind) and no delays.

Timed, in-process, best of R: the whole `mlplan plan` (load, graph, lock, read state, refresh = N provider
reads of 50 ms each, at the environment's parallelism, diff, render). The ideal is the refresh alone, done
perfectly in parallel: N x read / parallelism. Also measured (same rounds, for the breakdown): the same plan
with --no-refresh, i.e. the part of the time that is not refresh.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.fakes import SlowProvider

TARGET = 1.25


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("n", nargs="?", type=int, default=1000, help="resources (default 1000)")
    parser.add_argument("--parallelism", type=int, default=10, help="environment parallelism (default 10)")
    parser.add_argument("--read-ms", type=float, default=50.0, help="duration of one provider read (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept (default 3)")
    args = parser.parse_args()
    n, par, read = args.n, args.parallelism, args.read_ms / 1000

    base = Path(tempfile.mkdtemp(prefix="mlplan-bench-refresh-"))
    try:
        addresses = common.mix_addresses(n)
        project = common.generate_project(
            base, n, parallelism=par, depends_on=common.lineage_edges(addresses), project="bench-refresh"
        )
        fake = SlowProvider()
        common.apply_all(project.root, provider=fake)
        fake.set_delays(read=read)

        def refreshing() -> None:
            fake.reset_counters()
            common.plan_and_render(project.root, refresh=True, provider=fake)
            reads = fake.store.calls.get("read", 0)
            if reads != n:
                raise SystemExit(f"expected {n} provider reads, saw {reads}")

        def no_refresh() -> None:
            common.plan_and_render(project.root, refresh=False, provider=fake)

        the_plan, text = common.plan_and_render(project.root, refresh=True, provider=fake)
        if any(c.action.changes for c in the_plan.changes):
            raise SystemExit("setup is wrong: the refreshing plan is not a no-op")
        common.report(f"setup N={n}", common.summary_line(text))
        timings = common.best_of_each({"refresh": refreshing, "no_refresh": no_refresh}, args.repeat)
        max_in_flight = fake.store.max_in_flight

        ideal = n * read / par
        best = timings["refresh"].best
        common.report(f"mlplan plan (refresh, N={n}, P={par})", timings["refresh"].describe())
        common.report("mlplan plan --no-refresh (same project)", timings["no_refresh"].describe())
        common.report(f"ideal: N x {args.read_ms:g} ms / P", f"{ideal:.3f}s")
        common.report("refresh part (plan - no-refresh plan)", f"{best - timings['no_refresh'].best:.3f}s")
        common.report("most reads in flight at once", f"{max_in_flight} (parallelism {par})")
        print(common.ratio_line(best / ideal, TARGET))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
