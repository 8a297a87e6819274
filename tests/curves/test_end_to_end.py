""""Enough data for an end-to-end model?" (docs/method.md §8) read off the extrapolated learning
curve: the sentence's figures against an independent OLS fit (statsmodels), one shape each."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from mlstrat.curves import CurvePoint
from mlstrat.curves._curve import _assemble

SIZES = [100, 200, 400, 800, 1600]


def points(dev):
    return tuple(CurvePoint(m, (0.0, 0.0, 0.01), (d, max(d - 0.02, 0.0), min(d + 0.02, 1.0)))
                 for m, d in zip(SIZES, dev))


def ols(dev, floor=0.0):
    """log(dev - floor) = a + b log m by statsmodels: the exponent -b with its 95% interval, and
    the fitted dev at twice the largest size with the interval of that mean."""
    res = sm.OLS(np.log(np.asarray(dev) - floor), sm.add_constant(np.log(SIZES))).fit()
    low, high = res.conf_int(alpha=0.05)[1]
    frame = res.get_prediction(np.array([[1.0, math.log(2 * SIZES[-1])]])).summary_frame(alpha=0.05)
    at = [floor + math.exp(float(frame[k].iloc[0])) for k in ("mean", "mean_ci_lower", "mean_ci_upper")]
    return -res.params[1], (-high, -low), at


def pct(v):
    return f"{100 * v:.2f}%"


def test_a_power_law_still_falling_says_more_data_helps():
    rng = np.random.default_rng(0)
    dev = [0.02 + 3 * m ** -0.5 * math.exp(rng.normal(0, 0.03)) for m in SIZES]
    curve = _assemble("error", points(dev), 0.02, "neural_network")
    c, (lo, hi), (pred, p_lo, p_hi) = ols(dev, floor=0.02)
    assert lo > 0 and p_hi < dev[-1]  # the constructed curve does still fall, by the independent fit
    assert curve.end_to_end == (
        f"The dev curve still falls at the largest size (1,600 examples; fitted exponent {c:.2f}, 95% "
        f"interval [{lo:.2f}, {hi:.2f}]): more data is likely to help an end-to-end model; the fit puts "
        f"dev at {pct(pred)} (95% interval [{pct(p_lo)}, {pct(p_hi)}]) at 3,200 examples, an extrapolation "
        "to twice the largest measured size; further out it is a guess.")
    assert curve.to_dict()["end_to_end"] == curve.end_to_end


def test_a_flat_curve_says_an_end_to_end_model_is_unlikely_to_gain():
    dev = [0.100, 0.110, 0.098, 0.105, 0.102]
    curve = _assemble("error", points(dev), None, "neural_network")
    c, (lo, hi), _ = ols(dev)
    assert lo < 0 < hi  # flat, by the independent fit
    assert curve.end_to_end == (
        f"The dev curve has flattened near 10.20% (fitted exponent {c:.2f}, 95% interval [{lo:.2f}, "
        f"{hi:.2f}], which includes 0): an end-to-end model is unlikely to gain from more data of this kind; "
        "a pipeline of simpler sub-tasks with plenty of data each, or hand-engineered components, may "
        "help more.")


def test_a_fall_whose_doubling_interval_reaches_today_is_hedged():
    dev = [3 * m ** -0.5 for m in SIZES]
    dev[-1] *= 0.6  # the last size measured low: the fit's interval at 3,200 reaches above it
    curve = _assemble("error", points(dev), None, "neural_network")
    c, (lo, hi), (pred, p_lo, p_hi) = ols(dev)
    assert lo > 0 and p_hi >= dev[-1]
    assert curve.end_to_end == (
        f"The dev curve falls across the measured sizes (fitted exponent {c:.2f}, 95% interval [{lo:.2f}, "
        f"{hi:.2f}]) but doubling may not help: the fit puts dev at {pct(pred)} (95% interval [{pct(p_lo)}, "
        f"{pct(p_hi)}], which reaches the {pct(dev[-1])} measured now) at 3,200 examples, an extrapolation to "
        "twice the largest measured size; further out it is a guess; more data may help an end-to-end "
        "model only slowly, and a pipeline of simpler sub-tasks with plenty of data each may do better.")


def test_a_rising_curve_and_too_few_sizes():
    dev = [0.05 * (1.2 ** i) * (1 + 0.01 * (-1) ** i) for i in range(5)]
    rising = _assemble("error", points(dev), None, "neural_network")
    c, (lo, hi), _ = ols(dev)
    assert hi < 0
    assert rising.end_to_end == (
        f"The dev curve rises with more data (fitted exponent {c:.2f}, 95% interval [{lo:.2f}, {hi:.2f}]): "
        "more data of this kind is unlikely to help an end-to-end model; look at the errors before "
        "gathering more.")
    two = _assemble("error", points([0.2, 0.1]), None, "neural_network")
    assert two.fit is None
    assert two.end_to_end == ("Enough data for an end-to-end model? Cannot be said from this curve: the "
                              "power-law fit needs at least 3 sizes whose dev figure is above the floor; "
                              "give more --sizes.")


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    from tests.cli.test_curve import digits_curve_config

    return digits_curve_config(tmp_path_factory.mktemp("e2e"), n=400, n_train=300, epochs=3)


def test_curve_command_shows_and_writes_the_answer(config, tmp_path):
    from mlstrat.cli import app
    from mlstrat.curves._curve import _end_to_end
    from mlstrat.curves._powerlaw import fit_power_law

    out = tmp_path / "curve"
    args = ["curve", str(config / "c.toml"), "--sizes", "20%,50%,100%", "-o", str(out), "--no-record"]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    doc = json.loads((out / "curve.json").read_text())
    refit = fit_power_law([p["size"] for p in doc["points"]], [p["dev"]["value"] for p in doc["points"]],
                          ceiling=1.0)
    rebuilt = tuple(CurvePoint(p["size"], (p["train"]["value"],) * 3, (p["dev"]["value"],) * 3)
                    for p in doc["points"])
    assert doc["end_to_end"] == _end_to_end(rebuilt, refit, "error")
    assert doc["end_to_end"].split(":")[0] in " ".join(shown.output.split())
