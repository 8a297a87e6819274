"""Learning curves: the power-law fit recovers a planted exponent; nested subsets; readings."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error
from sklearn.tree import DecisionTreeClassifier

from mlstrat import ConfigError, InputError
from mlstrat.curves import fit_power_law, learning_curve, model_family_of, parse_curve_sizes


def test_power_law_recovers_a_planted_exponent():
    rng = np.random.default_rng(0)
    sizes = 100 * 2.0 ** np.arange(8)
    covered = 0
    for _ in range(50):
        dev = 0.02 + 0.8 * sizes**-0.4 * np.exp(rng.normal(0, 0.03, len(sizes)))
        fit = fit_power_law(sizes, dev, floor=0.02)
        assert fit.exponent == pytest.approx(0.4, abs=0.05)
        covered += fit.exponent_ci[0] <= 0.4 <= fit.exponent_ci[1]
    assert covered >= 44  # ~95% of 50


def test_doubling_prediction_of_an_exact_curve():
    sizes = [1000, 2000, 4000, 8000]
    dev = [0.05 + 3 * m**-0.5 for m in sizes]
    fit = fit_power_law(sizes, dev, floor=0.05)
    d = fit.doubling
    assert d.size == 8000
    assert d.predicted == pytest.approx(0.05 + 3 * 16000**-0.5)
    assert d.gain == pytest.approx(3 * 8000**-0.5 - 3 * 16000**-0.5)
    assert d.ci_low == pytest.approx(d.predicted) and d.ci_high == pytest.approx(d.predicted)


def test_too_few_points_above_the_floor():
    with pytest.raises(InputError, match="needs at least 3 sizes whose dev figure is above the floor"):
        fit_power_law([10, 20, 40], [0.5, 0.4, 0.01], floor=0.05)


def test_sizes_grammar():
    assert parse_curve_sizes("50%,10%,25%,100%") == (0.1, 0.25, 0.5, 1.0)
    assert parse_curve_sizes([100, 400]) == (100.0, 400.0)
    with pytest.raises(ConfigError, match=r"'150%' must be a share in \(0%, 100%\]"):
        parse_curve_sizes("10%,150%")
    with pytest.raises(ConfigError, match="at least two sizes"):
        parse_curve_sizes("10%")


def test_regression_curve_with_sklearn_is_nested_and_measured():
    X, y = load_diabetes(return_X_y=True)
    Xt, yt, Xd, yd = X[:330], y[:330], X[330:], y[330:]
    curve = learning_curve(Ridge(alpha=0.1), Xt, yt, X_dev=Xd, y_dev=yd, sizes="25%,50%,75%,100%",
                           human=40.0)
    assert curve.metric == "rmse" and curve.model_family == "linear"
    assert [p.size for p in curve.points] == [82, 165, 248, 330]
    last = curve.points[-1]
    full = Ridge(alpha=0.1).fit(Xt, yt)
    assert last.dev[0] == pytest.approx(root_mean_squared_error(yd, full.predict(Xd)))
    assert last.dev[1] < last.dev[0] < last.dev[2]
    assert curve.fit is not None and curve.to_dict()["fit"]["doubling"]["to"] == 660


def test_variance_curve_reads_as_variance():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4000, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)  # a clean oblique boundary: trees need data
    curve = learning_curve(DecisionTreeClassifier(random_state=0), X[:3000], y[:3000],
                           X_dev=X[3000:], y_dev=y[3000:], sizes=[100, 300, 1000, 3000])
    assert curve.metric == "error" and curve.model_family == "gradient_boosting"
    assert curve.points[0].train[0] == 0.0  # a full tree memorizes its subset
    assert curve.reading.startswith("Variance: the gap from train to dev closes")
    assert "doubling to 6,000 examples" in curve.reading


def test_family_of_common_estimators():
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert model_family_of(make_pipeline(StandardScaler(), MLPClassifier())) == "neural_network"
    assert model_family_of(HistGradientBoostingRegressor()) == "gradient_boosting"
    assert model_family_of(KNeighborsClassifier()) == "other"
