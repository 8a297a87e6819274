import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.metrics import OperatingPoint, choose_threshold, wilson_interval
from mlstrat.metrics._threshold import parse_requirement

OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}


def brute_force(y, score, maximize, requirements):
    """Every distinct dev score tried one by one: (threshold, value) of the satisficing choice."""
    best = None
    for t in sorted(set(score.tolist())):  # ascending: a later equal value (higher t) wins the tie
        pred = (score >= t).astype(int)
        tp, fp = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())
        fn, tn = int(((pred == 0) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
        values = {"precision": tp / (tp + fp), "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn),
                  "specificity": tn / (tn + fp), "fpr": fp / (tn + fp)}
        if all(OPS[op](values[m], v) for m, op, v in requirements):
            if best is None or values[maximize] >= best[1]:
                best = (t, values[maximize])
    return best


def table(y, score, split="dev"):
    return pd.DataFrame({"split": split, "y_true": y, "y_pred": (score >= 0.5).astype(int),
                         "proba_0": 1 - score, "proba_1": score})


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("maximize,require", [
    ("recall", [("precision", ">=", 0.8)]),
    ("f1", []),
    ("precision", [("recall", ">=", 0.5), ("fpr", "<=", 0.3)]),
    ("specificity", [("recall", ">", 0.7)]),
])
def test_matches_brute_force_on_generated_data(seed, maximize, require):
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.integers(0, 2, n)
    score = np.round(1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(0, 1, n)))), 2)  # rounded: many ties
    texts = [f"{m}{op}{100 * v:g}%" for m, op, v in require]
    expected = brute_force(y, score, maximize, require)
    point = choose_threshold(table(y, score), maximize=maximize, require=texts)
    assert expected is not None
    assert point.threshold == expected[0]
    assert point.dev.rates()[maximize] == expected[1]


@pytest.fixture(scope="module")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, test_size=0.5, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000)).fit(X[train], y[train])
    proba = model.predict_proba(X)
    split = np.array(["train"] * len(y), dtype=object)
    split[rest[: len(rest) // 2]] = "dev"
    split[rest[len(rest) // 2:]] = "test"
    frame = pd.DataFrame({"id": idx, "split": split, "y_true": y, "y_pred": proba.argmax(1),
                          "proba_0": proba[:, 0], "proba_1": proba[:, 1]})
    return frame


@pytest.mark.parametrize("maximize,require", [("recall", [("precision", ">=", 0.97)]),
                                              ("f1", []), ("precision", [("recall", ">=", 0.95)])])
def test_logistic_regression_on_breast_cancer(breast_cancer, maximize, require):
    dev = breast_cancer[breast_cancer.split == "dev"]
    y, score = dev.y_true.to_numpy(), dev.proba_1.to_numpy()
    point = choose_threshold(breast_cancer, maximize=maximize,
                             require=[f"{m}{op}{100 * v:g}%" for m, op, v in require])
    assert point.threshold == brute_force(y, score, maximize, require)[0]
    pred = (score >= point.threshold).astype(int)
    rates = point.dev.rates()
    assert rates["precision"] == pytest.approx(precision_score(y, pred), abs=1e-12)
    assert rates["recall"] == pytest.approx(recall_score(y, pred), abs=1e-12)
    assert rates["f1"] == pytest.approx(f1_score(y, pred), abs=1e-12)
    assert rates["precision_ci"] == pytest.approx(list(wilson_interval(point.dev.tp, point.dev.tp + point.dev.fp)))
    assert point.test is None and point.warnings[0]["code"] == "test_sealed"


def test_ties_go_to_the_higher_threshold():
    # thresholds 0.9 and 0.6 both give precision 100%; maximizing precision picks 0.9
    y = np.array([1, 1, 0, 0])
    score = np.array([0.9, 0.6, 0.3, 0.2])
    assert choose_threshold(table(y, score), maximize="precision").threshold == 0.9


def test_one_vs_rest_for_a_chosen_class():
    rng = np.random.default_rng(0)
    n = 240
    y = rng.choice(["cat", "dog", "fox"], n)
    raw = rng.random((n, 3)) + 0.8 * (y[:, None] == np.array(["cat", "dog", "fox"]))
    proba = raw / raw.sum(1, keepdims=True)
    frame = pd.DataFrame({"split": "dev", "y_true": y, "y_pred": np.array(["cat", "dog", "fox"])[proba.argmax(1)],
                          "proba_cat": proba[:, 0], "proba_dog": proba[:, 1], "proba_fox": proba[:, 2]})
    point = choose_threshold(frame, maximize="recall", require=["precision>=70%"], positive="dog")
    truth = (y == "dog").astype(int)
    assert point.threshold == brute_force(truth, proba[:, 1], "recall", [("precision", ">=", 0.7)])[0]
    with pytest.raises(ConfigError, match=r"3 classes \(cat, dog, fox\); choose the positive class with "
                                          r"--positive CLASS"):
        choose_threshold(frame)
    with pytest.raises(ConfigError, match=r"--positive: no column proba_dgo in <pandas.DataFrame> "
                                          r"\(did you mean 'dog'\?\); classes: cat, dog, fox"):
        choose_threshold(frame, positive="dgo")


def test_infeasible_names_the_best_achievable_value():
    y = np.array([1, 0, 1, 0, 1, 0])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    point = choose_threshold(table(y, score), maximize="recall", require=["precision>=90%", "recall>=90%"])
    assert not point.feasible and point.threshold is None
    assert point.message == ("no threshold on dev meets recall >= 90%: the best achievable dev recall with "
                             "precision >= 90% is 33.33% (at threshold 0.9)")
    alone = choose_threshold(table(y, score), require=["fpr<0%"])
    assert alone.message == ("no threshold on dev meets fpr < 0%: the best achievable dev fpr is 0.00% "
                             "(at threshold 0.9)")


def test_requirements_take_a_percent_sign():
    with pytest.raises(ConfigError, match=r"^--require: 'precision>=0.95' gives a bare number; rates take a "
                                          r"percent sign: write precision>=95%$"):
        parse_requirement("precision>=0.95")
    with pytest.raises(ConfigError, match=r"unknown metric 'precison'.*did you mean 'precision'"):
        parse_requirement("precison>=95%")
    with pytest.raises(ConfigError, match=r"uses ==; use one of >=, >, <=, <"):
        parse_requirement("recall==95%")
    assert parse_requirement("recall > 90.5%").value == pytest.approx(0.905)


def test_bad_inputs_are_one_clear_error():
    y = np.array([1, 1, 1])
    with pytest.raises(InputError, match=r"the dev split has only rows of class '1'"):
        choose_threshold(table(y, np.array([0.2, 0.5, 0.9])))
    with pytest.raises(ConfigError, match=r"--maximize: unknown metric 'fpr'"):
        choose_threshold(table(y, np.array([0.2, 0.5, 0.9])), maximize="fpr")
    with pytest.raises(InputError, match=r"no dev rows"):
        choose_threshold(table(np.array([0, 1]), np.array([0.2, 0.9]), split="train"))


def test_notebook_display():
    point = choose_threshold(table(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1])), maximize="f1")
    assert isinstance(point, OperatingPoint)
    assert repr(point) == "<OperatingPoint threshold 0.7: dev precision 66.7%, recall 100.0%>"
    assert "Operating point" in point._repr_html_() and "<td>dev</td>" in point._repr_html_()


@pytest.mark.parametrize("value", ["x", "inf", ""])
def test_scores_that_are_not_finite_numbers_are_refused(tmp_path, value):
    path = tmp_path / "pred.csv"
    path.write_text(f"id,split,y_true,y_pred,proba_a,proba_b\n1,dev,a,a,0.8,{value}\n2,dev,b,b,0.1,0.9\n")
    with pytest.raises(InputError, match=r"pred.csv: column 'proba_b' has missing, non-numeric or infinite "
                                         r"scores on the dev split; give every row a probability$"):
        choose_threshold(path)


def _f1_sd_by_finite_differences(tp: int, fp: int, fn: int, tn: int) -> float:
    """Delta method on the multinomial cell proportions, the gradient taken numerically."""
    counts = np.array([tp, fp, fn, tn], dtype=float)
    n = counts.sum()
    p = counts / n

    def f1(q):
        return 2 * q[0] / (2 * q[0] + q[1] + q[2])

    h = 1e-6
    grad = np.array([(f1(p + h * e) - f1(p - h * e)) / (2 * h) for e in np.eye(4)])
    cov = np.diag(p) - np.outer(p, p)
    return float(np.sqrt(grad @ cov @ grad / n))


@pytest.mark.parametrize("counts", [(40, 10, 5, 45), (3, 1, 7, 89), (120, 60, 30, 790)])
def test_f1_interval_is_the_delta_method_of_the_confusion_counts(counts):
    from scipy.stats import norm

    from mlstrat.metrics._threshold import SplitPoint

    tp, fp, fn, tn = counts
    rates = SplitPoint(split="dev", n=sum(counts), tp=tp, fp=fp, fn=fn, tn=tn).rates()
    half = norm.ppf(0.975) * _f1_sd_by_finite_differences(tp, fp, fn, tn)
    assert rates["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert rates["f1_ci"] == pytest.approx([max(0.0, rates["f1"] - half), min(1.0, rates["f1"] + half)], rel=1e-6)
