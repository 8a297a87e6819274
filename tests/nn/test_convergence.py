"""Convergence verdicts from a run's per-epoch cost curve: a trend test on the last window of
epochs (Mann-Kendall, Theil-Sen) and the sign changes of successive differences, checked on
constructed curves, against SciPy, and on real short runs on the bundled digits."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from mlstrat.nn import OptimConfig, train
from mlstrat.nn._convergence import (
    VERDICTS,
    convergence_verdict,
    history_verdict,
    mann_kendall,
    sign_changes,
    theil_sen_slope,
)
from tests.nn.conftest import small_config


def _noisy(level: float, n: int, *, scale: float, seed: int) -> list[float]:
    return list(level + scale * np.random.default_rng(seed).standard_normal(n))


# -- the statistics against SciPy ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [5, 9, 20])
def test_mann_kendall_matches_scipy_kendalltau_exact(n, seed):
    values = list(np.random.default_rng(seed).standard_normal(n) + 0.1 * seed * np.arange(n))
    tau, p = mann_kendall(values)
    expected = stats.kendalltau(np.arange(n), values, method="exact")
    assert tau == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_mann_kendall_with_ties_matches_scipy_asymptotic():
    values = [3.0, 2.0, 2.0, 1.5, 1.5, 1.5, 1.0, 1.2, 0.9, 0.9]
    tau, p = mann_kendall(values)
    expected = stats.kendalltau(np.arange(len(values)), values, method="asymptotic")
    assert tau == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_theil_sen_slope_matches_scipy(seed):
    values = list(np.random.default_rng(seed).standard_normal(15) - 0.05 * np.arange(15))
    assert theil_sen_slope(values) == pytest.approx(stats.theilslopes(values).slope, abs=1e-12)


@pytest.mark.parametrize("values, expected", [
    ([1, 2, 3, 4], 0), ([1, 2, 1, 2, 1], 3), ([3, 2, 2, 1, 2], 1), ([1, 1, 1], 0),
])
def test_sign_changes_count_flips_of_direction(values, expected):
    assert sign_changes(values) == expected


def test_sign_changes_match_a_brute_force_count_on_noise():
    values = _noisy(1.0, 40, scale=0.1, seed=3)
    diffs = np.diff(values)
    assert sign_changes(values) == int(np.sum(np.sign(diffs[1:]) != np.sign(diffs[:-1])))


# -- constructed curves ---------------------------------------------------------------------------


def _decaying(n: int, *, floor: float = 0.0, rate: float = 0.7) -> list[float]:
    return [floor + 2.0 * rate ** k for k in range(n)]


def test_a_steadily_falling_cost_is_still_improving():
    v = convergence_verdict([2.0 - 0.1 * k for k in range(12)])
    assert (v.code, v.verdict) == ("improving", "still improving — train longer")
    assert v.window == 6 and v.p_value < 0.05 and v.slope == pytest.approx(-0.1)


def test_a_cost_that_reached_its_floor_has_plateaued_though_it_still_creeps_down():
    # the trend is significant (monotone), but the last epochs gain a tiny share of epoch 1's cost
    v = convergence_verdict(_decaying(30, floor=0.3))
    assert v.code == "plateaued"
    assert v.p_value < 1e-6 and abs(v.relative_slope) < 0.002


def test_a_noisy_plateau_is_plateaued_where_a_single_comparison_says_improving():
    costs = _decaying(5, floor=0.3) + _noisy(0.3, 20, scale=0.004, seed=10)
    window = costs[-12:]
    assert window[-1] < window[0]  # last-versus-first of the window would say "still improving"
    assert min(costs[-3:]) < min(costs[:-3])  # and so would "the best epoch is among the last"
    v = convergence_verdict(costs)
    assert v.code == "plateaued"
    assert v.p_value > 0.05


@pytest.mark.parametrize("seed", range(20))
def test_noisy_plateaus_are_never_judged_improving_or_diverging(seed):
    costs = _decaying(5, floor=0.3) + _noisy(0.3, 20, scale=0.004, seed=seed)
    assert convergence_verdict(costs).code == "plateaued"


def test_a_noisy_plateau_whose_last_epoch_rose_is_not_diverging():
    costs = _decaying(5, floor=0.5) + _noisy(0.5, 19, scale=0.005, seed=7) + [0.52]
    assert costs[-1] > costs[-2]
    assert convergence_verdict(costs).code == "plateaued"


def test_a_rising_cost_is_diverging():
    costs = _decaying(8, floor=0.4) + [0.42 + 0.03 * k for k in range(8)]
    v = convergence_verdict(costs)
    assert (v.code, v.verdict) == ("diverging", "diverging — lower the learning rate")
    assert v.slope > 0


def test_a_cost_that_bounces_without_trend_is_oscillating():
    costs = [1.0, 0.6, 0.45] + [0.4 + (0.15 if k % 2 else -0.1) + 0.01 * (k % 3) for k in range(14)]
    v = convergence_verdict(costs)
    assert (v.code, v.verdict) == ("oscillating", "oscillating — lower the learning rate or raise the batch size")
    assert v.changes >= 5 and v.swing >= 0.05


def test_small_noise_that_changes_direction_often_is_not_oscillating():
    costs = _decaying(6, floor=0.3) + [0.3 + (0.003 if k % 2 else -0.003) for k in range(14)]
    v = convergence_verdict(costs)
    assert v.changes == 8 and v.code == "plateaued"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_cost_is_diverging_at_once(bad):
    v = convergence_verdict([2.0, 1.0, bad, 0.5])
    assert v.code == "diverging"
    assert v.reason == f"the cost became {bad} at epoch 3"


def test_under_five_epochs_is_too_short_to_judge():
    v = convergence_verdict([2.0, 1.0, 0.5, 0.25])
    assert (v.code, v.verdict) == ("too_short", "too few epochs to judge — train longer")


def test_a_history_that_stopped_on_a_non_finite_dev_cost_is_diverging():
    history = {"epochs": [{"train_cost": 1.0}, {"train_cost": 0.9}],
               "diverged": {"epoch": 2, "lr": 5.0, "cost": "nan"}}
    assert history_verdict(history).to_dict()["code"] == "diverging"


def test_every_code_has_its_sentence():
    assert set(VERDICTS) == {"improving", "plateaued", "diverging", "oscillating", "too_short"}


# -- real short runs on the digits -----------------------------------------------------------------


def _train(tmp_path, digits_path, **optim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(small_config(digits_path, optim=OptimConfig(**optim)), run_dir=tmp_path / "run",
                     progress=False, store=False)


def test_a_too_high_learning_rate_is_diverging(tmp_path, digits_path):
    result = _train(tmp_path, digits_path, epochs=8, batch_size=64, lr=5.0, optimizer="gd")
    convergence = result.history["convergence"]
    assert convergence["code"] == "diverging"
    assert convergence["verdict"] == "diverging — lower the learning rate"
    assert len(result.history["epochs"]) < 8


def test_too_few_epochs_at_a_small_learning_rate_is_still_improving(tmp_path, digits_path):
    result = _train(tmp_path, digits_path, epochs=6, batch_size=64, lr=0.001)
    assert result.history["convergence"]["code"] == "improving"


def test_a_converged_run_has_plateaued(tmp_path, digits_path):
    result = _train(tmp_path, digits_path, epochs=30, batch_size=64, lr=0.01)
    convergence = result.history["convergence"]
    assert convergence["code"] == "plateaued"
    assert convergence["window"] == 15


def test_an_unstable_adam_run_is_oscillating(tmp_path, digits_path):
    result = _train(tmp_path, digits_path, epochs=20, batch_size=64, lr=0.1)
    assert result.history["convergence"]["code"] == "oscillating"
