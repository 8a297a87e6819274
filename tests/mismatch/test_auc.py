import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from mlstrat import InputError
from mlstrat.mismatch import delong_auc


def _brute_force_se(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])  # (m, n)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_and_the_quadratic_delong_variance(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.3).astype(int)
    s = np.round(rng.normal(size=300) + y, 1)  # rounded: ties on purpose
    auc = delong_auc(y, s)
    assert auc.value == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc.se == pytest.approx(_brute_force_se(y, s), rel=1e-10)
    assert auc.ci_low < auc.value < auc.ci_high
    assert (auc.n_positive, auc.n_negative) == (int(y.sum()), int((1 - y).sum()))


def test_interval_width_follows_the_level():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(50), np.zeros(50)]
    s = rng.normal(size=100) + 0.5 * y
    wide, narrow = delong_auc(y, s, level=0.99), delong_auc(y, s, level=0.8)
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low


def test_perfect_separation_has_a_degenerate_interval():
    auc = delong_auc([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    assert (auc.value, auc.ci_low, auc.ci_high, auc.se) == (1.0, 1.0, 1.0, 0.0)


def test_needs_two_rows_per_side():
    with pytest.raises(
        InputError, match=r"^an AUC interval needs at least 2 rows on each side; got 1 and 3$"
    ):
        delong_auc([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(-5, 5)), min_size=4, max_size=60))
def test_auc_and_interval_stay_in_unit_range(pairs):
    y = np.array([p[0] for p in pairs], dtype=int)
    s = np.array([p[1] for p in pairs])
    if min(y.sum(), len(y) - y.sum()) < 2:
        return
    auc = delong_auc(y, s)
    assert 0.0 <= auc.ci_low <= auc.value <= auc.ci_high <= 1.0
    assert auc.value == pytest.approx(roc_auc_score(y, s))
