"""The learning-rate range test: the smoothing against pandas, the suggestion on constructed
curves, the stop rule, and on the digits a suggestion that trains faster than ten times less or
more (the full grid is benchmarks/lr_find_bench.py)."""

import math
import tomllib
import warnings

import numpy as np
import pandas as pd
import pytest

from mlstrat._exceptions import ConfigError
from mlstrat.nn import OptimConfig, TrainConfig, lr_find, train
from mlstrat._exceptions import InputError
from mlstrat.nn._lr_find import _smooth, _suggestions, sparkline
from tests.nn.conftest import small_config


def test_the_smoothed_loss_is_pandas_adjusted_ewm():
    losses = list(np.random.default_rng(0).random(50) + np.linspace(2, 1, 50))
    expected = pd.Series(losses).ewm(alpha=1 - 0.98, adjust=True).mean()
    np.testing.assert_allclose(_smooth(losses, 0.98), expected, rtol=1e-12)


def test_the_suggestion_is_the_steepest_descent_before_the_minimum():
    lrs = list(np.logspace(-6, 1, 141))  # 20 steps per decade
    x = np.log10(lrs)
    # falls fastest at lr = 1e-3 (tanh's centre), bottoms out near 1e-1, then climbs
    smoothed = list(2 - np.tanh(2 * (x + 3)) + np.where(x > -1, 10 * (x + 1) ** 2, 0))
    steepest, min_lr = _suggestions(lrs, smoothed)
    assert steepest == pytest.approx(1e-3, rel=0.13)  # within one grid step
    low = int(np.argmin(smoothed))
    assert min_lr == pytest.approx(lrs[low] / 10)
    assert steepest < lrs[low]


def test_a_loss_that_is_never_finite_asks_for_a_smaller_start():
    with pytest.raises(Exception, match=r"the loss was not finite from step 2 at lr = 0\.01; give a smaller start_lr"):
        _suggestions([1e-3, 1e-2, 1e-1], [1.0, math.nan, math.nan])


def test_a_loss_that_only_rises_asks_for_a_smaller_start():
    # no fall to read: "the minimum / 10" would name an lr below the range tested
    lrs = list(np.logspace(-2, 1, 40))
    with pytest.raises(InputError, match=r"the smoothed loss was lowest at lr = 0\.01, the first steps, and never "
                       r"fell after: already too high there; give a smaller start_lr \(--start-lr, now 0\.01\)"):
        _suggestions(lrs, list(np.linspace(1, 5, 40)))


def test_sparkline_spans_the_bars():
    assert sparkline([0.0, 1.0, 2.0, 3.0]) == "▁▃▆█"
    assert sparkline([1.0, math.inf, 0.0]) == "█ ▁"
    assert len(sparkline(list(range(500)), width=60)) == 60


@pytest.mark.parametrize("options, message", [
    (dict(start_lr=1.0, end_lr=0.1), r"start_lr = 1\.0 and end_lr = 0\.1: need 0 < start_lr < end_lr, both finite"),
    (dict(steps=5), r"steps = 5 must be at least 12"),
    (dict(diverge=1.0), r"diverge = 1\.0 must be above 1"),
    (dict(smoothing=1.0), r"smoothing = 1\.0 must be in \[0, 1\)"),
])
def test_bad_options_are_refused(digits_path, options, message):
    with pytest.raises(ConfigError, match=message):
        lr_find(small_config(digits_path), **options)


@pytest.fixture(scope="module")
def found(digits_path):
    return lr_find(small_config(digits_path, optim=OptimConfig(batch_size=64)), steps=120)


def test_the_test_stops_when_the_smoothed_loss_passes_four_times_its_minimum(found):
    assert found.stopped == "diverged"
    assert len(found.lrs) < 120
    assert found.smoothed[-1] > 4 * min(found.smoothed[:-1])
    assert all(s <= 4 * min(found.smoothed[:i + 1]) for i, s in enumerate(found.smoothed[:-1]) if i >= 10)
    ratios = np.diff(np.log(found.lrs))
    np.testing.assert_allclose(ratios, np.log(1e8) / 119)  # exponential steps from 1e-7 to 10


def _dev_cost(digits_path, tmp_path, lr):
    config = small_config(digits_path, optim=OptimConfig(epochs=3, batch_size=64, lr=lr))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(config, run_dir=tmp_path / f"lr-{lr:g}", progress=False, store=False)
    return result.history["epochs"][-1]["dev_cost"]


def test_the_suggestion_trains_faster_than_ten_times_less_or_more(found, digits_path, tmp_path):
    lr = found.suggestion
    at = _dev_cost(digits_path, tmp_path, lr)
    assert at < _dev_cost(digits_path, tmp_path, lr / 10)
    assert at < _dev_cost(digits_path, tmp_path, lr * 10)


def test_train_with_lr_find_trains_at_the_suggestion(digits_path, tmp_path, found):
    from mlstrat.runs import RunStore

    config = small_config(digits_path, optim=OptimConfig(epochs=1, batch_size=64, lr="find"))
    store = RunStore(tmp_path / "runs.db")
    result = train(config, run_dir=tmp_path / "run", progress=False, store=store)
    chosen = result.history["lr_find"]
    assert chosen["suggestion"] == float(f"{chosen['suggestion']:.3g}")  # three digits, as one types it
    (run,) = store.list()
    assert run.metrics["lr_find"] == chosen and run.config["optim"]["lr"] == chosen["suggestion"]
    assert chosen["method"] == "steepest" and chosen["steps"] > 10
    assert result.history["epochs"][0]["lr"] == chosen["suggestion"]
    resolved = tomllib.loads((tmp_path / "run" / "config.resolved.toml").read_text())
    assert resolved["optim"]["lr"] == chosen["suggestion"]


def test_lr_accepts_find_and_nothing_else_as_text(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\nmanifest = "m.parquet"\n[optim]\nlr = "fnd"\n')
    with pytest.raises(ConfigError, match=r'\[optim\] lr = \'fnd\' must be a positive number or "find"'):
        TrainConfig.from_toml(path)
    path.write_text('[data]\nmanifest = "m.parquet"\n[optim]\nlr = "find"\n')
    assert TrainConfig.from_toml(path).optim.lr == "find"


def test_gradcheck_after_training_asks_for_a_number_instead_of_find(digits_path):
    from mlstrat.nn import gradcheck_config

    config = small_config(digits_path, optim=OptimConfig(epochs=1, batch_size=64, lr="find"))
    with pytest.raises(ConfigError, match=r'\[optim\] lr = "find" is only resolved by `mlstrat train`'):
        gradcheck_config(config, rows=8, after_epochs=1)
