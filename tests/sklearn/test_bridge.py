"""mlstrat.sklearn against scikit-learn itself (no mocks): tables, out-of-fold, train-vs-dev tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlstrat import diagnose, split
from mlstrat._exceptions import InputError
from mlstrat.sklearn import out_of_fold_predictions, predictions_table, train_dev_cv


@pytest.fixture(scope="module")
def split_table(tmp_path_factory):
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "label"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "id", np.arange(len(frame)))
    frame["note"] = [f"patient {i}" for i in range(len(frame))]
    path = tmp_path_factory.mktemp("bc") / "manifest.csv"
    frame.to_csv(path, index=False)
    return split(path, label="label").table.to_pandas()


def _features(frame):
    return [c for c in frame.columns if c not in ("id", "label", "split", "note")]


def test_predictions_table_matches_the_estimator(split_table):
    feats = _features(split_table)
    train = split_table[split_table.split == "train"]
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(train[feats], train.label)
    table = predictions_table(model, split_table, features=feats)
    assert list(table.columns) == ["id", "split", "y_true", "y_pred", "proba_0", "proba_1", "note"]
    np.testing.assert_array_equal(table.y_pred, model.predict(split_table[feats]))
    np.testing.assert_allclose(table[["proba_0", "proba_1"]], model.predict_proba(split_table[feats]))
    result = diagnose(table)
    dev = split_table.split == "dev"
    assert result.errors["dev"].value == pytest.approx(float((model.predict(split_table.loc[dev, feats])
                                                             != split_table.label[dev]).mean()))


def test_out_of_fold_uses_train_only(split_table):
    feats = _features(split_table)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    oof = out_of_fold_predictions(model, split_table, features=feats, n_splits=4, seed=1)
    train = split_table[split_table.split == "train"].reset_index(drop=True)
    assert set(oof.split) == {"train"} and len(oof) == len(train)
    # an independent loop over the same folds
    expected = np.zeros((len(train), 2))
    for fit_idx, held in StratifiedKFold(4, shuffle=True, random_state=1).split(train[feats], train.label):
        m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        m.fit(train.loc[fit_idx, feats], train.label[fit_idx])
        expected[held] = m.predict_proba(train.loc[held, feats])
    np.testing.assert_allclose(oof[["proba_0", "proba_1"]].to_numpy(), expected, rtol=1e-6, atol=1e-9)
    # dev and test rows never matter: scramble them and nothing changes
    scrambled = split_table.copy()
    other = scrambled.split != "train"
    scrambled.loc[other, feats] = 0.0
    scrambled.loc[other, "label"] = 1 - scrambled.loc[other, "label"]
    again = out_of_fold_predictions(model, scrambled, features=feats, n_splits=4, seed=1)
    pd.testing.assert_frame_equal(oof, again)


def test_train_dev_cv_tunes_on_the_dev_set(split_table):
    feats = _features(split_table)
    X, y = split_table[feats].to_numpy(), split_table.label.to_numpy()
    tdcv = train_dev_cv(split_table)
    grid = {"logisticregression__C": [0.001, 0.01, 1.0]}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    search = GridSearchCV(model, grid, cv=tdcv.cv, refit=False)
    search.fit(X[tdcv.rows], y[tdcv.rows])
    train, dev = (split_table.split == "train").to_numpy(), (split_table.split == "dev").to_numpy()
    for C, score in zip(grid["logisticregression__C"], search.cv_results_["mean_test_score"]):
        manual = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=C))
        manual = manual.fit(X[train], y[train]).score(X[dev], y[dev])
        assert score == pytest.approx(manual)
    assert repr(tdcv) == f"TrainDevCV(train={train.sum()}, dev={dev.sum()})"


def test_missing_feature_column_is_a_clear_error(split_table):
    with pytest.raises(InputError, match=r"split table: missing feature column\(s\) 'nope'; columns: id, "):
        predictions_table(LogisticRegression(), split_table, features=["nope"])


def test_too_few_train_rows_per_class_for_the_folds(split_table):
    with pytest.raises(InputError, match=r"a class has \d+ train row\(s\), fewer than n_splits=500"):
        out_of_fold_predictions(LogisticRegression(), split_table, features=_features(split_table), n_splits=500)


def test_a_string_of_features_is_one_column_name(split_table):
    """features="mean_radius" is that column, not the columns 'm', 'e', 'a', ..."""
    frame = split_table.assign(f1=split_table["mean_radius"])
    train = frame[frame.split == "train"]
    model = LogisticRegression().fit(train[["f1"]], train.label)
    one = predictions_table(model, frame, features="f1")
    listed = predictions_table(model, frame, features=["f1"])
    pd.testing.assert_frame_equal(one, listed)
    assert (one.y_pred.to_numpy() == model.predict(frame[["f1"]])).all()
    with pytest.raises(InputError, match=r"split table: missing feature column\(s\) 'f2'; columns: id, "):
        predictions_table(model, frame, features="f2")
