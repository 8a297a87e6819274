"""The report's probability curves on probabilities that are not probabilities, or written as lists."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat import InputError
from mlstrat.cli import app
from mlstrat.report._proba import probability_curves


def _table(tmp_path, values, *, name="p.csv"):
    n = len(values)
    y = np.arange(n) % 2
    frame = pd.DataFrame({"id": range(n), "split": "dev", "y_true": y, "y_pred": y,
                          "proba_0": 1 - np.asarray(values, dtype=float), "proba_1": values})
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("values, column, count, shown", [
    ([0.2, 0.9, 3.5, 0.1, 0.7, 4.0], "proba_0", 2, "-2.5"),
    ([0.2, 0.9, -0.5, 0.1, 0.7, 0.6], "proba_0", 1, "1.5"),
    ([0.2, 0.9, float("nan"), 0.1, 0.7, 0.6], "proba_0", 1, "nan"),
])
def test_values_outside_0_1_are_named_with_their_count(tmp_path, values, column, count, shown):
    path = _table(tmp_path, values)
    message = (f"{path}: column {column!r} holds {count} value(s) outside [0, 1] in split 'dev' (e.g. {shown}); "
               "proba_<class> columns hold probabilities: write softmax outputs, not logits or scores")
    with pytest.raises(InputError, match=re.escape(message)):
        probability_curves(path)


def test_the_report_is_written_without_the_curves_and_says_why(tmp_path):
    path = _table(tmp_path, [0.2, 0.9, 3.5, 0.1, 0.7, 0.6] * 5)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert (f"Warning: {path}: column 'proba_0' holds 5 value(s) outside [0, 1] in split 'dev' (e.g. -2.5); "
            "proba_<class> columns hold probabilities") in text
    assert "the report leaves the probability curves out" in text
    assert out.is_file() and "probability curves" not in text.split("Wrote")[-1]


def test_a_per_class_vector_column_draws_the_same_curves(tmp_path):
    rng = np.random.default_rng(5)
    n = 80
    y = rng.integers(3, size=n)
    proba = rng.dirichlet(np.ones(3), size=n)
    base = pd.DataFrame({"id": range(n), "split": "dev", "y_true": y, "y_pred": proba.argmax(axis=1)})
    plain = base.assign(**{f"proba_{j}": proba[:, j] for j in range(3)})
    listed = base.assign(proba=list(proba))
    plain.to_parquet(tmp_path / "plain.parquet")
    listed.to_parquet(tmp_path / "listed.parquet")
    expected = probability_curves(tmp_path / "plain.parquet")
    got = probability_curves(tmp_path / "listed.parquet")
    assert got["roc_auc"] == expected["roc_auc"] and got["average_precision"] == expected["average_precision"]
