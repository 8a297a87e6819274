"""The search engine on cheap objectives: a planted optimum, the sampling scales, seeding,
parallel processes, zooming and the constraints."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from mlstrat import ConfigError
from mlstrat.tune import Param, TuneConfig, apply_params, search, zoom

PLANTED = {"lr": 3e-3, "l2": 0.5, "beta1": 0.99, "hidden": 100}
SPACE = (Param("lr", 1e-5, 1.0, "log"), Param("l2", 1e-4, 100.0, "log"), Param("beta1", 0.5, 0.9999, "log1m"),
         Param("hidden", 4, 512, "int"))


def planted_objective(number, params):
    """A bowl centred on PLANTED, on each parameter's own axis (decades; hundreds of units)."""
    d = sum((p.axis(params[p.name]) - p.axis(PLANTED[p.name])) ** 2 for p in SPACE[:3])
    d += ((params["hidden"] - PLANTED["hidden"]) / 100.0) ** 2
    return {"value": d, "n_parameters": params["hidden"] * 10}


def constant_objective(number, params):
    return {"value": 0.0}


def test_finds_the_planted_optimum_coarse_to_fine():
    result = search(SPACE, planted_objective, budget=80, seed=0)
    best = result.best
    assert abs(math.log10(best.params["lr"] / PLANTED["lr"])) < 0.3
    assert abs(math.log10(best.params["l2"] / PLANTED["l2"])) < 0.3
    assert abs(math.log10((1 - best.params["beta1"]) / (1 - PLANTED["beta1"]))) < 1.0
    assert abs(best.params["hidden"] - PLANTED["hidden"]) < 100
    coarse = [t for t in result.trials if t.round == 1]
    fine = [t for t in result.trials if t.round == 2]
    assert len(coarse) == 48 and len(fine) == 32
    # the second round samples a narrower region that still holds the optimum, and does better
    for full, narrow in zip(result.space, result.zoomed):
        assert narrow.low >= full.low and narrow.high <= full.high
        assert (narrow.high - narrow.low) < (full.high - full.low)
        assert narrow.low <= PLANTED[narrow.name] <= narrow.high
    assert np.median([t.value for t in fine]) < np.median([t.value for t in coarse]) / 2
    assert best.value == min(t.value for t in result.trials)


def test_coarse_to_fine_beats_one_round_of_the_same_budget():
    zoomed = [search(SPACE, planted_objective, budget=80, seed=s).best.value for s in range(10)]
    flat = [search(SPACE, planted_objective, budget=80, seed=s, coarse=1.0).best.value for s in range(10)]
    assert np.median(zoomed) < np.median(flat) / 2


def test_random_never_a_grid_and_log_scales():
    space = (Param("lr", 1e-5, 1.0, "log"), Param("beta1", 0.9, 0.999, "log1m"), Param("hidden", 1, 1000, "int"))
    result = search(space, constant_objective, budget=300, seed=1, coarse=1.0)
    lr = np.array([t.params["lr"] for t in result.trials])
    beta = np.array([t.params["beta1"] for t in result.trials])
    hidden = [t.params["hidden"] for t in result.trials]
    assert len(set(lr)) == 300 and len(set(beta)) == 300  # no grid: every value distinct
    assert all(isinstance(h, int) for h in hidden)
    # log10 uniform: each of the 5 decades holds 1/5 of the draws (a linear scale puts 90% in the top one)
    in_decade = int(((lr >= 1e-5) & (lr < 1e-4)).sum())
    assert binomtest(in_decade, 300, 0.2).pvalue > 0.001
    # 1 - beta log uniform: beta in [0.99, 0.999) is 1/2 of the draws (linear: 1/11)
    assert binomtest(int((beta >= 0.99).sum()), 300, 0.5).pvalue > 0.001
    assert max(beta) < 0.999 and min(beta) >= 0.9


def test_seeded_and_the_same_with_parallel_processes():
    one = search(SPACE, planted_objective, budget=6, seed=7)
    again = search(SPACE, planted_objective, budget=6, seed=7)
    parallel = search(SPACE, planted_objective, budget=6, seed=7, jobs=2)
    other = search(SPACE, planted_objective, budget=6, seed=8)
    key = [(t.number, t.round, t.params, t.value) for t in one.trials]
    assert key == [(t.number, t.round, t.params, t.value) for t in again.trials]
    assert key == [(t.number, t.round, t.params, t.value) for t in parallel.trials]
    assert key != [(t.number, t.round, t.params, t.value) for t in other.trials]


def test_constraints_exclude_trials_from_winning():
    result = search(SPACE, planted_objective, budget=40, seed=0,
                    feasible=lambda info: info["n_parameters"] <= 500)
    assert any(not t.feasible for t in result.trials)
    assert result.best.info["n_parameters"] <= 500
    assert result.best.value == min(t.value for t in result.trials if t.feasible)


def test_search_is_stored_in_optuna_sqlite(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'tune.db'}"
    result = search(SPACE, planted_objective, budget=5, seed=0, storage=url)
    study = optuna.load_study(study_name="mlstrat-tune", storage=url)
    assert [t.value for t in study.trials] == [t.value for t in result.trials]
    assert [t.user_attrs["round"] for t in study.trials] == [1, 1, 1, 2, 2]
    assert study.trials[0].params["one_minus_beta1"] == pytest.approx(1 - result.trials[0].params["beta1"])


def test_zoom_works_on_the_sampling_axis():
    (lr,) = zoom([Param("lr", 1e-5, 1.0, "log")], [{"lr": 1e-3}, {"lr": 1e-2}], margin=0.1)
    assert lr.low == pytest.approx(10 ** -3.5) and lr.high == pytest.approx(10 ** -1.5)
    (h,) = zoom([Param("hidden", 4, 512, "int")], [{"hidden": 100}, {"hidden": 100}], margin=0.0)
    assert (h.low, h.high) == (99, 101)


def test_apply_params_sets_the_config_keys():
    config = {"model": {"hidden": [32, 32]}, "optim": {"lr": 0.1}}
    out = apply_params(config, {"lr": 0.01, "hidden": 64, "beta1": 0.95, "batch_size": 128.0})
    assert out == {"model": {"hidden": [64, 64]}, "optim": {"lr": 0.01, "beta1": 0.95, "batch_size": 128}}
    assert config == {"model": {"hidden": [32, 32]}, "optim": {"lr": 0.1}}  # untouched
    assert apply_params(config, {"layers": 3})["model"]["hidden"] == [32, 32, 32]


@pytest.mark.parametrize("raw, message", [
    ({"space": {"momentum": [0.8, 0.9]}}, r"\[tune.space\] unknown hyperparameter 'momentum'"),
    ({"space": {"lr": [0.0, 0.1]}}, r"\[tune.space\] lr: the low end 0.0 must be positive \(sampled on a log"),
    ({"space": {"beta1": [0.9, 1.0]}}, r"\[tune.space\] beta1 = \[0.9, 1.0\] must lie in \[0, 1\)"),
    ({"space": {"lr": [0.1, 0.01]}}, r"\[tune.space\] lr = \[0.1, 0.01\] must be \[low, high\] with low < high"),
    ({"space": {"lr": 0.1}}, r"\[tune.space\] lr = 0.1: expected \[low, high\]"),
    ({"metric": "test_error"}, r"\[tune\] metric = 'test_error' is not one of dev_error, dev_cost"),
    ({"budgets": 3}, r"\[tune\] unknown key 'budgets' \(did you mean 'budget'\?\)"),
])
def test_tune_config_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        TuneConfig.from_dict(raw)
