"""`mlplan plan --no-refresh` on N resources, against parsing the same files with libyaml and json.

Setup (untimed): a temp project of N CLI v2 resource files (data, model, environment, amlcompute, with the
tiny local files they name) and a state holding all N as applied, written by the real engine and state
backend (the provider is a dry copy of the local one, so that setup takes seconds, not minutes).

Timed, in-process, best of R interleaved rounds:
  mlplan       open_session (load + validate mlplan.yaml and every resource file, graph, provider checks),
               lock, read state, plan without refresh, render the text plan: what `mlplan plan --no-refresh`
               does, minus click;
  lower bound  read mlplan.yaml and every resource file and yaml.load them with CSafeLoader, read the state
               file and json.loads it: the same bytes, parsed by C code, nothing else.

Prints ratio = mlplan / lower bound at N (target <= 3), and the scaling time(2N)/time(N) (target <= 2.2).
The last line is the N ratio; the scaling line comes just before it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bench import common

RATIO_TARGET = 3.0
SCALING_TARGET = 2.2


def measure(base: Path, n: int, repeat: int) -> dict[str, common.Timing]:
    t0 = time.perf_counter()
    project = common.generate_project(
        base / f"n{n}", n, depends_on=common.lineage_edges(common.mix_addresses(n)), project=f"bench-{n}"
    )
    t1 = time.perf_counter()
    common.apply_dry(project.root)
    t2 = time.perf_counter()
    journal = project.state_path.with_name(project.state_path.name + ".journal")
    assert not journal.exists() or journal.stat().st_size == 0, "setup left a journal: the bound would miss it"
    size = project.state_path.stat().st_size
    common.report(
        f"setup N={n}",
        f"generated in {t1 - t0:.1f}s, applied in {t2 - t1:.1f}s; state {size / 1e6:.1f} MB",
    )

    the_plan, text = common.plan_and_render(project.root, refresh=False)
    changed = [c for c in the_plan.changes if c.action.changes]
    if changed or len(the_plan.changes) != n:
        raise SystemExit(f"setup is wrong: {len(changed)} change(s), {len(the_plan.changes)} entries for N={n}")
    common.report(f"  plan says (N={n})", common.summary_line(text))
    del the_plan, text

    files = [project.project_file, *project.resource_files]
    state_path = project.state_path

    def mlplan() -> None:
        common.plan_and_render(project.root, refresh=False)

    def lower_bound() -> None:
        for f in files:
            yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        json.loads(state_path.read_bytes())

    timings = common.best_of_each({"mlplan": mlplan, "lower": lower_bound}, repeat)
    common.report(f"mlplan plan --no-refresh (N={n})", timings["mlplan"].describe())
    common.report(f"lower bound: libyaml + json (N={n})", timings["lower"].describe())
    common.report(f"  ratio at N={n}", f"{timings['mlplan'].best / timings['lower'].best:.2f}")
    return timings


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("n", nargs="?", type=int, default=10_000, help="resources (default 10000)")
    parser.add_argument("--scale-n", type=int, help="second size for the scaling ratio (default 2N)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 2N run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept (default 3)")
    args = parser.parse_args()
    n, n2 = args.n, args.scale_n or 2 * args.n

    base = Path(tempfile.mkdtemp(prefix="mlplan-bench-plan-"))
    try:
        first = measure(base, n, args.repeat)
        shutil.rmtree(base / f"n{n}", ignore_errors=True)
        ratio = first["mlplan"].best / first["lower"].best
        if not args.no_scaling:
            second = measure(base, n2, args.repeat)
            scaling = second["mlplan"].best / first["mlplan"].best
            bound_scaling = second["lower"].best / first["lower"].best
            common.report(f"lower bound time({n2})/time({n})", f"{bound_scaling:.2f} (for reference)")
            common.report(f"mlplan time({n2})/time({n})", f"{scaling:.2f}")
            print(common.ratio_line(scaling, SCALING_TARGET, "scaling"))
        common.report(f"mlplan / lower bound at N={n}", f"{ratio:.2f}")
        print(common.ratio_line(ratio, RATIO_TARGET))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
