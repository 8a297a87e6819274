"""The learning curve's numbers and words: the power law against an independent OLS fit
(statsmodels), intervals inside the metric's range, no forecast without a reliable trend, and
the gap attributed as ``diagnose`` attributes it (train-dev beside dev; a mismatch gap is not
variance)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from mlstrat.curves import CurvePoint, fit_power_law
from mlstrat.curves._curve import _assemble

SIZES = [100, 200, 400, 800, 1600]


def _ols(sizes, dev, floor):
    """The same model fitted by statsmodels: log(dev - floor) = a + b log m."""
    x = sm.add_constant(np.log(sizes))
    res = sm.OLS(np.log(np.asarray(dev) - floor), x).fit()
    at = sm.add_constant(np.log([2 * max(sizes), 1.0]))[:1]  # one row: [1, log 2M]
    pred = res.get_prediction(at).summary_frame(alpha=0.05)
    low, high = res.conf_int(alpha=0.05)[1]
    return -res.params[1], (-high, -low), (float(pred["mean"].iloc[0]), float(pred["mean_ci_lower"].iloc[0]),
                                         float(pred["mean_ci_upper"].iloc[0]))


def test_the_fit_matches_statsmodels_ols_on_log_log():
    rng = np.random.default_rng(3)
    floor = 0.02
    dev = [floor + 3 * m ** -0.6 * math.exp(rng.normal(0, 0.05)) for m in SIZES]
    fit = fit_power_law(SIZES, dev, floor=floor, ceiling=1.0)
    exponent, ci, (mean, low, high) = _ols(SIZES, dev, floor)
    assert fit.exponent == pytest.approx(exponent, rel=1e-9)
    assert fit.exponent_ci == pytest.approx(ci, rel=1e-9)
    assert fit.reliable
    d = fit.doubling
    assert (d.predicted, d.ci_low, d.ci_high) == pytest.approx(
        (floor + math.exp(mean), floor + math.exp(low), floor + math.exp(high)), rel=1e-9)


def test_an_error_rate_interval_is_clipped_at_100_percent():
    dev = [0.30, 0.12, 0.35, 0.08]  # noisy: the unclipped upper end passes 100%
    sizes = SIZES[:4]
    _, _, (_, _, high) = _ols(sizes, dev, 0.0)
    assert math.exp(high) > 1.0  # the independent, unclipped figure is out of range
    fit = fit_power_law(sizes, dev, ceiling=1.0)
    assert fit.doubling.ci_high == 1.0
    assert 0.0 <= fit.doubling.ci_low <= fit.doubling.predicted <= 1.0
    rmse = fit_power_law(sizes, dev)  # no ceiling for a unit metric
    assert rmse.doubling.ci_high == pytest.approx(math.exp(high), rel=1e-9)


def _doc(points, *, mismatched=None, metric="error"):
    def est(v):
        return {"value": v, "ci_low": max(v - 0.02, 0.0), "ci_high": min(v + 0.02, 1.0)}

    return {"metric": metric, "human_level": None, "mismatched": mismatched, "model_family": "other",
            "points": [{"size": m, **{k: est(v) for k, v in p.items()}} for m, p in zip(SIZES, points)]}


def read_curve(doc):
    """The curve of constructed points (as ``curve.json`` holds them), read and fitted afresh."""
    def est(p, split):
        e = p.get(split)
        return None if e is None else (e["value"], e["ci_low"], e["ci_high"])

    points = tuple(CurvePoint(p["size"], est(p, "train"), est(p, "dev"), est(p, "train_dev"))
                   for p in doc["points"])
    return _assemble(doc["metric"], points, doc["human_level"], "other", mismatched=doc["mismatched"])


def test_no_reliable_trend_gives_no_forecast():
    # the gap from train to dev closes, but the dev curve is flat within its noise
    dev = [0.22, 0.20, 0.23, 0.19, 0.21]
    _, (low, high), _ = _ols(SIZES, dev, 0.0)
    assert low < 0 < high  # independently: the exponent's interval includes 0
    curve = read_curve(_doc([{"train": t, "dev": d} for t, d in zip([0.0, 0.05, 0.08, 0.12, 0.15], dev)]))
    assert not curve.fit.reliable and curve.to_dict()["fit"]["reliable"] is False
    assert curve.reading.startswith("Variance: the gap from train to dev closes")
    assert "no reliable trend: the fitted exponent's 95% interval" in curve.reading
    assert "doubling to" not in curve.reading
    from mlstrat.display._charts import size_curve_svg

    assert "predicted at 2" not in size_curve_svg(curve.to_dict())


def test_a_reliable_trend_forecasts_within_range():
    dev = [0.02 + 3 * m ** -0.6 for m in SIZES]
    curve = read_curve(_doc([{"train": 0.01, "dev": d} for d in dev]))
    assert curve.fit.reliable
    assert f"doubling to {2 * SIZES[-1]:,} examples likely takes dev from" in curve.reading


def test_a_mismatch_gap_is_not_read_as_variance():
    # train-dev tracks train: no variance to speak of; dev sits 14 points above train-dev
    points = [{"train": 0.05, "train_dev": 0.06 + e, "dev": 0.20 + e} for e in (0.02, 0.015, 0.01, 0.005, 0.0)]
    curve = read_curve(_doc(points))
    assert curve.reading.startswith("Data mismatch: at 1,600 examples dev is 14.00% above train-dev "
                                    "(6.00% -> 20.00%)")
    assert "more data helps" not in curve.reading


def test_with_train_dev_the_variance_gap_is_train_to_train_dev():
    points = [{"train": 0.0, "train_dev": v, "dev": v + 0.01} for v in (0.30, 0.22, 0.16, 0.12, 0.10)]
    curve = read_curve(_doc(points))
    assert curve.reading.startswith("Variance: the gap from train to train-dev closes")
    assert curve.to_dict()["points"][0]["train_dev"]["value"] == 0.30


def test_train_and_dev_from_different_domains_without_train_dev_is_undetermined():
    points = [{"train": 0.0, "dev": v} for v in (0.30, 0.22, 0.16, 0.12, 0.10)]
    assert read_curve(_doc(points)).reading.startswith("Variance")
    curve = read_curve(_doc(points, mismatched=True))
    assert curve.reading.startswith("Undetermined: train and dev come from different distributions and "
                                    "there is no train-dev split, so the gap from train to dev (10.00%)")
    assert "mlstrat split --train-dev auto" in curve.reading


def test_the_table_and_the_plot_show_train_dev_beside_dev():
    from rich.console import Console

    from mlstrat.cli.curve import _render
    from mlstrat.display._charts import size_curve_svg

    points = [{"train": 0.0, "train_dev": v, "dev": v + 0.01} for v in (0.30, 0.22, 0.16, 0.12, 0.10)]
    curve = read_curve(_doc(points))
    console = Console(record=True, width=120)
    for item in _render(curve):
        console.print(item)
    text = console.export_text()
    assert "train-dev" in text and "30.00%" in text and "31.00%" in text
    svg = size_curve_svg(curve.to_dict())
    assert "train-dev" in svg


def test_a_bigger_mismatch_within_noise_is_not_named_over_a_significant_variance():
    # at the largest size dev is 6 points above train-dev but both rest on few rows (wide
    # intervals), while train -> train-dev (5 points) is measured tightly: diagnose names variance
    def est(v, half):
        return {"value": v, "ci_low": v - half, "ci_high": v + half}

    doc = _doc([{"train": 0.0, "train_dev": 0.06, "dev": 0.12}] * 5)
    for p in doc["points"]:
        p.update(train=est(0.01, 0.004), train_dev=est(0.06, 0.02), dev=est(0.12, 0.07))
    reading = read_curve(doc).reading
    assert not reading.startswith("Data mismatch")
    # the same gap measured tightly is named
    for p in doc["points"]:
        p.update(dev=est(0.12, 0.02))
    assert read_curve(doc).reading.startswith("Data mismatch: at 1,600 examples dev is 6.00% above train-dev")
