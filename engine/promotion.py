"""Is the challenger measurably better than the champion? McNemar's test on paired predictions, and the decision.

Both models predict the same labelled evaluation rows. Only the rows where exactly one of them is right
say anything about which is better; ``contingency`` counts them:

    b = champion right, challenger wrong        c = champion wrong, challenger right

Under the null hypothesis (the two models are equally accurate) each of these b + c discordant rows is
equally likely to fall either way, so b ~ Binomial(b + c, 1/2). ``mcnemar(b, c)`` tests that:

- ``midp`` (the default): the mid-p binomial test, P(X < b) + P(X = b) / 2. Fagerland, Lydersen & Laake
  (2013, "The McNemar test for binary matched-pairs data: mid-p and asymptotic are better than exact
  conditional", BMC Medical Research Methodology 13:91) show that it kept the nominal level in all 9,595
  scenarios they studied, with almost the power of the asymptotic test, whereas the exact test is
  conservative (it rejects less often than alpha says, so a better challenger is kept out more often).
  Two-sided: twice the one-sided value, and 1 - P(X = b) / 2 when b = c (as there).
- ``exact``: the exact conditional (binomial) test, P(X <= b); two-sided min(1, 2 P(X <= min(b, c))).
- ``chi2``: McNemar's chi-square with Edwards' continuity correction, (|b - c| - 1)^2 / (b + c), 1 df.
- ``chi2-uncorrected``: (b - c)^2 / (b + c), 1 df (McNemar 1947).
- ``auto``: ``exact`` when b + c < ``exact_threshold`` (25), else ``chi2``: the textbook rule; the result's
  ``method`` says which one ran, e.g. ``"auto (exact)"``.

Two-sided p-values equal statsmodels' ``mcnemar`` (``exact=True``; ``exact=False`` with and without
``correction``) and R's ``mcnemar.test``. b + c = 0 is no evidence: p = 1 and statistic 0 for every
method and alternative (statsmodels' chi-square gives p = 0 there, which would promote a copy of the
champion).

``alternative`` is the alternative hypothesis: ``"greater"`` (the challenger is better: c > b) gives the
one-sided p-value P(X <= b), ``"less"`` P(X <= c), ``"two-sided"`` either. A promotion asks a one-sided
question (is the challenger better?), so ``Policy`` defaults to ``greater``: a two-sided test at the same
alpha would need stronger evidence for the direction that matters and spend the rest on showing that the
challenger is worse, which keeps the champion either way. The one-sided chi-square p-values are the
normal tails of z = (c - b - 1) / sqrt(b + c) (corrected) and (c - b) / sqrt(b + c).

Numerics: every p-value is a lower tail of the binomial (the regularized incomplete beta) or of the
normal distribution (erfc) computed directly, never as 1 - cdf, so counts of 10^9 neither overflow nor
lose a p-value that double precision can hold.

``decide(table, policy)`` turns the test into a promotion decision with reasons a reviewer can read and
the evidence as plain JSON-able data. See README.md, "Promotion".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from mlplan.core.suggest import did_you_mean

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "ALTERNATIVES",
    "METHODS",
    "POLICY_ALTERNATIVES",
    "Decision",
    "McNemarResult",
    "Policy",
    "Table",
    "contingency",
    "decide",
    "exact_threshold_problem",
    "mcnemar",
]

METHODS = ("midp", "exact", "chi2", "chi2-uncorrected", "auto")
ALTERNATIVES = ("two-sided", "greater", "less")
# A policy promotes a better challenger: "less" (is the challenger worse?) answers no question it asks.
POLICY_ALTERNATIVES = ("greater", "two-sided")
DEFAULT_EXACT_THRESHOLD = 25

# What the messages call each method.
_NAMES = {
    "midp": "mid-p",
    "exact": "exact",
    "chi2": "chi-square",
    "chi2-uncorrected": "uncorrected chi-square",
}


# -- McNemar's test ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class McNemarResult:
    """The outcome of ``mcnemar``.

    ``statistic``: for the binomial methods the count whose tail is the p-value (min(b, c) two-sided, as
    statsmodels reports it; b for ``greater``; c for ``less``); for the chi-square methods the chi-square
    value. ``method`` is the method that ran (``"auto (exact)"`` / ``"auto (chi2)"`` for ``auto``).
    """

    statistic: float
    pvalue: float
    method: str
    alternative: str
    b: int
    c: int


def mcnemar(
    b: int,
    c: int,
    method: str = "midp",
    alternative: str = "two-sided",
    *,
    exact_threshold: int = DEFAULT_EXACT_THRESHOLD,
) -> McNemarResult:
    """McNemar's test of b (champion right, challenger wrong) against c (champion wrong, challenger right).

    >>> round(mcnemar(12, 2, "chi2").pvalue, 3)  # Armitage & Berry's worked example, [[20, 12], [2, 16]]
    0.016

    Raises ValueError for a negative or non-integer count and an unknown method or alternative.
    """
    b, c = _count("b", b), _count("c", c)
    _choice("method", method, METHODS)
    _choice("alternative", alternative, ALTERNATIVES)
    threshold = _count("exact_threshold", exact_threshold, minimum=1)
    used = method
    if method == "auto":
        used = "exact" if b + c < threshold else "chi2"
    label = f"auto ({used})" if method == "auto" else method
    if b + c == 0:  # no discordant row: nothing to test, whatever the method
        return McNemarResult(0.0, 1.0, label, alternative, b, c)
    if used in ("exact", "midp"):
        statistic, pvalue = _binomial(b, c, alternative, mid=used == "midp")
    else:
        statistic, pvalue = _chi_square(b, c, alternative, corrected=used == "chi2")
    return McNemarResult(statistic, pvalue, label, alternative, b, c)


def _binomial(b: int, c: int, alternative: str, *, mid: bool) -> tuple[float, float]:
    n = b + c
    k = {"two-sided": min(b, c), "greater": b, "less": c}[alternative]
    at_most, below = _binom_cdf(k, n), _binom_cdf(k - 1, n)
    if alternative != "two-sided":
        return float(k), 0.5 * (at_most + below) if mid else at_most
    if not mid:
        return float(k), min(1.0, 2.0 * at_most)
    if b == c:  # the observed count is the centre: every other outcome is more extreme (Fagerland et al.)
        return float(k), 1.0 - 0.5 * (at_most - below)
    return float(k), min(1.0, at_most + below)


def _binom_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2): the regularized incomplete beta I_{1/2}(n - k, k + 1), which
    is what scipy.stats.binom.cdf computes (boost's ibeta), without importing scipy.stats."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    from scipy.special import betainc  # local: mlplan --help does not pay for scipy

    return float(betainc(n - k, k + 1, 0.5))


def _chi_square(b: int, c: int, alternative: str, *, corrected: bool) -> tuple[float, float]:
    n, correction = b + c, 1 if corrected else 0
    statistic = (abs(c - b) - correction) ** 2 / n  # integers until this one division: exact for any count
    # P(chi2_1 > x) = erfc(sqrt(x / 2)) and P(Z > z) = erfc(z / sqrt 2) / 2, with sqrt(x / 2) taken as
    # |d| / sqrt(2n) (no squaring, one rounding); math.erfc keeps the subnormal tail that scipy's chdtrc flushes.
    scale = math.sqrt(2 * n)
    if alternative == "two-sided":
        return statistic, math.erfc(abs(abs(c - b) - correction) / scale)
    toward = c - b if alternative == "greater" else b - c
    return statistic, 0.5 * math.erfc((toward - correction) / scale)


# -- the paired table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The paired 2x2 table of two models on the same rows: right/wrong of the champion by the challenger.

    Without a champion (a first model) there is nothing to pair with: b = c = 0, ``both_right`` and
    ``both_wrong`` count the challenger's right and wrong rows, ``champion_accuracy`` is None.
    """

    n: int
    both_right: int
    b: int  # champion right, challenger wrong
    c: int  # champion wrong, challenger right
    both_wrong: int
    champion_accuracy: float | None
    challenger_accuracy: float

    def __post_init__(self) -> None:
        counts = (self.both_right, self.b, self.c, self.both_wrong)
        if min(counts) < 0 or sum(counts) != self.n:
            raise ValueError(f"inconsistent table: {counts} does not add up to n = {self.n}")
        if self.champion_accuracy is None and (self.b or self.c):
            raise ValueError("a table without a champion has no discordant rows (b = c = 0)")

    @classmethod
    def from_counts(cls, both_right: int, b: int, c: int, both_wrong: int, *, has_champion: bool = True) -> Table:
        """The table of these counts, with its accuracies (e.g. from stored evidence)."""
        n = both_right + b + c + both_wrong
        if n == 0:
            raise ValueError("no rows: a table needs at least one labelled row")
        champion = (both_right + b) / n if has_champion else None
        return cls(n, both_right, b, c, both_wrong, champion, (both_right + c) / n)

    @property
    def has_champion(self) -> bool:
        return self.champion_accuracy is not None

    @property
    def champion_right(self) -> int:
        return self.both_right + self.b

    @property
    def challenger_right(self) -> int:
        return self.both_right + self.c

    def as_matrix(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """[[both right, b], [c, both wrong]]: rows the champion right/wrong, columns the challenger right/wrong
        (the layout of statsmodels' ``mcnemar`` and mlxtend's ``mcnemar_table``)."""
        return ((self.both_right, self.b), (self.c, self.both_wrong))


def contingency(y_true: npt.ArrayLike, champion_pred: npt.ArrayLike | None, challenger_pred: npt.ArrayLike) -> Table:
    """The paired table of ``champion_pred`` and ``challenger_pred`` against the labels ``y_true``.

    Any label dtype numpy compares (integers, strings, booleans, floats, objects); one label per row
    (a column vector of shape (n, 1) counts as one); ``champion_pred`` None for a first model. Raises
    ValueError for arrays of different lengths, no rows, a missing value (NaN, None; naming the array
    and the index of the first one) and labels and predictions that can never be equal (numbers
    against text).
    """
    import numpy as np  # local: mlplan --help does not pay for numpy

    y = _column("y_true", y_true)
    if len(y) == 0:
        raise ValueError("no rows: y_true is empty; an evaluation needs labelled rows")
    challenger = _column("challenger_pred", challenger_pred, len(y))
    champion = None if champion_pred is None else _column("champion_pred", champion_pred, len(y))
    n = len(y)
    challenger_ok = _equal(y, "challenger_pred", challenger)
    right = int(np.count_nonzero(challenger_ok))
    if champion is None:
        return Table(n, right, 0, 0, n - right, None, right / n)
    champion_ok = _equal(y, "champion_pred", champion)
    champion_right = int(np.count_nonzero(champion_ok))
    both = int(np.count_nonzero(np.logical_and(champion_ok, challenger_ok, out=champion_ok)))
    b, c = champion_right - both, right - both
    return Table(n, both, b, c, n - both - b - c, champion_right / n, right / n)


def _column(name: str, values: Any, rows: int | None = None) -> np.ndarray[Any, Any]:
    import numpy as np

    if values is None:
        raise ValueError(f"{name} is None; it must hold one value per row")
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must hold one value per row (a 1-dimensional array), not shape {array.shape}")
    if rows is not None and len(array) != rows:
        raise ValueError(f"{name} has {len(array)} rows but y_true has {rows}: both must describe the same rows")
    _no_missing(name, array)
    return array


def _no_missing(name: str, array: np.ndarray[Any, Any]) -> None:
    import numpy as np

    kind = array.dtype.kind
    if kind in "fc":
        # One sum tells whether a NaN can be there (NaN propagates; no boolean temporary of n rows);
        # only then look for where.
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and overflow only send us looking
            if np.isfinite(np.add.reduce(array)):
                return
        missing = np.isnan(array)
    elif kind == "O":
        missing = np.fromiter((_is_missing(v) for v in array), dtype=bool, count=len(array))
    else:
        return
    if missing.any():
        index = int(np.argmax(missing))
        value, more = array[index], int(np.count_nonzero(missing)) - 1
        shown = value.item() if isinstance(value, np.generic) else value
        raise ValueError(
            f"{name} has a missing value ({shown!r}) at index {index}{f' (and {more} more)' if more else ''}:"
            " every row needs a label and both predictions; drop or fill those rows"
        )


def _is_missing(value: Any) -> bool:
    return value is None or (
        isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and math.isnan(value)
    )


def _equal(y: np.ndarray[Any, Any], name: str, pred: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``y == pred`` row by row; a ValueError when their types can never compare equal."""
    import numpy as np

    numeric, text = "biufc", "US"
    kinds = y.dtype.kind, pred.dtype.kind
    if (kinds[0] in numeric and kinds[1] in text) or (kinds[0] in text and kinds[1] in numeric):
        what = {k: "numbers" if k in numeric else "text" for k in kinds}
        raise ValueError(
            f"y_true holds {what[kinds[0]]} ({y.dtype}) but {name} holds {what[kinds[1]]} ({pred.dtype}):"
            f" no prediction could equal its label; convert one to the other's type"
            f" (first values: {y[0]!r} and {pred[0]!r})"
        )
    try:
        result: np.ndarray[Any, Any] = np.equal(y, pred)
    except (TypeError, np.exceptions.DTypePromotionError) as exc:  # e.g. datetimes against numbers
        raise ValueError(f"cannot compare y_true ({y.dtype}) with {name} ({pred.dtype}): {exc}") from exc
    return result.astype(bool, copy=False)


# -- the policy and the decision ---------------------------------------------------------------------

# The statistical keys of a promotion policy (the rest: evaluation data, endpoint, scoring, batch size).
_STATISTICAL_KEYS = ("alpha", "method", "alternative", "min_accuracy_gain", "min_accuracy", "exact_threshold")


@dataclass(frozen=True)
class Policy:
    """The statistical part of a promotion policy (mlplan.yaml ``promotion.<model>``).

    Promote a challenger over a champion when McNemar's test (``method``, ``alternative``) gives
    p < ``alpha`` and its accuracy gain is at least ``min_accuracy_gain``; promote a first model (no
    champion) when its accuracy is at least ``min_accuracy``. ``exact_threshold`` is ``auto``'s switch.
    """

    alpha: float = 0.05
    method: str = "midp"
    alternative: str = "greater"
    min_accuracy_gain: float = 0.0
    min_accuracy: float = 0.0
    exact_threshold: int = DEFAULT_EXACT_THRESHOLD

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        if self.alternative == "less":
            raise ValueError(
                "alternative 'less' asks whether the challenger is worse, which no promotion policy asks;"
                f" use one of: {', '.join(POLICY_ALTERNATIVES)}"
            )
        _choice("alternative", self.alternative, POLICY_ALTERNATIVES)
        alpha = _real("alpha", self.alpha)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be strictly between 0 and 1, not {self.alpha!r} (0.05 is usual)")
        for name in ("min_accuracy_gain", "min_accuracy"):
            value = _real(name, getattr(self, name))
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a fraction between 0 and 1 (0.01 = 1 point), not {value!r}")
        _count("exact_threshold", self.exact_threshold, minimum=1)

    @classmethod
    def from_config(cls, policy: Mapping[str, Any]) -> Policy:
        """The statistical part of a ``promotion.<model>`` mapping; keys it does not own (evaluation_data,
        endpoint, ...) are left to their readers, keys no policy has are a ValueError (with did-you-mean)."""
        known = _policy_keys()
        for key in policy:
            if key not in known:
                raise ValueError(
                    f"unknown promotion policy key {key!r}{did_you_mean(str(key), known)}"
                    f"; a policy takes: {', '.join(sorted(known))}"
                )
        problem = exact_threshold_problem(policy)
        if problem is not None:
            raise ValueError(problem)
        return cls(**{k: policy[k] for k in _STATISTICAL_KEYS if k in policy})


def exact_threshold_problem(policy: Mapping[str, Any]) -> str | None:
    """``exact_threshold`` only steers ``method: auto``; with another method it would be silently ignored
    (it predates ``method``: then, it always meant the auto rule)."""
    if "exact_threshold" not in policy or policy.get("method", Policy.method) == "auto":
        return None
    return (
        f"exact_threshold only applies to method: auto (exact test below it, chi-square from it on),"
        f" but the method is {policy.get('method', Policy.method)}"
        f"{'' if 'method' in policy else ' (the default)'}: set method: auto to keep that rule,"
        " or remove exact_threshold"
    )


def _policy_keys() -> frozenset[str]:
    from mlplan.engine.config import project_schema  # the schema says which keys a policy has

    return frozenset(project_schema()["$defs"]["promotionPolicy"]["properties"])


@dataclass(frozen=True)
class Decision:
    """Whether to promote, the reasons (sentences for a reviewer), and the evidence as plain JSON-able data."""

    promote: bool
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The reasons as one line."""
        return "; ".join(self.reasons)


def decide(table: Table, policy: Policy) -> Decision:
    """Promote the challenger? See ``Policy``; b + c = 0 (no discordant row) never promotes a challenger."""
    evidence: dict[str, Any] = {
        **{k: getattr(table, k) for k in ("n", "both_right", "b", "c", "both_wrong")},
        "champion_accuracy": table.champion_accuracy,
        "challenger_accuracy": table.challenger_accuracy,
        "accuracy_gain": (table.c - table.b) / table.n if table.has_champion else None,
        "statistic": None,
        "pvalue": None,
        **asdict(policy),
    }
    if not table.has_champion:
        good = Fraction(table.challenger_right, table.n) >= _exactly(policy.min_accuracy)
        reason = (
            f"first model, no champion to compare with: accuracy {_accuracy(table.challenger_accuracy)}"
            f" on {_rows(table.n)} {'>=' if good else '<'} min_accuracy {_number(policy.min_accuracy)}"
        )
        return Decision(good, (reason,), evidence)

    result = mcnemar(table.b, table.c, policy.method, policy.alternative, exact_threshold=policy.exact_threshold)
    evidence.update(statistic=result.statistic, pvalue=result.pvalue, method=result.method)
    reasons = []
    if table.b + table.c == 0:
        significant = False
        reasons.append("no evidence: both models are right and wrong on the same rows")
    else:
        significant = result.pvalue < policy.alpha
        reasons.append(f"challenger right on {_rows(table.c)} the champion got wrong, wrong on {table.b} it got right")
        relation = "<" if significant else ">="
        verdict = "" if significant else ": not significant, the difference may be chance"
        reasons.append(
            f"{_test_name(result, policy)} {_shown(result.pvalue, policy.alpha, significant)}"
            f" {relation} alpha {_number(policy.alpha)}{verdict}"
        )
    gain = Fraction(table.c - table.b, table.n)
    enough = gain >= _exactly(policy.min_accuracy_gain)
    accuracy = f"accuracy {_accuracies(table.champion_accuracy or 0.0, table.challenger_accuracy)} on {_rows(table.n)}"
    if policy.min_accuracy_gain > 0 or not enough:
        accuracy += (
            f" (gain {_shown(float(gain), policy.min_accuracy_gain, not enough)} {'>=' if enough else '<'}"
            f" min_accuracy_gain {_number(policy.min_accuracy_gain)})"
        )
    reasons.append(accuracy)
    return Decision(significant and enough, tuple(reasons), evidence)


def _test_name(result: McNemarResult, policy: Policy) -> str:
    sided = "two-sided" if result.alternative == "two-sided" else "one-sided"
    if policy.method != "auto":
        return f"{sided} {_NAMES[result.method]}"
    used = result.method[len("auto (") : -1]
    discordant = result.b + result.c
    relation = "<" if used == "exact" else ">="
    return f"{sided} {_NAMES[used]} (auto: {discordant} discordant rows {relation} {policy.exact_threshold})"


# -- formatting: what the reasons show --------------------------------------------------------------


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _number(value: float) -> str:
    """A threshold as the user wrote it: 0.05, 0, 0.01."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _exactly(value: float) -> Fraction:
    """The decimal the user wrote (0.01 is 1/100, not the binary double just above it)."""
    return Fraction(repr(float(value)))


def _shown(value: float, bound: float, below: bool) -> str:
    """``value`` with as few significant digits as show truthfully whether it is below ``bound``
    (a p-value of 0.04996 is not shown as 0.05 < 0.05)."""
    for digits in range(2, 18):
        text = f"{value:.{digits}g}"
        if (float(text) < bound) == below:
            return text
    return repr(value)


def _accuracy(value: float) -> str:
    return f"{value:.3f}"


def _accuracies(before: float, after: float) -> str:
    """``0.947 -> 0.982``, with more digits only when three would hide a difference."""
    for digits in range(3, 9):
        old, new = f"{before:.{digits}f}", f"{after:.{digits}f}"
        if old != new or before == after:
            return f"{old} -> {new}"
    return f"{before!r} -> {after!r}"


# -- checking arguments -----------------------------------------------------------------------------


def _count(name: str, value: Any, minimum: int = 0) -> int:
    """A whole number >= ``minimum``: an int, a numpy integer, or a float with no fraction (3.0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a whole number, not {value!r} ({type(value).__name__})")
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    whole = int(float(value)) if not isinstance(value, numbers.Integral) else int(value)
    if whole < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {whole}")
    return whole


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    return float(value)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(
            f"unknown {name} {value!r}{did_you_mean(str(value), allowed)}; use one of: {', '.join(allowed)}"
        )
