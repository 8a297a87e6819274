import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlstrat import ConfigError, InputError, MlstratWarning
from mlstrat.errors import find_label_issues
from mlstrat.errors._confident import confident_learning
from tests.errors._data import simple_predictions, write


def reference_confident_joint(labels, probs):
    """Plain-loop confident joint and calibration, written from the paper (JAIR 2021, eqs. 1-3)."""
    n, k = probs.shape
    t = [np.mean([probs[x, j] for x in range(n) if labels[x] == j]) for j in range(k)]
    C = np.zeros((k, k))
    for x in range(n):
        confident = [j for j in range(k) if probs[x, j] >= t[j] - 1e-6]
        if confident:
            C[labels[x], max(confident, key=lambda j: probs[x, j])] += 1
    for i in range(k):
        C[i, i] = max(C[i, i], 1)
    counts = np.bincount(labels, minlength=k)
    Q = C / C.sum(axis=1, keepdims=True) * counts[:, None]
    return np.array(t), Q * n / Q.sum()


def noisy_case(seed=0, n=300, k=4, noise=0.1):
    rng = np.random.default_rng(seed)
    true = rng.integers(k, size=n)
    logits = rng.normal(size=(n, k)) + 3.0 * np.eye(k)[true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    flipped = rng.random(n) < noise
    labels = np.where(flipped, (true + rng.integers(1, k, size=n)) % k, true)
    return labels, probs, flipped


def table(labels, probs, split="dev"):
    df = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(labels))],
            "split": split,
            "y_true": labels,
            "y_pred": probs.argmax(1),
        }
    )
    for j in range(probs.shape[1]):
        df[f"proba_{j}"] = probs[:, j]
    return df


def test_thresholds_and_calibrated_joint_match_reference():
    labels, probs, _ = noisy_case()
    t, Q = reference_confident_joint(labels, probs)
    res = confident_learning(labels, probs)
    np.testing.assert_allclose(res.thresholds, t, rtol=1e-12)
    np.testing.assert_allclose(res.joint, Q, rtol=1e-12)
    np.testing.assert_array_equal(res.counts.sum(axis=1), np.bincount(labels))


def test_finds_flipped_labels():
    labels, probs, flipped = noisy_case(seed=1, n=600)
    for method in ("rank", "prune_by_noise_rate"):
        mask = confident_learning(labels, probs, method=method).mask
        precision = (mask & flipped).sum() / mask.sum()
        recall = (mask & flipped).sum() / flipped.sum()
        assert precision > 0.7 and recall > 0.6, (method, precision, recall)


def test_clean_confident_labels_have_no_issue():
    k, n = 3, 90
    labels = np.arange(n) % k
    probs = np.full((n, k), 0.05)
    probs[np.arange(n), labels] = 0.9
    res = find_label_issues(table(labels, probs))
    assert res.issues == () and res.estimated_label_errors == 0 and res.noise == ()


def test_public_api_result(tmp_path):
    labels, probs, flipped = noisy_case(seed=2)
    src = write(table(labels, probs), tmp_path / "p.csv")
    res = find_label_issues(src)
    # noise spread over 12 cells of a 4-class joint, the largest with >= 15%: auto picks PBNR
    assert res.n == 300 and res.split == "dev" and res.method == "prune_by_noise_rate"
    core = confident_learning(labels, probs, method="prune_by_noise_rate")
    assert sorted(i.id for i in res.issues) == sorted(f"r{i}" for i in np.flatnonzero(core.mask))
    scores = [i.score for i in res.issues]
    assert scores == sorted(scores)
    for issue in res.issues:
        row = int(issue.id[1:])
        assert issue.given_label == str(labels[row])
        assert issue.suggested_label == str(probs[row].argmax()) != issue.given_label
        assert issue.score == pytest.approx(probs[row, labels[row]])
    assert len(res.issues) <= res.estimated_label_errors
    d = res.to_dict()
    assert set(d) >= {
        "split",
        "estimated_label_errors",
        "error_share",
        "thresholds",
        "noise",
        "issues",
        "warnings",
    }
    n_wrong = int((labels != probs.argmax(1)).sum())
    assert res.n_errors == n_wrong and res.error_share == pytest.approx(len(res.issues) / n_wrong)
    top = res.noise[0]
    assert top.rate == pytest.approx(
        confident_learning(labels, probs).joint[int(top.given), int(top.true)]
        / confident_learning(labels, probs).joint[:, int(top.true)].sum()
    )


def test_normalized_margin_ranking():
    labels, probs, _ = noisy_case(seed=3)
    res = find_label_issues(table(labels, probs), rank_by="normalized_margin")
    for issue in res.issues[:5]:
        row = int(issue.id[1:])
        others = np.delete(probs[row], labels[row])
        assert issue.score == pytest.approx((probs[row, labels[row]] - others.max() + 1) / 2)


def test_train_split_warns():
    labels, probs, _ = noisy_case()
    with pytest.warns(MlstratWarning, match="needs out-of-sample probabilities"):
        res = find_label_issues(table(labels, probs, split="train"), split="train")
    assert res.warnings[0]["code"] == "in_sample"


def test_slightly_unnormalized_probabilities_warn_and_are_normalized():
    labels, probs, _ = noisy_case()
    with pytest.warns(MlstratWarning, match="do not sum to 1"):
        a = find_label_issues(table(labels, probs * 1.01))
    b = find_label_issues(table(labels, probs))
    assert [i.id for i in a.issues] == [i.id for i in b.issues]
    assert [w["code"] for w in a.warnings] == ["not_normalized"]
    assert a.warnings[0]["message"].startswith("300 row(s) have probabilities")


def test_probabilities_far_from_one_are_refused():
    labels, probs, _ = noisy_case()
    probs[5] *= 2  # one row of scores, not probabilities
    with pytest.raises(InputError, match=re.escape(
            "<pandas.DataFrame>: 1 row(s) of split 'dev' have proba_* values that do not sum to 1 (e.g. id 'r5': 2); "
            "these are not probabilities over the classes 0, 1, 2, 3")):
        find_label_issues(table(labels, probs))


def test_no_proba_columns(tmp_path):
    src = write(simple_predictions(with_proba=False), tmp_path / "p.csv")
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{src}: no proba_<class> columns; label issues need the predicted probability of every class "
            "(e.g. proba_cat, proba_dog), out-of-sample (cross-validated or from a held-out split)"
        ),
    ):
        find_label_issues(src)


def test_label_without_proba_column(tmp_path):
    df = simple_predictions().drop(columns="proba_bird")
    src = write(df, tmp_path / "p.csv")
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{src}: label(s) 'bird' in y_true have no probability column; expected proba_<label> for every "
            "class (found: proba_cat, proba_dog)"
        ),
    ):
        find_label_issues(src)


def test_bad_options(tmp_path):
    df = simple_predictions()
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "rank_by: unknown ranking 'margin'; allowed: self_confidence, normalized_margin"
        ),
    ):
        find_label_issues(df, rank_by="margin")
    with pytest.raises(
        ConfigError,
        match=re.escape("method: unknown method 'both'; allowed: auto, rank, prune_by_noise_rate"),
    ):
        find_label_issues(df, method="both")
    with pytest.raises(
        InputError, match=re.escape("split 'test' has no rows (splits present: train, dev)")
    ):
        find_label_issues(df, split="test")


def test_negative_probability():
    labels, probs, _ = noisy_case()
    probs[0, 0] = -0.1
    with pytest.raises(InputError, match="proba_\\* columns have negative values"):
        find_label_issues(table(labels, probs))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), noise=st.floats(0.0, 0.4))
def test_invariants(seed, k, noise):
    labels, probs, _ = noisy_case(seed=seed, n=120, k=k, noise=noise)
    res = confident_learning(labels, probs)
    counts = np.bincount(labels, minlength=k)
    np.testing.assert_allclose(res.joint.sum(), len(labels))
    np.testing.assert_array_equal(res.counts.sum(axis=1), counts)
    assert (res.joint >= 0).all()
    assert res.mask.sum() <= res.counts.sum() - np.trace(res.counts)
    assert (probs[res.mask].argmax(1) != labels[res.mask]).all()
    pbnr = confident_learning(labels, probs, method="prune_by_noise_rate")
    assert (probs[pbnr.mask].argmax(1) != labels[pbnr.mask]).all()


def test_swapped_proba_columns_are_refused():
    labels, probs, _ = noisy_case(seed=4)
    df = table(labels, probs)
    df[["proba_0", "proba_1"]] = df[["proba_1", "proba_0"]].to_numpy()  # columns named after the wrong class
    pred = probs.argmax(1)
    n_dis = int(((pred == 0) | (pred == 1)).sum())  # exactly the rows predicted 0 or 1 now disagree
    with pytest.raises(InputError, match=re.escape(
            f"<pandas.DataFrame>: y_pred differs from the most probable proba_* class on {n_dis} of 300 rows "
            f"({n_dis / 300:.0%}): y_pred '0' mostly has proba_1 largest; y_pred '1' mostly has proba_0 largest; "
            "the proba_* columns are probably mis-ordered")):
        find_label_issues(df)


def test_decision_threshold_on_one_class_only_warns():
    labels, probs, _ = noisy_case(seed=5, k=2)
    df = table(labels, probs)
    df["y_pred"] = (probs[:, 1] >= 0.3).astype(int)  # a threshold below 0.5 moves rows into class 1 only
    moved = int(((probs[:, 1] >= 0.3) & (probs[:, 1] < 0.5)).sum())
    assert moved > 3
    with pytest.warns(MlstratWarning, match="y_pred differs from the most probable"):
        res = find_label_issues(df)
    codes = [w["code"] for w in res.warnings]
    assert "proba_mismatch" in codes
    assert any(f"on {moved} of 300 rows" in w["message"] for w in res.warnings)


def test_weak_model_is_flagged_with_sklearn_kappa():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    labels = rng.integers(3, size=200)
    probs = rng.dirichlet([1, 1, 1], size=200)  # a model that knows nothing
    probs[np.arange(200), labels] += 0.05
    probs /= probs.sum(1, keepdims=True)
    with pytest.warns(MlstratWarning, match="weak model"):
        res = find_label_issues(table(labels, probs))
    assert res.kappa == pytest.approx(cohen_kappa_score(labels, probs.argmax(1)))
    assert res.kappa < 0.4 and "weak_model" in [w["code"] for w in res.warnings]
    strong = find_label_issues(table(*noisy_case(seed=1)[:2]))
    assert strong.kappa > 0.4 and "weak_model" not in [w["code"] for w in strong.warnings]


def test_small_classes_and_count_interval():
    from statsmodels.stats.proportion import proportion_confint

    labels, probs, _ = noisy_case(seed=6, n=60, k=4)  # about 15 rows per class
    with pytest.warns(MlstratWarning, match="small split"):
        res = find_label_issues(table(labels, probs))
    small = [str(c) for c in range(4) if np.bincount(labels, minlength=4)[c] < 20]
    assert small and all(f"'{c}'" in res.warnings[-1]["message"] for c in small)
    lo, hi = proportion_confint(res.estimated_label_errors, 60, alpha=0.05, method="wilson")
    assert res.estimated_interval == (int(np.floor(lo * 60)), int(np.ceil(hi * 60)))


def test_the_result_does_not_depend_on_the_row_order():
    labels, probs, _ = noisy_case(seed=7, n=500, k=5, noise=0.2)
    df = table(labels, probs)
    shuffled = df.sample(frac=1.0, random_state=1)
    for method in ("rank", "prune_by_noise_rate"):
        a = find_label_issues(df, method=method)
        b = find_label_issues(shuffled, method=method)
        _same(a, b)
        core = confident_learning(labels, probs, method=method).mask
        assert sorted(i.id for i in a.issues) == sorted(f"r{i}" for i in np.flatnonzero(core))


def _same(engine, streamed):
    """Identical results; thresholds, rates and scores up to the last bits (the order of a sum
    moves them: the row sums that normalize the probabilities, the thresholds' means)."""
    a, b = engine.to_dict(), streamed.to_dict()
    assert a.pop("thresholds") == pytest.approx(b.pop("thresholds"), rel=1e-12)
    a_noise, b_noise = a.pop("noise"), b.pop("noise")
    assert [(r["given"], r["true"]) for r in a_noise] == [(r["given"], r["true"]) for r in b_noise]
    assert [r["rate"] for r in a_noise] == pytest.approx([r["rate"] for r in b_noise], rel=1e-12)
    a_issues, b_issues = a.pop("issues"), b.pop("issues")
    assert [i["score"] for i in a_issues] == pytest.approx([i["score"] for i in b_issues], rel=1e-12)
    assert [{**i, "score": None} for i in a_issues] == [{**i, "score": None} for i in b_issues]
    assert a == b


@pytest.mark.parametrize("seed, n, k, noise, method, rank_by", [
    (11, 2000, 10, 0.1, "auto", "self_confidence"),
    (11, 2000, 10, 0.1, "prune_by_noise_rate", "normalized_margin"),
    (12, 800, 2, 0.2, "auto", "normalized_margin"),
    (12, 800, 2, 0.2, "rank", "self_confidence"),
    (13, 1500, 4, 0.3, "prune_by_noise_rate", "self_confidence"),
    (13, 1500, 4, 0.3, "rank", "normalized_margin"),
])
def test_engine_queries_give_the_streamed_result(seed, n, k, noise, method, rank_by):
    from tests.errors._streamed_labels import find_label_issues as streamed

    labels, probs, _ = noisy_case(seed=seed, n=n, k=k, noise=noise)
    probs[::7] *= 1.002  # some rows normalized (off by more than 0.001)
    df = table(labels, probs)
    df.loc[::50, "y_pred"] = (df.y_pred[::50] + 1) % k  # a decision rule other than the argmax here and there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlstratWarning)
        _same(find_label_issues(df, method=method, rank_by=rank_by),
              streamed(df, method=method, rank_by=rank_by, batch_rows=333))


@pytest.mark.parametrize("counts, expected", [
    (np.array([[50, 9], [1, 40]]), "prune_by_noise_rate"),  # binary: two cells
    (np.array([[90, 1, 1], [1, 90, 1], [1, 1, 90]]), "prune_by_noise_rate"),  # 6 cells: 1/6 >= 15%
    (np.eye(10, dtype=int) * 100 + 1, "rank"),  # 90 cells of one row each: 1/90 < 15%
    (np.eye(3, dtype=int) * 10, "prune_by_noise_rate"),  # no noise at all
])
def test_auto_method_follows_how_noise_is_spread(counts, expected):
    from mlstrat.errors._confident import resolve_method

    assert resolve_method("auto", counts) == expected
    assert resolve_method("rank", counts) == "rank"


def test_a_probability_column_of_structs_is_one_line(tmp_path):
    # a nested Parquet column named proba_<class> used to stop in the engine's cast with a
    # message that named neither the file nor the column
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = simple_predictions()
    columns = {c: list(df[c]) for c in df.columns}
    columns["proba_cat"] = [{"p": float(v)} for v in df["proba_cat"]]
    src = tmp_path / "p.parquet"
    pq.write_table(pa.table(columns), src)
    with pytest.raises(InputError) as caught:
        find_label_issues(src)
    assert str(caught.value) == (f"{src}: column 'proba_cat' holds text such as \"{{'p': 0.9}}\"; "
                                 "probabilities must be numbers in [0, 1]")
