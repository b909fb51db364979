"""McNemar's test, the paired table and the promotion decision (mlplan.engine.promotion), against the published
worked examples, statsmodels, exact rational arithmetic and a 40-digit reference for counts of 10^9."""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
import re
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from mlplan.engine.config import project_schema
from mlplan.engine.promotion import (
    ALTERNATIVES,
    METHODS,
    POLICY_ALTERNATIVES,
    Decision,
    Policy,
    Table,
    contingency,
    decide,
    mcnemar,
)

BINOMIAL = ("exact", "midp")
CHI_SQUARE = ("chi2", "chi2-uncorrected")


# -- references ---------------------------------------------------------------------------------------


@functools.cache
def _cumulative(n: int) -> list[int]:
    """C(n, 0), C(n, 0) + C(n, 1), ..., as integers."""
    sums, term = [], 1
    for i in range(n + 1):
        sums.append(term + (sums[-1] if sums else 0))
        term = term * (n - i) // (i + 1)
    return sums


def cdf(k: int, n: int) -> Fraction:
    """P(X <= k), X ~ Binomial(n, 1/2), exactly."""
    return Fraction(_cumulative(n)[k], 2**n) if k >= 0 else Fraction(0)


def exact_reference(b: int, c: int, method: str, alternative: str) -> Fraction:
    """The binomial p-values from their definitions (Fagerland, Lydersen & Laake 2013, supplementary), exactly."""
    n = b + c
    k = {"two-sided": min(b, c), "greater": b, "less": c}[alternative]
    pmf = cdf(k, n) - cdf(k - 1, n)
    one_sided = cdf(k, n) - (pmf / 2 if method == "midp" else 0)
    if alternative != "two-sided":
        return one_sided
    if method == "midp" and b == c:
        return 1 - pmf / 2
    return min(Fraction(1), 2 * one_sided)


def normal_reference(b: int, c: int, method: str, alternative: str) -> float:
    """The chi-square p-values through math.erfc: P(chi2_1 > x) = erfc(sqrt(x / 2)), P(Z > z) = erfc(z / sqrt 2) / 2."""
    correction = 1 if method == "chi2" else 0
    if alternative == "two-sided":
        return math.erfc(math.sqrt((abs(c - b) - correction) ** 2 / (b + c) / 2))
    toward = c - b if alternative == "greater" else b - c
    return math.erfc((toward - correction) / math.sqrt(b + c) / math.sqrt(2)) / 2


PI = Decimal("3.14159265358979323846264338327950288419716939937510")


def _ln_factorial(x: int) -> Decimal:
    """ln x! by Stirling's series; for x >= 10^6 the first omitted term is below 10^-40."""
    big = Decimal(x)
    return big * big.ln() - big + (2 * PI * big).ln() / 2 + 1 / (12 * big) - 1 / (360 * big**3) + 1 / (1260 * big**5)


def decimal_tail(k: int, n: int) -> tuple[float, float]:
    """(P(X <= k), P(X = k)) for X ~ Binomial(n, 1/2), n and k >= 10^6, with 40 significant digits: the
    point probability from Stirling, the tail summed downwards term by term (ratio (k - i) / (n - k + i + 1))."""
    with localcontext() as ctx:
        ctx.prec = 40
        pmf = (_ln_factorial(n) - _ln_factorial(k) - _ln_factorial(n - k) - n * Decimal(2).ln()).exp()
        term, total, i = Decimal(1), Decimal(0), 0
        while term > total * Decimal("1e-22") and i <= k:
            total += term
            term *= Decimal(k - i) / Decimal(n - k + i + 1)
            i += 1
        return float(pmf * total), float(pmf)


def close(got: float, want: float, rel: float = 1e-9) -> bool:
    return got == want or abs(got - want) <= rel * abs(want)


# -- the published worked examples ---------------------------------------------------------------------


def test_armitage_and_berry() -> None:
    """[[20, 12], [2, 16]] (Armitage & Berry, Statistical Methods in Medical Research): chi-square 5.79, p 0.016."""
    b, c = 12, 2
    chi2 = mcnemar(b, c, "chi2")
    assert chi2.statistic == pytest.approx(81 / 14, rel=1e-15)
    assert round(chi2.statistic, 2) == 5.79 and round(chi2.pvalue, 3) == 0.016
    assert close(chi2.pvalue, math.erfc(math.sqrt(81 / 14 / 2)), 1e-12)
    assert mcnemar(b, c, "chi2-uncorrected").statistic == pytest.approx(100 / 14, rel=1e-15)
    assert close(mcnemar(b, c, "exact").pvalue, 2 * (1 + 14 + 91) / 2**14, 1e-12)  # 0.0129
    assert close(mcnemar(b, c, "midp").pvalue, 2 * (1 + 14 + 91 / 2) / 2**14, 1e-12)  # 0.0074
    assert mcnemar(b, c, "exact").statistic == 2


def test_fagerland_lydersen_laake_example() -> None:
    """Bentur et al.'s airway hyper-responsiveness table [[1, 1], [7, 12]], the worked example of Fagerland,
    Lydersen & Laake (2013): exact 0.070, mid-p 0.039, asymptotic 0.034, with continuity correction 0.077."""
    b, c = 1, 7
    assert close(mcnemar(b, c, "exact").pvalue, 18 / 256, 1e-12)
    assert close(mcnemar(b, c, "midp").pvalue, 10 / 256, 1e-12)
    assert round(mcnemar(b, c, "chi2-uncorrected").pvalue, 3) == 0.034
    assert round(mcnemar(b, c, "chi2").pvalue, 3) == 0.077


# -- against statsmodels and exact arithmetic ------------------------------------------------------------


def _tables() -> list[tuple[int, int]]:
    rng = random.Random(8)
    small = [(b, c) for b, c in itertools.product(range(41), repeat=2) if b + c]
    large = [(rng.randrange(10**6), rng.randrange(10**6)) for _ in range(150)]
    near = [(m, m + rng.randrange(-3000, 3000)) for m in (rng.randrange(10**4, 10**6) for _ in range(150))]
    return small + large + near


@pytest.mark.parametrize("method", ["exact", "chi2", "chi2-uncorrected"])
def test_two_sided_values_equal_statsmodels(method: str) -> None:
    exact, correction = method == "exact", method == "chi2"
    for b, c in _tables():
        theirs = sm_mcnemar([[0, b], [c, 0]], exact=exact, correction=correction)
        ours = mcnemar(b, c, method)
        assert close(ours.pvalue, float(theirs.pvalue)), (b, c, ours, theirs.pvalue)
        assert close(ours.statistic, float(theirs.statistic), 1e-12), (b, c, ours, theirs.statistic)


@pytest.mark.parametrize(("method", "alternative"), list(itertools.product(BINOMIAL, ALTERNATIVES)))
def test_binomial_p_values_are_their_exact_definition(method: str, alternative: str) -> None:
    tables = [(b, c) for b, c in itertools.product(range(31), repeat=2) if b + c]
    tables += [(0, 1000), (3, 997), (400, 600), (1200, 1300), (1000, 4000), (2500, 2500)]
    for b, c in tables:
        want = float(exact_reference(b, c, method, alternative))
        assert close(mcnemar(b, c, method, alternative).pvalue, want, 1e-10), (b, c, want)


@pytest.mark.parametrize(("method", "alternative"), list(itertools.product(CHI_SQUARE, ALTERNATIVES)))
def test_chi_square_p_values_are_the_normal_tails(method: str, alternative: str) -> None:
    for b, c in [(12, 2), (2, 12), (30, 30), (1, 40), (500, 430), (10**6, 10**6 + 4000)]:
        want = normal_reference(b, c, method, alternative)
        assert close(mcnemar(b, c, method, alternative).pvalue, want, 1e-10), (b, c, want)


@pytest.mark.parametrize("method", ["exact", "midp", "chi2", "chi2-uncorrected"])
def test_one_sided_is_half_of_two_sided_in_the_direction_of_the_data(method: str) -> None:
    for b, c in [(9, 31), (100, 160), (3, 12)]:
        two = mcnemar(b, c, method, "two-sided").pvalue
        greater, less = mcnemar(b, c, method, "greater").pvalue, mcnemar(b, c, method, "less").pvalue
        assert close(greater, two / 2, 1e-12), (b, c)
        assert greater < 0.5 < less  # the data point to a better challenger
        assert mcnemar(c, b, method, "less").pvalue == greater  # mirror image


# -- b + c = 0, b = c ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "alternative"), list(itertools.product(METHODS, ALTERNATIVES)))
def test_no_discordant_rows_is_no_evidence(method: str, alternative: str) -> None:
    result = mcnemar(0, 0, method, alternative)
    assert (result.pvalue, result.statistic, result.b, result.c) == (1.0, 0.0, 0, 0)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels' 1 / (b + c)
def test_statsmodels_chi_square_would_promote_a_copy_of_the_champion_mlplan_never_does() -> None:
    assert float(sm_mcnemar([[50, 0], [0, 50]], exact=False).pvalue) == 0.0  # their p = 0: "significant"
    table = contingency(np.arange(100) % 3, np.zeros(100, dtype=int), np.zeros(100, dtype=int))
    assert (table.b, table.c) == (0, 0)
    for method, alternative in itertools.product(METHODS, POLICY_ALTERNATIVES):
        decision = decide(table, Policy(alpha=0.99, method=method, alternative=alternative))
        assert not decision.promote
        assert decision.reasons[0] == "no evidence: both models are right and wrong on the same rows"
        assert decision.evidence["pvalue"] == 1.0


@pytest.mark.parametrize("k", [1, 7, 40, 1000])
def test_equal_counts(k: int) -> None:
    assert mcnemar(k, k, "exact").pvalue == 1.0
    assert mcnemar(k, k, "chi2-uncorrected").pvalue == 1.0
    assert close(mcnemar(k, k, "midp").pvalue, float(1 - (cdf(k, 2 * k) - cdf(k - 1, 2 * k)) / 2), 1e-12)
    assert close(mcnemar(k, k, "midp", "greater").pvalue, 0.5, 1e-12)
    assert mcnemar(k, k, "chi2").pvalue < 1.0  # (|b - c| - 1)^2 / (b + c) = 1 / 2k, as statsmodels and R


# -- tiny and huge counts -------------------------------------------------------------------------------------


def test_tiny_p_values_do_not_underflow_to_a_wrong_zero() -> None:
    assert mcnemar(0, 1000, "exact", "greater").pvalue == pytest.approx(2.0**-1000, rel=1e-12)
    assert mcnemar(0, 1000, "midp", "greater").pvalue == pytest.approx(2.0**-1001, rel=1e-12)
    assert mcnemar(0, 1000, "exact").pvalue == pytest.approx(2.0**-999, rel=1e-12)
    assert mcnemar(0, 1000, "exact", "less").pvalue == 1.0
    assert 0 < mcnemar(0, 1450, "chi2-uncorrected").pvalue < 1e-308  # erfc(26.9) ~ 3e-317: a subnormal, not 0
    assert 0 < mcnemar(0, 1450, "chi2-uncorrected", "greater").pvalue < 1e-308


HUGE = [
    (10**9, 10**9 + 3 * 10**5),  # z ~ 6.7: p ~ 1e-11
    (10**9, 10**9 + 6 * 10**5),  # z ~ 13.4: p ~ 1e-41
    (10**9, 10**9 + 90_000),  # p ~ 0.04
    (2 * 10**9, 2 * 10**9 + 1),
]


@pytest.mark.parametrize(("b", "c"), HUGE)
def test_huge_counts_against_a_40_digit_reference(b: int, c: int) -> None:
    n = b + c
    at_most, pmf = decimal_tail(b, n)
    assert close(mcnemar(b, c, "exact", "greater").pvalue, at_most)
    assert close(mcnemar(b, c, "midp", "greater").pvalue, at_most - pmf / 2)
    assert close(mcnemar(b, c, "exact").pvalue, min(1.0, 2 * at_most))
    assert close(mcnemar(b, c, "midp").pvalue, min(1.0, 2 * at_most - pmf))
    for method, alternative in itertools.product(CHI_SQUARE, ALTERNATIVES):
        result = mcnemar(b, c, method, alternative)
        assert close(result.pvalue, normal_reference(b, c, method, alternative), 1e-9), (method, alternative)
        assert math.isfinite(result.statistic)


def test_huge_equal_counts_and_a_p_value_too_small_for_a_double() -> None:
    k = 10**9
    _, pmf = decimal_tail(k, 2 * k)
    assert close(mcnemar(k, k, "midp").pvalue, 1 - pmf / 2, 1e-14)
    for method in ("exact", "midp", "chi2", "chi2-uncorrected"):
        result = mcnemar(k, 2 * k, method, "greater")  # p ~ exp(-10^8): 0 is the right double
        assert result.pvalue == 0.0 and math.isfinite(result.statistic)
        assert mcnemar(k, 2 * k, method, "less").pvalue == 1.0


def test_numpy_and_integral_float_counts() -> None:
    assert mcnemar(np.int64(12), np.uint32(2), "chi2") == mcnemar(12, 2, "chi2")
    assert mcnemar(12.0, 2.0, "exact").pvalue == mcnemar(12, 2, "exact").pvalue


# -- auto and bad input ------------------------------------------------------------------------------------


def test_auto_is_exact_below_the_threshold_then_chi_square() -> None:
    assert mcnemar(10, 14, "auto").method == "auto (exact)"
    assert mcnemar(10, 14, "auto").pvalue == mcnemar(10, 14, "exact").pvalue
    assert mcnemar(10, 15, "auto").method == "auto (chi2)"
    assert mcnemar(10, 15, "auto").pvalue == mcnemar(10, 15, "chi2").pvalue
    assert mcnemar(10, 15, "auto", exact_threshold=26).method == "auto (exact)"
    assert mcnemar(0, 0, "auto").method == "auto (exact)"


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((-1, 3), {}, "b must be at least 0, not -1"),
        ((3, -2), {}, "c must be at least 0"),
        ((2.5, 3), {}, "b must be a whole number, not 2.5"),
        ((3, float("nan")), {}, "c must be a whole number, not nan"),
        (("3", 4), {}, "b must be a whole number, not '3' (str)"),
        ((True, 4), {}, "b must be a whole number, not True (bool)"),
        ((None, 4), {}, "b must be a whole number, not None"),
        ((3, 4), {"method": "mdip"}, "unknown method 'mdip'; did you mean 'midp'?; use one of: midp, exact,"),
        ((3, 4), {"method": "chi2_uncorrected"}, "did you mean 'chi2-uncorrected'?"),
        ((3, 4), {"alternative": "greatr"}, "unknown alternative 'greatr'; did you mean 'greater'?"),
        ((3, 4), {"method": "auto", "exact_threshold": 0}, "exact_threshold must be at least 1"),
    ],
)
def test_bad_input_is_a_clear_value_error(args: tuple[object, ...], kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        mcnemar(*args, **kwargs)  # type: ignore[arg-type]


# -- the paired table --------------------------------------------------------------------------------------------


def loop_table(y: list[object], champion: list[object], challenger: list[object]) -> tuple[int, int, int, int]:
    cells = [(t == p, t == q) for t, p, q in zip(y, champion, challenger, strict=True)]
    return (
        cells.count((True, True)),
        cells.count((True, False)),
        cells.count((False, True)),
        cells.count((False, False)),
    )


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a,
        lambda a: a.astype(np.int8),
        lambda a: a.astype(float),
        lambda a: np.array(["setosa", "versicolor", "virginica"])[a],
        lambda a: np.array([b"x", b"y", b"z"])[a],
        lambda a: a == 1,
        lambda a: np.array(["a", 2, 3.5], dtype=object)[a],
        lambda a: [str(v) for v in a],
    ],
    ids=["int64", "int8", "float", "str", "bytes", "bool", "object", "list"],
)
def test_contingency_counts_any_label_type(convert: object) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 500)
    champion = np.where(rng.random(500) < 0.8, y, (y + 1) % 3)
    challenger = np.where(rng.random(500) < 0.85, y, (y + 2) % 3)
    args = [convert(a) for a in (y, champion, challenger)]  # type: ignore[operator]
    table = contingency(*args)
    counts = loop_table(*(list(np.asarray(a)) for a in args))
    assert (table.both_right, table.b, table.c, table.both_wrong) == counts
    assert table.n == 500 and table.as_matrix() == ((counts[0], counts[1]), (counts[2], counts[3]))
    assert table.champion_accuracy == (counts[0] + counts[1]) / 500
    assert table.challenger_accuracy == (counts[0] + counts[2]) / 500


def test_contingency_without_a_champion() -> None:
    table = contingency(["a", "b", "a", "c"], None, ["a", "b", "b", "c"])
    assert (table.n, table.both_right, table.b, table.c, table.both_wrong) == (4, 3, 0, 0, 1)
    assert table.champion_accuracy is None and not table.has_champion and table.challenger_accuracy == 0.75


def test_contingency_takes_a_column_vector() -> None:
    y = np.array([[1], [0], [1]])
    table = contingency(y, y, np.array([1, 1, 1]))
    assert (table.both_right, table.b, table.c, table.both_wrong) == (2, 1, 0, 0)


@pytest.mark.parametrize(
    ("y", "champion", "challenger", "says"),
    [
        ([1, 2, 3], [1, 2], [1, 2, 3], "champion_pred has 2 rows but y_true has 3"),
        ([1, 2, 3], [1, 2, 3], [1, 2, 3, 4], "challenger_pred has 4 rows but y_true has 3"),
        ([1.0, np.nan, 3.0], [1, 2, 3], [1, 2, 3], "y_true has a missing value (nan) at index 1"),
        ([1, 2, 3, 4], [1, 2, 3, 4], [1.0, 2.0, np.nan, np.nan], "challenger_pred has a missing value (nan) at index 2"
         " (and 1 more)"),
        (["a", "b"], np.array(["a", None], dtype=object), ["a", "b"], "champion_pred has a missing value (None) at"
         " index 1"),
        (np.array(["a", float("nan")], dtype=object), ["a", "b"], ["a", "b"], "y_true has a missing value (nan)"),
        ([], [], [], "no rows: y_true is empty"),
        ([0, 1], [0, 1], ["0", "1"], "y_true holds numbers (int64) but challenger_pred holds text (<U1)"),
        ([[1, 2], [3, 4]], [1, 2], [1, 2], "y_true must hold one value per row (a 1-dimensional array), not shape"
         " (2, 2)"),
        ([1, 2], [1, 2], None, "challenger_pred is None"),
    ],
    ids=["short-champion", "long-challenger", "nan-label", "nan-prediction", "none-object", "nan-object", "empty",
         "number-vs-text", "two-columns", "no-challenger"],
)  # fmt: skip
def test_contingency_refuses_bad_input(y: object, champion: object, challenger: object, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        contingency(y, champion, challenger)  # type: ignore[arg-type]


def test_infinities_are_labels_not_missing_values() -> None:
    y = np.array([np.inf, -np.inf, 1.0])
    assert contingency(y, y, np.array([np.inf, 0.0, 1.0])).b == 1


def test_table_counts_must_add_up() -> None:
    assert Table.from_counts(20, 12, 2, 16).as_matrix() == ((20, 12), (2, 16))
    assert Table.from_counts(20, 12, 2, 16).champion_accuracy == 32 / 50
    assert Table.from_counts(5, 0, 0, 5, has_champion=False).champion_accuracy is None
    with pytest.raises(ValueError, match="does not add up"):
        Table(10, 1, 2, 3, 5, 0.3, 0.4)
    with pytest.raises(ValueError, match="no discordant rows"):
        Table(10, 1, 2, 3, 4, None, 0.4)
    with pytest.raises(ValueError, match="no rows"):
        Table.from_counts(0, 0, 0, 0)


# -- the policy ---------------------------------------------------------------------------------------------------


def test_policy_defaults_are_the_schemas() -> None:
    schema = project_schema()["$defs"]["promotionPolicy"]["properties"]
    policy = Policy()
    for key in ("alpha", "method", "alternative", "min_accuracy_gain", "min_accuracy", "exact_threshold"):
        assert schema[key]["default"] == getattr(policy, key), key
    assert tuple(schema["method"]["enum"]) == METHODS
    assert tuple(schema["alternative"]["enum"]) == POLICY_ALTERNATIVES


def test_policy_from_config_takes_the_statistical_keys() -> None:
    config = {
        "evaluation_data": "azureml:eval@latest",
        "label_column": "y",
        "endpoint": "cancer",
        "alpha": 0.01,
        "method": "auto",
        "alternative": "two-sided",
        "min_accuracy_gain": 0.02,
        "min_accuracy": 0.9,
        "exact_threshold": 30,
        "batch_size": 50,
        "scoring": "mlflow",
    }
    assert Policy.from_config(config) == Policy(0.01, "auto", "two-sided", 0.02, 0.9, 30)
    assert Policy.from_config({"endpoint": "e"}) == Policy()


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"aplha": 0.01}, "unknown promotion policy key 'aplha'; did you mean 'alpha'?"),
        ({"alpha": 0}, "alpha must be strictly between 0 and 1, not 0"),
        ({"alpha": 1.5}, "alpha must be strictly between 0 and 1"),
        ({"alpha": True}, "alpha must be a number, not True"),
        ({"alpha": "0.05"}, "alpha must be a number, not '0.05'"),
        ({"method": "midpp"}, "unknown method 'midpp'; did you mean 'midp'?"),
        ({"alternative": "less"}, "alternative 'less' asks whether the challenger is worse, which no promotion policy"
         " asks; use one of: greater, two-sided"),
        ({"alternative": "greater than"}, "unknown alternative 'greater than'; did you mean 'greater'?"),
        ({"min_accuracy": 90}, "min_accuracy must be a fraction between 0 and 1 (0.01 = 1 point), not 90.0"),
        ({"min_accuracy_gain": -0.01}, "min_accuracy_gain must be a fraction between 0 and 1"),
        ({"exact_threshold": 25}, "exact_threshold only applies to method: auto (exact test below it, chi-square from"
         " it on), but the method is midp (the default): set method: auto to keep that rule, or remove"),
        ({"method": "exact", "exact_threshold": 25}, "but the method is exact:"),
        ({"method": "auto", "exact_threshold": 0}, "exact_threshold must be at least 1"),
    ],
)  # fmt: skip
def test_policy_refuses_bad_values(config: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        Policy.from_config(config)


# -- the decision ---------------------------------------------------------------------------------------------------


def test_a_better_challenger_is_promoted_with_reasons_a_reviewer_reads() -> None:
    decision = decide(Table.from_counts(560, 9, 31, 20), Policy())
    assert decision.promote
    assert decision.reasons == (
        "challenger right on 31 rows the champion got wrong, wrong on 9 it got right",
        "one-sided mid-p 0.00022 < alpha 0.05",
        "accuracy 0.918 -> 0.953 on 620 rows",
    )
    assert decision.summary == "; ".join(decision.reasons)
    assert decision.evidence["pvalue"] == mcnemar(9, 31, "midp", "greater").pvalue


def test_evidence_is_plain_json() -> None:
    for table in (Table.from_counts(560, 9, 31, 20), Table.from_counts(50, 0, 0, 5, has_champion=False)):
        evidence = decide(table, Policy(method="auto")).evidence
        assert json.loads(json.dumps(evidence, allow_nan=False)) == evidence
    evidence = decide(Table.from_counts(560, 9, 31, 20), Policy(method="auto")).evidence
    assert evidence == {
        "n": 620,
        "both_right": 560,
        "b": 9,
        "c": 31,
        "both_wrong": 20,
        "champion_accuracy": 569 / 620,
        "challenger_accuracy": 591 / 620,
        "accuracy_gain": 22 / 620,
        "statistic": mcnemar(9, 31, "chi2", "greater").statistic,
        "pvalue": mcnemar(9, 31, "chi2", "greater").pvalue,
        "method": "auto (chi2)",
        "alternative": "greater",
        "alpha": 0.05,
        "min_accuracy_gain": 0.0,
        "min_accuracy": 0.0,
        "exact_threshold": 25,
    }


def test_not_significant_keeps_the_champion() -> None:
    decision = decide(Table.from_counts(900, 20, 31, 49), Policy(method="auto"))
    assert not decision.promote
    assert decision.reasons[1] == (
        "one-sided chi-square (auto: 51 discordant rows >= 25) 0.081 >= alpha 0.05: not significant,"
        " the difference may be chance"
    )
    small = decide(Table.from_counts(900, 2, 9, 89), Policy(method="auto"))
    assert small.reasons[1].startswith("one-sided exact (auto: 11 discordant rows < 25) 0.033 < alpha 0.05")


def test_a_significant_but_small_gain_is_not_enough() -> None:
    decision = decide(Table.from_counts(9000, 100, 160, 740), Policy(min_accuracy_gain=0.01))
    assert not decision.promote
    assert decision.reasons[2] == "accuracy 0.910 -> 0.916 on 10000 rows (gain 0.006 < min_accuracy_gain 0.01)"
    assert decision.evidence["pvalue"] < 0.001


def test_a_gain_of_exactly_min_accuracy_gain_is_enough() -> None:
    decision = decide(Table.from_counts(900, 0, 10, 90), Policy(min_accuracy_gain=0.01))  # gain 10/1000
    assert decision.promote, decision.reasons
    assert decision.reasons[2] == "accuracy 0.900 -> 0.910 on 1000 rows (gain 0.01 >= min_accuracy_gain 0.01)"


def test_two_sided_never_promotes_a_significantly_worse_challenger() -> None:
    decision = decide(Table.from_counts(500, 40, 5, 55), Policy(alternative="two-sided"))
    assert not decision.promote
    assert decision.reasons[1].startswith("two-sided mid-p ") and " < alpha 0.05" in decision.reasons[1]
    assert decision.reasons[2] == "accuracy 0.900 -> 0.842 on 600 rows (gain -0.058 < min_accuracy_gain 0)"


def test_a_p_value_just_under_alpha_is_shown_under_alpha() -> None:
    table = Table.from_counts(560, 20, 35, 20)
    p = mcnemar(20, 35, "midp", "greater").pvalue
    for alpha in (p * (1 + 1e-9), p):
        decision = decide(table, Policy(alpha=alpha))
        shown = float(decision.reasons[1].split()[2])
        assert (shown < alpha) == (p < alpha) == decision.promote, decision.reasons[1]


def test_first_model_must_reach_min_accuracy() -> None:
    table = contingency(np.arange(100) % 2, None, np.r_[np.arange(90) % 2, np.ones(10, dtype=int) * 7])
    assert table.challenger_right == 90
    passed = decide(table, Policy(min_accuracy=0.9))  # 90 of 100: exactly 0.9, which 0.9 as a double is not
    assert passed.promote
    assert passed.reasons == (
        "first model, no champion to compare with: accuracy 0.900 on 100 rows >= min_accuracy 0.9",
    )
    failed = decide(table, Policy(min_accuracy=0.91))
    assert not failed.promote and "0.900 on 100 rows < min_accuracy 0.91" in failed.reasons[0]
    assert failed.evidence["pvalue"] is None and failed.evidence["champion_accuracy"] is None


def test_decision_is_a_frozen_value() -> None:
    decision = decide(Table.from_counts(1, 0, 1, 0), Policy())
    assert isinstance(decision, Decision)
    with pytest.raises(AttributeError):
        decision.promote = True  # type: ignore[misc]
