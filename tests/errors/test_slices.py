"""Per-slice figures and slice discovery, against independent computations.

Per-slice figures: pandas groupby and statsmodels' Wilson interval. Discovery: a brute-force
enumeration of every conjunction in pandas (same slices, sizes, errors, scores, p-values from
scipy's Fisher test), SliceLine's scores from the PyPI ``sliceline`` package,
Benjamini–Hochberg from statsmodels, planted cohorts in datasets bundled
with scikit-learn, and data where errors do not depend on any column.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from sliceline.slicefinder import Slicefinder
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.errors import find_slices, slice_metrics
from mlstrat.errors._slices import benjamini_hochberg, sliceline_score


def _table(n: int = 2000, seed: int = 0, planted: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "id": np.arange(n),
        "split": rng.choice(["train", "dev"], size=n, p=[0.3, 0.7]),
        "y_true": rng.integers(0, 3, size=n),
        "age": rng.normal(40, 12, size=n).round(2),
        "region": rng.choice(["north", "south", "east", "west", "centre"], size=n),
        "device": rng.choice(["app", "web"], size=n),
        "weight": rng.uniform(0.5, 2.0, size=n),
    })
    wrong = rng.random(n) < 0.12
    if planted:
        wrong |= ((frame.region == "east") & (frame.device == "app")).to_numpy() & (rng.random(n) < 0.5)
    frame["y_pred"] = np.where(wrong, (frame.y_true + 1) % 3, frame.y_true)
    return frame


def _bin_of(low: float | None, edges: list[float]) -> int:
    """The bin whose lower edge is ``low`` (to rounding: two quantile codes may differ in the last bit)."""
    return 0 if low is None else int(np.argmin(np.abs(np.asarray(edges) - low))) + 1


def _edges(x: pd.Series, bins: int = 10) -> list[float]:
    """numpy's linear-interpolation quantiles: the same rule as DuckDB's quantile_cont."""
    return sorted(set(np.quantile(x.to_numpy(dtype=float), [i / bins for i in range(1, bins)])))


# -- per-slice figures ---------------------------------------------------------------------


def test_slice_error_matches_pandas_and_statsmodels():
    frame = _table()
    dev = frame[frame.split == "dev"]
    result = slice_metrics(frame, "region")
    wrong = dev.y_true != dev.y_pred
    e, N, errors = wrong.mean(), len(dev), wrong.sum()
    assert result.n == N and result.value == pytest.approx(e)
    got = {s.slice: s for s in result.slices}
    assert len(got) == 5
    for region, part in dev.groupby("region"):
        s = got[f"region = {region}"]
        k = int((part.y_true != part.y_pred).sum())
        low, high = proportion_confint(k, len(part), alpha=0.05, method="wilson")
        assert s.n == len(part)
        assert s.value == pytest.approx(k / len(part), rel=1e-12)
        assert (s.ci_low, s.ci_high) == pytest.approx((low, high), rel=1e-9)
        assert s.share == pytest.approx(k / errors, rel=1e-12)
        assert s.ceiling == pytest.approx(len(part) / N * (k / len(part) - e), rel=1e-9)
    # most mistakes first
    assert [s.share for s in result.slices] == sorted((s.share for s in result.slices), reverse=True)


def test_numeric_column_is_cut_at_quantiles_and_combined_with_a_categorical():
    frame = _table()
    dev = frame[frame.split == "dev"].copy()
    result = slice_metrics(frame, "age,device", bins=4, top=100)
    edges = _edges(dev.age, 4)
    assert result.to_dict()["columns"][0] == {"column": "age", "kind": "bins", "bins": 4,
                                              "edges": pytest.approx(edges, rel=1e-12)}
    dev["bin"] = np.searchsorted(edges, dev.age.to_numpy(), side="right")
    expected = dev.assign(wrong=dev.y_true != dev.y_pred).groupby(["bin", "device"]).wrong.agg(["size", "sum"])
    assert len(result.slices) == len(expected) == 8
    for s in result.slices:
        rng_pred, dev_pred = s.predicates
        b = _bin_of(rng_pred["low"], edges)
        size, k = expected.loc[(b, dev_pred["value"])]
        assert (s.n, s.value) == (size, pytest.approx(k / size))
    assert result.slices[0].slice.endswith(", device = " + result.slices[0].predicates[1]["value"])


def test_top_pools_the_rest_as_other():
    frame = _table()
    dev = frame[frame.split == "dev"]
    result = slice_metrics(frame, "region", top=2)
    assert [s.slice for s in result.slices][-1] == "(other)" and len(result.slices) == 3
    other = result.slices[-1]
    assert other.n == len(dev) - sum(s.n for s in result.slices[:2])
    assert sum(s.share for s in result.slices) == pytest.approx(1.0)
    assert result.groups == 5
    # the ceilings of a partition sum to 0: the average of the slices is the split
    full = slice_metrics(frame, "region")
    assert sum(s.ceiling for s in full.slices) == pytest.approx(0.0, abs=1e-12)


def test_mae_per_slice_matches_pandas():
    frame = _table()
    frame["y_true"] = frame.age * 2.0
    frame["y_pred"] = frame.y_true + np.where(frame.device == "app", 3.0, 1.0) * np.sin(frame.index)
    dev = frame[frame.split == "dev"]
    result = slice_metrics(frame, "device", metric="mae")
    mae = (dev.y_pred - dev.y_true).abs()
    for s in result.slices:
        part = mae[dev.device == s.predicates[0]["value"]]
        half = 1.959963984540054 * part.std(ddof=1) / math.sqrt(len(part))
        assert s.value == pytest.approx(part.mean(), rel=1e-12)
        assert (s.ci_low, s.ci_high) == pytest.approx((part.mean() - half, part.mean() + half), rel=1e-9)
        assert s.share == pytest.approx(part.sum() / mae.sum(), rel=1e-12)
        assert s.ceiling == pytest.approx(len(part) / len(dev) * (part.mean() - mae.mean()), rel=1e-9)


def test_weighted_error_per_slice_matches_pandas():
    frame = _table()
    dev = frame[frame.split == "dev"]
    result = slice_metrics(frame, "device", metric="weighted_error")
    w, wrong = dev.weight, (dev.y_true != dev.y_pred)
    for s in result.slices:
        m = dev.device == s.predicates[0]["value"]
        assert s.value == pytest.approx((w[m] * wrong[m]).sum() / w[m].sum(), rel=1e-12)
        assert s.share == pytest.approx((w[m] * wrong[m]).sum() / (w * wrong).sum(), rel=1e-12)


def test_rmse_per_slice_matches_pandas():
    frame = _table()
    frame["y_true"] = frame.age * 2.0
    frame["y_pred"] = frame.y_true + np.where(frame.device == "app", 3.0, 1.0) * np.sin(frame.index)
    dev = frame[frame.split == "dev"]
    result = slice_metrics(frame, "device", metric="rmse")
    se = (dev.y_pred - dev.y_true) ** 2
    assert result.value == pytest.approx(math.sqrt(se.mean()), rel=1e-12)
    for s in result.slices:
        m = dev.device == s.predicates[0]["value"]
        part = se[m]
        half = 1.959963984540054 * part.std(ddof=1) / math.sqrt(len(part))
        assert s.value == pytest.approx(math.sqrt(part.mean()), rel=1e-12)
        assert (s.ci_low, s.ci_high) == pytest.approx(
            (math.sqrt(part.mean() - half), math.sqrt(part.mean() + half)), rel=1e-9)
        # the slice doing as well as the split: its squared errors replaced by the split's mean
        after = se.where(~m, se.mean())
        assert s.ceiling == pytest.approx(math.sqrt(se.mean()) - math.sqrt(after.mean()), rel=1e-9)


@pytest.mark.parametrize("metric", ["ratio:cost/units", "weighted_error"])
def test_ratio_of_sums_per_slice_and_its_ceiling_match_pandas(metric):
    frame = _table()
    rng = np.random.default_rng(7)
    frame["units"] = rng.integers(1, 20, size=len(frame)).astype(float)
    frame["cost"] = frame.units * np.where(frame.device == "app", 3.0, 1.0) + rng.uniform(0, 5, len(frame))
    dev = frame[frame.split == "dev"]
    if metric == "weighted_error":
        num, den = dev.weight * (dev.y_true != dev.y_pred), dev.weight
    else:
        num, den = dev.cost, dev.units
    result = slice_metrics(frame, "device", metric=metric)
    r = num.sum() / den.sum()
    assert result.value == pytest.approx(r, rel=1e-12)
    for s in result.slices:
        m = dev.device == s.predicates[0]["value"]
        assert s.value == pytest.approx(num[m].sum() / den[m].sum(), rel=1e-12)
        assert s.ci_low < s.value < s.ci_high
        # the slice doing as well as the split: its numerator brought to r times its denominator
        after = num.where(~m, r * den)
        assert s.ceiling == pytest.approx(r - after.sum() / den.sum(), rel=1e-9)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"by": "regoin"}, InputError, r"--by: no column 'regoin' \(did you mean 'region'\?\)"),
    ({"by": "y_pred"}, ConfigError, r"--by: 'y_pred' is the prediction itself"),
    ({"by": "region", "metric": "f1"}, ConfigError, r"--metric f1: F1 is not a sum over rows"),
    ({"by": "region", "top": 0}, ConfigError, r"--top 0: list at least 1 slice"),
    ({"by": "age", "bins": 1}, ConfigError, r"--bins 1: needs at least 2 bins"),
    ({"by": "region", "split": "test"}, InputError, r"split 'test' has 0 rows"),
])
def test_bad_requests_are_one_clear_error(kwargs, error, message):
    with pytest.raises(error, match=message):
        slice_metrics(_table(), **kwargs)


# -- discovery against brute force -----------------------------------------------------------


def _brute_force(dev: pd.DataFrame, columns: list[str], *, bins: int, sigma: int, alpha: float):
    """Every conjunction of at most two predicates (different columns), in pandas."""
    wrong = (dev.y_true != dev.y_pred).to_numpy()
    N, X = len(dev), int(wrong.sum())
    masks = {}
    for col in columns:
        x = dev[col]
        if pd.api.types.is_numeric_dtype(x) and x.nunique() > bins:
            edges = _edges(x, bins)
            idx = np.searchsorted(edges, x.to_numpy(), side="right")
            for b in np.unique(idx):
                masks[(col, int(b))] = idx == b
        else:
            for v in x.unique():
                masks[(col, v)] = (x == v).to_numpy()
    out = {}
    for depth in (1, 2):
        for combo in itertools.combinations(sorted(masks, key=str), depth):
            if len({c for c, _ in combo}) < depth:
                continue
            m = np.logical_and.reduce([masks[p] for p in combo])
            n = int(m.sum())
            if n < sigma or n == N:
                continue
            k = int(wrong[m].sum())
            score = alpha * ((k / n) / (X / N) - 1) - (1 - alpha) * (N / n - 1)
            if score > 0:
                p = fisher_exact([[k, n - k], [X - k, N - n - (X - k)]], alternative="greater")[1]
                out[frozenset(combo)] = (n, k, score, p)
    return out


def _key(s, columns_binned):
    keys = []
    for p in s.predicates:
        if p["op"] == "range":
            edges = columns_binned[p["column"]]
            keys.append((p["column"], _bin_of(p["low"], edges)))
        else:
            keys.append((p["column"], p["value"]))
    return frozenset(keys)


@pytest.mark.parametrize(("alpha", "at_least"), [(0.95, 5), (0.999, 20)])
def test_discovery_equals_brute_force_enumeration(alpha, at_least):
    frame = _table(n=1500, seed=3)
    dev = frame[frame.split == "dev"]
    columns = ["age", "region", "device"]
    report = find_slices(frame, columns=columns, bins=5, min_support=20, fdr=1.0, top=10_000,
                         alpha=alpha)
    expected = _brute_force(dev, columns, bins=5, sigma=20, alpha=alpha)
    binned = {"age": _edges(dev.age, 5)}
    got = {_key(s, binned): s for s in report.slices}
    assert set(got) == set(expected) and len(got) >= at_least
    for key, (n, k, score, p) in expected.items():
        s = got[key]
        assert (s.n, s.errors) == (n, k)
        assert s.score == pytest.approx(score, rel=1e-12)
        assert s.p_value == pytest.approx(p, rel=1e-6)
    scores = [s.score for s in report.slices]
    assert scores == sorted(scores, reverse=True)


def test_benjamini_hochberg_matches_statsmodels():
    p = list(np.random.default_rng(5).uniform(size=200) ** 3)
    assert benjamini_hochberg(p) == pytest.approx(list(multipletests(p, method="fdr_bh")[1]), rel=1e-12)


def test_score_and_lift_and_ceiling_of_the_planted_slice():
    frame = _table()
    dev = frame[frame.split == "dev"]
    report = find_slices(frame, columns=["region", "device"])
    top = report.slices[0]
    assert top.slice == "region = east and device = app"
    m = (dev.region == "east") & (dev.device == "app")
    wrong = dev.y_true != dev.y_pred
    e, es = wrong.mean(), wrong[m].mean()
    assert top.lift == pytest.approx(es / e, rel=1e-12)
    assert top.ceiling == pytest.approx(m.sum() / len(dev) * (es - e), rel=1e-12)
    assert top.score == pytest.approx(sliceline_score(wrong[m].sum(), m.sum(), wrong.sum(), len(dev)))
    low, high = proportion_confint(wrong[m].sum(), m.sum(), method="wilson")
    assert (top.ci_low, top.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert report.to_dict()["fdr_method"] == "benjamini_hochberg"
    assert "Fisher exact" in report.test


# -- planted cohorts in bundled datasets -------------------------------------------------------


def _dataset_predictions(loader, *, seed: int, regression: bool = False) -> pd.DataFrame:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = loader(as_frame=True)
    X = data.frame.drop(columns=["target"])
    X.columns = [c.replace(" ", "_") for c in X.columns]
    y = data.frame["target"]
    X_tr, X_dev, y_tr, y_dev = train_test_split(X, y, test_size=0.5, random_state=seed)
    model = make_pipeline(StandardScaler(), Ridge() if regression else LogisticRegression(max_iter=500))
    model.fit(X_tr, y_tr)
    frame = X_dev.reset_index(drop=True).copy()
    frame["split"] = "dev"
    frame["y_true"] = y_dev.to_numpy()
    frame["y_pred"] = model.predict(X_dev)
    frame["site"] = np.random.default_rng(seed).choice(["a", "b", "c", "d"], size=len(frame))
    return frame


def _plant(frame: pd.DataFrame, mask: np.ndarray, seed: int) -> pd.DataFrame:
    """Predictions in the cohort made wrong (for 80% of its rows)."""
    rng = np.random.default_rng(seed)
    flip = mask & (rng.random(len(frame)) < 0.8)
    labels = np.sort(frame.y_true.unique())
    wrong = labels[(np.searchsorted(labels, frame.y_true) + 1) % len(labels)]
    out = frame.copy()
    out["y_pred"] = np.where(flip, wrong, frame.y_pred)
    return out


@pytest.mark.parametrize(("loader_name", "feature", "top_bin"), [
    ("load_breast_cancer", "mean_radius", True),
    ("load_wine", "alcohol", False),
])
def test_planted_cohort_is_in_the_top_three(loader_name, feature, top_bin):
    import sklearn.datasets

    frame = _dataset_predictions(getattr(sklearn.datasets, loader_name), seed=0)
    edges = _edges(frame[feature], 5)
    x = frame[feature].to_numpy()
    in_bin = x >= edges[-1] if top_bin else x < edges[0]
    cohort = in_bin & (frame.site == "c").to_numpy()
    planted = _plant(frame, cohort, seed=1)
    columns = [feature, "site", *[c for c in frame.columns if c.startswith(("mean_", "color", "hue"))][:4]]
    report = find_slices(planted, columns=list(dict.fromkeys(columns)), bins=5, min_support=5)
    bound = f"{feature} >= {edges[-1]:.4g}" if top_bin else f"{feature} < {edges[0]:.4g}"
    expected = f"{bound} and site = c"
    assert expected in [s.slice for s in report.slices[:3]], [s.slice for s in report.slices[:5]]


def test_planted_cohort_of_a_regression_is_found_with_mae():
    from sklearn.datasets import load_diabetes

    frame = _dataset_predictions(load_diabetes, seed=0, regression=True)
    edges = _edges(frame.bmi, 5)
    cohort = (frame.bmi >= edges[-1]).to_numpy()
    frame["y_pred"] = np.where(cohort, frame.y_pred + 120.0, frame.y_pred)
    report = find_slices(frame, columns=["bmi", "age", "bp", "site"], bins=5, metric="mae",
                         min_support=10)
    assert f"bmi >= {edges[-1]:.4g}" in [s.slice for s in report.slices[:3]]
    assert "Welch" in report.test


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_nothing_reported_when_errors_do_not_depend_on_the_columns(seed):
    from sklearn.datasets import load_breast_cancer

    frame = _dataset_predictions(load_breast_cancer, seed=seed)
    rng = np.random.default_rng(100 + seed)
    wrong = rng.random(len(frame)) < 0.2  # mistakes independent of every column
    frame["y_pred"] = np.where(wrong, 1 - frame.y_true, frame.y_true)
    report = find_slices(frame, columns=["mean_radius", "mean_texture", "mean_area", "site"],
                         bins=5, min_support=10)
    assert report.tested > 100
    assert report.slices == ()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_depth": 0}, r"--max-depth 0: slices need at least 1 predicate"),
    ({"alpha": 0.0}, r"--alpha 0.0: SliceLine's weight must be in \(0, 1\]"),
    ({"fdr": 0.0}, r"--fdr 0.0: the false-discovery rate must be in \(0, 1\]"),
    ({"metric": "ratio:a/b"}, r"--metric ratio:a/b: slice search ranks a per-example error or loss"),
    ({"columns": ["nope"]}, r"--columns: no column 'nope'"),
])
def test_bad_search_settings_are_one_clear_error(kwargs, message):
    with pytest.raises((ConfigError, InputError), match=message):
        find_slices(_table(), **kwargs)


def test_the_test_split_stays_sealed():
    frame = _table().assign(split=lambda f: f.split.replace({"train": "test"}))
    with pytest.raises(ConfigError, match=r"--split test: the test split is sealed; break down "
                                          r"and search dev"):
        find_slices(frame, split="test")


def test_a_table_without_metadata_has_nothing_to_slice():
    frame = _table()[["split", "y_true", "y_pred", "weight"]]
    with pytest.raises(InputError, match=r"<pandas.DataFrame>: no metadata or feature column to slice by "
                                         r"\(only split, y_true, y_pred, weight\)"):
        find_slices(frame)


def test_notebook_views_name_the_result():
    frame = _table()
    report = find_slices(frame, columns=["region", "device"])
    assert repr(report).startswith("<SliceReport dev: ")
    assert "region = east and device = app" in report._repr_html_()
    by = slice_metrics(frame, "region")
    assert repr(by) == "<SliceMetrics error by region on dev: 5 slices of 5>"
    assert "<td>region = east</td>" in by._repr_html_()


def test_scores_equal_the_sliceline_package():
    """The reference implementation (PyPI ``sliceline``, a test dependency): same top slices, same scores."""
    frame = _table(n=1500, seed=3)
    dev = frame[frame.split == "dev"]
    columns = ["region", "device"]
    wrong = (dev.y_true != dev.y_pred).to_numpy(dtype=float)
    finder = Slicefinder(alpha=0.95, k=4, max_l=2, min_sup=32, verbose=False)
    finder.fit(dev[columns].to_numpy(), wrong)
    report = find_slices(frame, columns=columns, fdr=1.0, top=4)
    expected = [s["slice_score"] for s in finder.top_slices_statistics_]
    assert [s.score for s in report.slices] == pytest.approx(expected, rel=1e-9)
