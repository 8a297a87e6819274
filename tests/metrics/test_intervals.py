"""Intervals checked against independent computations (scipy, published values, bootstrap)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, norm

from mlstrat.metrics import metrics_from_arrays, mover_difference, wilson_interval
from mlstrat.metrics._from_counts import Counts, _f1_sd
from mlstrat.metrics._intervals import Z95, needed_size


def test_z95_is_the_normal_quantile():
    assert Z95 == pytest.approx(norm.ppf(0.975), abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_matches_scipy(n, data):
    k = data.draw(st.integers(0, n))
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(ci.low, abs=1e-12)
    assert high == pytest.approx(ci.high, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
        ((56, 70), (48, 80), (0.0524, 0.3339)),
        ((9, 10), (3, 10), (0.1705, 0.8090)),
        ((5, 56), (0, 29), (-0.0381, 0.1926)),
    ],
)
def test_mover_with_wilson_is_newcombe_hybrid_score(a, b, expected):
    pa, pb = a[0] / a[1], b[0] / b[1]
    low, high = mover_difference(pa, *wilson_interval(*a), pb, *wilson_interval(*b))
    assert (round(low, 4), round(high, 4)) == expected


def test_mover_with_an_exact_reference_keeps_the_one_sided_width():
    low, high = mover_difference(0.08, 0.06, 0.11, 0.01, 0.01, 0.01)
    assert (low, high) == pytest.approx((0.05, 0.10))


def test_accuracy_interval_mirrors_error_interval():
    m = metrics_from_arrays([0] * 90 + [1] * 10, [0] * 95 + [1] * 5)
    assert m.accuracy_ci == pytest.approx((1 - m.error_ci[1], 1 - m.error_ci[0]))


def _f1_binary(c):
    tp, fn, fp = c[1, 1], c[1, 0], c[0, 1]
    return 2 * tp / (2 * tp + fp + fn)


def test_f1_delta_method_matches_numeric_gradient_and_closed_form():
    rng = np.random.default_rng(0)
    c = rng.integers(5, 50, size=(4, 4)).astype(float)

    def macro_f1(m):
        rows, cols = m.sum(1), m.sum(0)
        return np.mean(2 * np.diag(m) / (rows + cols))

    grad = np.zeros_like(c)
    eps = 1e-6
    for i in range(4):
        for j in range(4):
            up, down = c.copy(), c.copy()
            up[i, j] += eps
            down[i, j] -= eps
            grad[i, j] = (macro_f1(up) - macro_f1(down)) / (2 * eps)
    assert _f1_sd(c, range(4)) == pytest.approx(math.sqrt(np.sum(grad**2 * c)), rel=1e-6)

    b = np.array([[50.0, 7.0], [9.0, 34.0]])
    tp, fp, fn = 34.0, 7.0, 9.0
    closed = math.sqrt(4 * tp * (fp + fn) * (tp + fp + fn) / (2 * tp + fp + fn) ** 4)
    assert _f1_sd(b, [1]) == pytest.approx(closed, rel=1e-12)


def test_f1_and_weighted_error_intervals_match_a_bootstrap():
    rng = np.random.default_rng(1)
    n = 3000
    y = rng.integers(0, 3, n)
    yhat = np.where(rng.random(n) < 0.8, y, rng.integers(0, 3, n))
    w = rng.choice([1.0, 5.0], n)
    m = metrics_from_arrays(y, yhat, sample_weight=w)
    f1s, wes = [], []
    for _ in range(400):
        i = rng.integers(0, n, n)
        b = metrics_from_arrays(y[i], yhat[i], sample_weight=w[i])
        f1s.append(b.f1)
        wes.append(b.weighted_error)
    f1_half = (m.f1_ci[1] - m.f1_ci[0]) / 2
    we_half = (m.weighted_error_ci[1] - m.weighted_error_ci[0]) / 2
    assert f1_half == pytest.approx(Z95 * np.std(f1s), rel=0.15)
    assert we_half == pytest.approx(Z95 * np.std(wes), rel=0.15)


def test_needed_size():
    assert needed_size(0.1, 0.1, 0.01) == math.ceil(Z95**2 * 0.18 / 1e-4)
    assert needed_size(0.1, 0.1, 0.0) == 0


def test_counts_dataclass_is_frozen():
    c = Counts((0,), np.array([[1]]), np.array([[1.0]]), np.array([[1.0]]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.labels = (1,)
