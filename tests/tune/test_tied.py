"""The best trial and the trials tied with it within noise; the zoom centres on the tied set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlstrat.tune import Param, Trial, search
from mlstrat.tune._search import dev_rows_of_trial, tied_with

IDS = [f"r{i}" for i in range(50)]


def _trial(number: int, wrong: list[int], value: float | None = None) -> Trial:
    mistakes = np.zeros(50)
    mistakes[wrong] = 1.0
    return Trial(number=number, round=1, params={"lr": 0.01}, value=mistakes.mean() if value is None else value,
                 feasible=True, info={"mistakes": mistakes})


def _rows(trial: Trial):
    return "rate", IDS, trial.info["mistakes"]


def test_trials_within_a_row_or_two_of_the_best_are_tied_and_a_clear_loser_is_not():
    best = _trial(0, [0, 1, 2, 3, 4, 5])  # 12% of 50 dev rows
    same_rate = _trial(1, [0, 1, 2, 3, 4, 6])  # 12% too, one row swapped
    one_more = _trial(2, [0, 1, 2, 3, 4, 5, 7])  # 14%
    far = _trial(3, list(range(30)))  # 60%: worse on 24 rows, better on none
    tied = tied_with(best, [best, same_rate, one_more, far], _rows)
    assert [t.trial.number for t in tied] == [1, 2]
    # the interval of 14% - 12% on the same rows: Newcombe's on (both wrong, only the 14% trial
    # wrong, only the best wrong, neither)
    from mlstrat.metrics._paired import paired_rate_interval

    _, low, high = paired_rate_interval(6, 1, 0, 43)
    assert (tied[1].difference.ci_low, tied[1].difference.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert tied[1].to_dict()["change"] == pytest.approx(0.02)


def test_without_per_row_results_nothing_is_called_tied():
    best, other = _trial(0, [0]), _trial(1, [0])
    assert tied_with(best, [other], None) == ()
    assert tied_with(best, [other], lambda t: None) == ()


def _flat_objective(number, params):
    """Every point has a true dev error of 12%: the differences between trials are noise."""
    rng = np.random.default_rng(number)
    mistakes = (rng.random(50) < 0.12).astype(float)
    return {"value": float(mistakes.mean()), "mistakes": mistakes}


def test_the_zoom_spans_the_tied_set_not_one_noisy_winner():
    space = (Param("lr", 1e-5, 1.0, "log"),)
    result = search(space, _flat_objective, budget=20, seed=0, coarse=0.6, rows=_rows)
    coarse = [t for t in result.trials if t.round == 1]
    region = [t for t in coarse if t.number in result.region]
    # on noise, most coarse trials cannot be told apart from the coarse round's best
    assert len(region) >= len(coarse) // 2
    axis = [math.log10(t.params["lr"]) for t in region]
    zoomed = result.zoomed[0]
    assert math.log10(zoomed.low) <= min(axis) and max(axis) <= math.log10(zoomed.high)
    # the old rule (the best 10%, at least 2 trials) would have zoomed on two points only
    assert len(result.tied) >= 3 and result.best.number not in {t.trial.number for t in result.tied}
    assert all(t.difference.verdict == "tied within noise" for t in result.tied)


def test_dev_rows_of_a_trained_trial_are_read_from_its_predictions(tmp_path):
    import pandas as pd

    pd.DataFrame({"id": [1, 2, 3, 4], "split": ["train", "dev", "dev", "test"], "y_true": [0, 1, 0, 1],
                  "y_pred": [0, 0, 0, 1], "proba_0": [0.9, 0.6, 0.8, 0.1], "proba_1": [0.1, 0.4, 0.2, 0.9]}
                 ).to_parquet(tmp_path / "predictions.parquet")
    trial = Trial(number=0, round=1, params={}, value=0.5, feasible=True, info={"run_dir": str(tmp_path)})
    kind, ids, values = dev_rows_of_trial(trial)
    assert (kind, ids, values.tolist()) == ("rate", ["2", "3"], [1.0, 0.0])
    kind, ids, values = dev_rows_of_trial(trial, metric="dev_cost")
    assert kind == "mean" and values == pytest.approx([-math.log(0.4), -math.log(0.8)])
