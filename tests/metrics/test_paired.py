"""Paired comparisons of two models on the same rows: intervals, McNemar, verdicts, coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from mlstrat._exceptions import InputError
from mlstrat.metrics._paired import (
    BETTER,
    TIED,
    WORSE,
    mcnemar_exact,
    paired_difference,
    paired_rate_interval,
    unpaired_difference,
    verdict,
)


def _newcombe_reference(a: int, b: int, c: int, d: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Newcombe (1998) method 10 written out from the paper, independently of the module."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n

    def wilson(x: int) -> tuple[float, float]:
        p = x / n
        centre = 2 * n * p + z * z
        spread = z * math.sqrt(z * z + 4 * n * p * (1 - p))
        return (centre - spread) / (2 * (n + z * z)), (centre + spread) / (2 * (n + z * z))

    l1, u1 = wilson(a + b)
    l2, u2 = wilson(a + c)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    numerator = a * d - b * c
    if denominator == 0:
        phi = 0.0
    elif numerator > n / 2:
        phi = (numerator - n / 2) / math.sqrt(denominator)
    elif numerator >= 0:
        phi = 0.0
    else:
        phi = numerator / math.sqrt(denominator)
    theta = p1 - p2
    delta = math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    epsilon = math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return theta - delta, theta + epsilon


def test_newcombe_worked_example_of_the_paper() -> None:
    # Newcombe (1998), Statistics in Medicine 17:2635, example (a): a, b, c, d = 36, 12, 2, 0;
    # method 10 gives 0.0569 to 0.3404 around the difference 0.2
    d, low, high = paired_rate_interval(36, 12, 2, 0)
    assert d == pytest.approx(0.2)
    assert (round(low, 4), round(high, 4)) == (0.0569, 0.3404)


@pytest.mark.parametrize("table", [(36, 12, 2, 0), (1, 1, 7, 12), (59, 6, 16, 80), (0, 0, 0, 10),
                                   (5, 0, 0, 5), (3, 9, 1, 40), (20, 3, 3, 20), (0, 4, 0, 0)])
def test_newcombe_interval_equals_the_formula_written_independently(table: tuple[int, ...]) -> None:
    _, low, high = paired_rate_interval(*table)
    ref_low, ref_high = _newcombe_reference(*table)
    assert low == pytest.approx(max(ref_low, -1.0), abs=1e-12)
    assert high == pytest.approx(min(ref_high, 1.0), abs=1e-12)


@pytest.mark.parametrize("b, c", [(0, 0), (1, 0), (3, 9), (10, 10), (0, 25), (40, 17), (120, 90)])
def test_mcnemar_exact_equals_statsmodels(b: int, c: int) -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    expected = mcnemar(np.array([[30, b], [c, 50]]), exact=True).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_paired_rate_difference_counts_discordant_rows_and_tests_them() -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    a = np.array([1] * 10 + [1] * 12 + [0] * 3 + [0] * 75)  # A wrong on 22 rows
    b = np.array([1] * 10 + [0] * 12 + [1] * 3 + [0] * 75)  # B fixes 12 of them, breaks 3
    d = paired_difference("rate", a, b)
    assert (d.before, d.after, d.value) == (0.22, 0.13, pytest.approx(-0.09))
    assert d.discordant == (3, 12)
    assert d.p_value == pytest.approx(mcnemar(np.array([[10, 12], [3, 75]]), exact=True).pvalue)
    low, high = _newcombe_reference(10, 3, 12, 75)  # B - A: B's mistakes first
    assert (d.ci_low, d.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert d.verdict == BETTER and d.paired


def test_verdict_follows_the_metric_direction() -> None:
    assert verdict(-0.05, -0.01) == BETTER
    assert verdict(0.01, 0.05) == WORSE
    assert verdict(-0.01, 0.02) == TIED
    assert verdict(0.01, 0.05, higher_is_better=True) == BETTER
    assert verdict(-0.05, -0.01, higher_is_better=True) == WORSE
    assert verdict(float("nan"), 1.0) == TIED


def test_pairing_is_tighter_than_independent_intervals() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(400) < 0.2
    b = a.copy()
    b[np.flatnonzero(a)[:12]] = False  # B fixes 12 of A's mistakes and changes nothing else
    paired = paired_difference("rate", a, b)
    from mlstrat.metrics._intervals import wilson_interval

    n = len(a)
    unpaired = unpaired_difference((a.mean(), *wilson_interval(a.sum(), n)),
                                   (b.mean(), *wilson_interval(b.sum(), n)), n=n)
    assert paired.verdict == BETTER and unpaired.verdict == TIED
    assert paired.ci_high - paired.ci_low < (unpaired.ci_high - unpaired.ci_low) / 2


def test_paired_mean_rmse_and_ratio_against_direct_computation() -> None:
    rng = np.random.default_rng(0)
    n = 300
    e_a, e_b = rng.normal(0, 1.0, n), rng.normal(0, 0.8, n)
    z = norm.ppf(0.975)
    mae = paired_difference("mean", np.abs(e_a), np.abs(e_b))
    diff = np.abs(e_b) - np.abs(e_a)
    assert mae.value == pytest.approx(diff.mean())
    assert mae.ci_high - mae.value == pytest.approx(z * diff.std(ddof=1) / math.sqrt(n))

    rmse = paired_difference("rmse", e_a**2, e_b**2)
    r_a, r_b = math.sqrt(np.mean(e_a**2)), math.sqrt(np.mean(e_b**2))
    assert rmse.value == pytest.approx(r_b - r_a)
    cov = np.cov(np.vstack([e_a**2, e_b**2]))
    grad = np.array([-1 / (2 * r_a), 1 / (2 * r_b)])
    assert rmse.ci_high - rmse.value == pytest.approx(z * math.sqrt(grad @ cov @ grad / n))

    words = rng.integers(3, 20, n).astype(float)
    x_a, x_b = rng.binomial(words.astype(int), 0.2), rng.binomial(words.astype(int), 0.15)
    ratio = paired_difference("ratio", (x_a, words), (x_b, words))
    assert ratio.before == pytest.approx(x_a.sum() / words.sum())
    assert ratio.value == pytest.approx(x_b.sum() / words.sum() - x_a.sum() / words.sum())


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InputError, match=r"same non-zero number of rows on both sides \(got \[2, 3\]\)"):
        paired_difference("rate", [0, 1], [0, 1, 1])
    with pytest.raises(InputError, match="kind 'f1' is not one of rate, mean, rmse, ratio"):
        paired_difference("f1", [0], [1])


# -- coverage: the 95% interval covers the true difference in 93-97% of repeated samples -----

_DRAWS = 1000


def _coverage(kind: str, draw, truth: float) -> float:
    rng = np.random.default_rng(20261206)
    hits = 0
    for _ in range(_DRAWS):
        a, b = draw(rng)
        d = paired_difference(kind, a, b)
        hits += d.ci_low <= truth <= d.ci_high
    return hits / _DRAWS


def test_coverage_of_the_paired_rate_interval() -> None:
    # correlated mistakes: P(A wrong) = 0.20, P(B wrong) = 0.15, P(both) = 0.10; n = 200
    probs = np.array([0.10, 0.10, 0.05, 0.75])  # both, A only, B only, neither

    def draw(rng):
        cell = rng.choice(4, size=200, p=probs)
        return (cell == 0) | (cell == 1), (cell == 0) | (cell == 2)

    assert 0.93 <= _coverage("rate", draw, -0.05) <= 0.97


def test_coverage_of_the_paired_mean_interval() -> None:
    def draw(rng):
        shared = rng.exponential(1.0, 150)
        return shared + rng.exponential(0.5, 150), shared + rng.exponential(0.4, 150)

    assert 0.93 <= _coverage("mean", draw, -0.1) <= 0.97


def test_coverage_of_the_paired_rmse_interval() -> None:
    # e_a ~ N(0, 1), e_b = 0.6 e_a + N(0, 0.5^2): RMSE_a = 1, RMSE_b = sqrt(0.36 + 0.25)
    def draw(rng):
        e_a = rng.normal(0, 1, 300)
        e_b = 0.6 * e_a + rng.normal(0, 0.5, 300)
        return e_a**2, e_b**2

    assert 0.93 <= _coverage("rmse", draw, math.sqrt(0.61) - 1.0) <= 0.97


def test_coverage_of_the_paired_ratio_interval() -> None:
    # word errors per utterance: A errs on 20% of the words, B on 15%; same utterances
    def draw(rng):
        words = rng.integers(2, 30, 200)
        hard = rng.random(200) < 0.3  # hard utterances hurt both models
        x_a = rng.binomial(words, np.where(hard, 0.4, 0.2 / 0.7 - 0.4 * 0.3 / 0.7))
        x_b = rng.binomial(words, np.where(hard, 0.3, 0.15 / 0.7 - 0.3 * 0.3 / 0.7))
        return (x_a, words), (x_b, words)

    assert 0.93 <= _coverage("ratio", draw, -0.05) <= 0.97
