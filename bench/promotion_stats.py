"""The promotion statistics on N paired predictions: mlplan's `contingency` + `mcnemar` against a bare numpy
lower bound and against the peer, mlxtend's `mcnemar_table` + statsmodels' `mcnemar`, on the same arrays.

Setup (untimed): N seeded random labels of `--classes` classes and two prediction arrays, the champion right
on about 90 % of the rows and the challenger on about 90.03 %, independently (int64, as a model's class ids):
a close pair, so that the p-values compared are not 0.

Timed, interleaved round by round, best of R:
  mlplan  contingency(y, champion, challenger) then mcnemar(b, c) (mid-p, the policy default)
  bound   what any implementation must do: y == champion, y == challenger, their AND (in place), three
          np.count_nonzero (each right after its comparison); no input checks, no test
  peer    mlxtend.evaluate.mcnemar_table(y, champion, challenger), then statsmodels' mcnemar(table, exact=True)

All three tables are checked to agree. The last lines are the peer speed-up (peer time / mlplan time, target
>= 4) and `ratio:` mlplan time / bound time (target <= 1.5). Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import common
from mlplan.engine.promotion import contingency, mcnemar

TARGET = 1.5
PEER_TARGET = 4.0


def predictions(n: int, classes: int, seed: int) -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    champion = np.where(rng.random(n) < 0.90, y, (y + 1) % classes)
    challenger = np.where(rng.random(n) < 0.9003, y, (y + 1) % classes)
    return y, champion, challenger


def bound(y: np.ndarray[Any, Any], champion: np.ndarray[Any, Any], challenger: np.ndarray[Any, Any]) -> tuple[int, ...]:
    """The least work: two comparisons, one AND, three counts; the table follows by subtraction. Each count
    right after its comparison, while the array is still in cache."""
    champion_ok = y == champion
    champion_right = np.count_nonzero(champion_ok)
    challenger_ok = y == challenger
    challenger_right = np.count_nonzero(challenger_ok)
    both = np.count_nonzero(np.logical_and(champion_ok, challenger_ok, out=champion_ok))
    b, c = champion_right - both, challenger_right - both
    return int(both), int(b), int(c), int(len(y) - both - b - c)


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("n", type=int, nargs="?", default=10_000_000, help="paired predictions (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=10, help="rounds; the best is kept (default 10)")
    parser.add_argument("--classes", type=int, default=3, help="label classes (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    try:
        from mlxtend.evaluate import mcnemar_table
        from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
    except ImportError as exc:
        sys.exit(f"the peer is not installed ({exc}): pip install -e '.[bench]' -c constraints.txt")

    y, champion, challenger = predictions(args.n, args.classes, args.seed)
    results: dict[str, Any] = {}

    def ours() -> None:
        table = contingency(y, champion, challenger)
        results["mlplan"] = (table.as_matrix(), mcnemar(table.b, table.c).pvalue)

    def least() -> None:
        results["bound"] = bound(y, champion, challenger)

    def peer() -> None:
        table = mcnemar_table(y, champion, challenger)
        results["peer"] = (table, sm_mcnemar(table, exact=True).pvalue)

    for fn in (ours, least, peer):  # warm-up: imports (scipy.special), page faults of the arrays
        fn()
    (mine, pvalue), (theirs, their_p) = results["mlplan"], results["peer"]
    flat = tuple(v for row in mine for v in row)
    if flat != results["bound"] or flat != tuple(int(v) for v in np.asarray(theirs).ravel()):
        sys.exit(f"the tables disagree: mlplan {mine}, bound {results['bound']}, peer {theirs.tolist()}")

    timings = common.best_of_each({"mlplan": ours, "bound": least, "peer": peer}, args.repeat)
    common.report("paired predictions", f"{args.n:,} ({args.classes} classes, seed {args.seed})")
    common.report("table [[both right, b], [c, both wrong]]", str(mine))
    common.report("p-values", f"mlplan two-sided mid-p {pvalue:.3g}; statsmodels exact {their_p:.3g}")
    for name in ("mlplan", "bound", "peer"):
        common.report(name, timings[name].describe())
    common.report("mlplan / peer", f"{timings['mlplan'].best / timings['peer'].best:.3f}")
    speedup = timings["peer"].best / timings["mlplan"].best
    print(f"peer speed-up: {speedup:.1f}x (target >= {PEER_TARGET:g}x)")
    print(common.ratio_line(timings["mlplan"].best / timings["bound"].best, TARGET))


if __name__ == "__main__":
    main()
