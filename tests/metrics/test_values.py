"""Regression and per-example metrics: scikit-learn equality, interval coverage by simulation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from statsmodels.stats.weightstats import DescrStatsW

from mlstrat import ConfigError, InputError
from mlstrat.metrics import (
    compute_metric,
    compute_regression_metrics,
    parse_metric,
    regression_from_arrays,
)
from mlstrat.metrics._intervals import mean_interval, r2_interval, ratio_interval, rmse_interval


def _table(seed=0, n=600):
    rng = np.random.default_rng(seed)
    y = rng.normal(20, 5, n)
    return {
        "split": rng.choice(["train", "train_dev", "dev", "test"], n),
        "y_true": y,
        "y_pred": y + rng.normal(0.3, 2.0, n),
        "loss": rng.exponential(0.7, n),
        "word_errors": rng.poisson(2, n),
        "words": rng.poisson(12, n) + 1,
    }


def test_regression_metrics_equal_sklearn_per_split():
    t = _table()
    assert list(compute_regression_metrics(t).splits) == ["train", "train_dev", "dev"]  # sealed
    report = compute_regression_metrics(t, test=True, store=False)
    assert list(report.splits) == ["train", "train_dev", "dev", "test"]
    for split, m in report.splits.items():
        mask = t["split"] == split
        y, p = t["y_true"][mask], t["y_pred"][mask]
        assert m.n == mask.sum()
        assert m.mae.value == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
        assert m.rmse.value == pytest.approx(root_mean_squared_error(y, p), rel=1e-12)
        assert m.r2.value == pytest.approx(r2_score(y, p), rel=1e-10)
        assert m.mean_residual == pytest.approx(np.mean(p - y), rel=1e-10)
        for est in (m.mae, m.rmse, m.r2):
            assert est.ci_low < est.value < est.ci_high


@settings(max_examples=40, deadline=None)
@given(
    y=arrays(np.float64, st.integers(2, 60), elements=st.floats(-1e3, 1e3)),
    noise=st.floats(0.01, 10),
)
def test_arrays_equal_sklearn(y, noise):
    p = y + noise * np.cos(np.arange(len(y)))
    m = regression_from_arrays(y, p)
    assert m.mae.value == pytest.approx(mean_absolute_error(y, p), rel=1e-9, abs=1e-9)
    assert m.rmse.value == pytest.approx(root_mean_squared_error(y, p), rel=1e-9, abs=1e-9)
    assert 0 <= m.mae.ci_low <= m.mae.value <= m.mae.ci_high
    assert 0 <= m.rmse.ci_low <= m.rmse.value <= m.rmse.ci_high
    if np.ptp(y) > 1e-3:
        assert m.r2.value == pytest.approx(r2_score(y, p), rel=1e-6, abs=1e-6)


def test_mean_and_ratio_columns_from_the_engine_equal_numpy():
    t = _table(1)
    mean = compute_metric(t, "mean:loss")
    ratio = compute_metric(t, "ratio:word_errors/words")
    for split in ("train", "dev"):
        mask = t["split"] == split
        assert mean[split].value == pytest.approx(t["loss"][mask].mean(), rel=1e-12)
        assert ratio[split].value == pytest.approx(
            t["word_errors"][mask].sum() / t["words"][mask].sum(), rel=1e-12
        )
        # the CLT interval is statsmodels' z interval of the mean (ddof=1)
        low, high = DescrStatsW(t["loss"][mask], ddof=1).zconfint_mean(alpha=0.05)
        assert (mean[split].ci_low, mean[split].ci_high) == pytest.approx((low, high), rel=1e-10)


# --- coverage: 95% intervals cover the truth in 93-97% of 1000 simulated cases -----------------

CASES, N = 1000, 200


def _coverage(intervals, truth):
    low, high = np.asarray(intervals).T[1:]
    covered = float(np.mean((low <= truth) & (truth <= high)))
    return covered


def test_mae_interval_coverage():
    rng = np.random.default_rng(11)
    e = rng.normal(0, 2.0, (CASES, N))  # |e| has mean 2 sqrt(2/pi)
    truth = 2.0 * math.sqrt(2 / math.pi)
    ci = [mean_interval(N, a.sum(), (a * a).sum()) for a in np.abs(e)]
    assert 0.93 <= _coverage(ci, truth) <= 0.97


def test_rmse_interval_coverage():
    rng = np.random.default_rng(12)
    e = rng.normal(0.5, 1.5, (CASES, N))
    truth = math.sqrt(0.5**2 + 1.5**2)
    e2 = e * e
    ci = [rmse_interval(N, a.sum(), (a * a).sum()) for a in e2]
    assert 0.93 <= _coverage(ci, truth) <= 0.97


def test_ratio_interval_coverage_word_error_rate():
    # utterances of varying length; errors per word 0.12 on average, overdispersed per speaker
    rng = np.random.default_rng(13)
    words = rng.poisson(15, (CASES, N)) + 1
    rate = rng.beta(2, 14.67, (CASES, N))  # mean 0.12
    errors = rng.binomial(words, rate)
    truth = 0.12
    ci = [
        ratio_interval(N, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
        for x, y in zip(errors.astype(float), words.astype(float), strict=True)
    ]
    assert 0.93 <= _coverage(ci, truth) <= 0.97


def test_r2_interval_coverage():
    rng = np.random.default_rng(14)
    n = 400
    y = rng.normal(0, 2.0, (CASES, n))
    p = y + rng.normal(0, 1.0, (CASES, n))  # population R^2 = 1 - 1/4
    e2 = (p - y) ** 2
    ci = []
    for yy, ee in zip(y, e2, strict=True):
        y2 = yy * yy
        sums = {"y": yy.sum(), "y2": y2.sum(), "y3": (y2 * yy).sum(), "y4": (y2 * y2).sum(),
                "e2": ee.sum(), "e4": (ee * ee).sum(), "e2y": (ee * yy).sum(),
                "e2y2": (ee * y2).sum()}
        ci.append(r2_interval(n, sums))
    assert 0.93 <= _coverage(ci, 0.75) <= 0.97


# --- the grammar and bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "column", "denominator"),
    [
        ("rmse", "rmse", None, None),
        ("MAE", "mae", None, None),
        ("mean:logloss", "mean", "logloss", None),
        ("ratio:word_errors/words", "ratio", "word_errors", "words"),
    ],
)
def test_parse_metric(text, kind, column, denominator):
    spec = parse_metric(text)
    assert (spec.kind, spec.column, spec.denominator) == (kind, column, denominator)
    assert spec.direction == "lower_is_better"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rsme", "unknown metric 'rsme' (did you mean 'rmse'?); choose from error, weighted_error, "
                 "f1, mae, rmse, mean:COL, ratio:NUM/DEN"),
        ("ratio:errors", "--metric 'ratio:errors': a ratio needs NUM/DEN (example: "
                         "ratio:word_errors/words)"),
        ("mean:", "--metric 'mean:': a column name is missing (example: mean:logloss)"),
    ],
)
def test_parse_metric_errors(text, message):
    with pytest.raises(ConfigError) as info:
        parse_metric(text)
    assert str(info.value) == message


def test_higher_is_better_only_for_a_mean_column():
    assert parse_metric("mean:iou", higher_is_better=True).direction == "higher_is_better"
    with pytest.raises(ConfigError, match="lower is better for this metric"):
        parse_metric("rmse", higher_is_better=True)


def test_text_labels_are_refused_for_rmse():
    with pytest.raises(InputError) as info:
        compute_metric({"split": ["dev"] * 2, "y_true": ["a", "b"], "y_pred": ["a", "a"]}, "rmse")
    assert str(info.value) == (
        "<builtins.dict>: column 'y_true' has type string; y_true and y_pred must be numbers for --metric rmse"
    )


def test_missing_and_empty_columns():
    t = {"split": ["dev"] * 3, "loss": [0.1, None, 0.3]}
    with pytest.raises(InputError, match=r"column .lossx.; columns: split, loss$"):
        compute_metric(t, "mean:lossx")
    with pytest.raises(InputError) as info:
        compute_metric(t, "mean:loss")
    assert str(info.value) == (
        "<builtins.dict>: column 'loss' has 1 empty/NaN value(s); every row needs a value for "
        "--metric mean:loss (drop or fill those rows)"
    )
    zero = {"split": ["dev"] * 2, "e": [0, 0], "w": [0, 0]}
    with pytest.raises(InputError, match="split dev: column 'w' sums to 0"):
        compute_metric(zero, "ratio:e/w")
