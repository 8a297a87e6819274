"""Probabilities written as lists: one per-class vector column, or one-element ``proba_<class>`` lists.

Read as the ``proba_<class>`` columns they stand for when the class of each value is unambiguous,
refused in one line with the expected shape otherwise (both engines: tests/spark/test_proba_lists.py).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat import InputError
from mlstrat._json import to_jsonable
from mlstrat.cli import app
from mlstrat.errors import find_label_issues, sample_errors
from mlstrat.tables import read_predictions

K = 3


def columns(n: int = 90, seed: int = 3, labels=(0, 1, 2)) -> dict[str, list]:
    """id, split, y_true, y_pred and the (n, K) probabilities as plain columns proba_<label>."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(K, size=n)
    proba = rng.dirichlet(np.ones(K), size=n) * 0.4
    y_pred = np.where(rng.random(n) < 0.25, (y_true + 1) % K, y_true)
    proba[np.arange(n), y_pred] += 0.6
    data = {"id": [f"r{i}" for i in range(n)], "split": ["dev", "train"] * (n // 2),
            "y_true": [labels[i] for i in y_true], "y_pred": [labels[i] for i in y_pred]}
    for j in range(K):
        data[f"proba_{labels[j]}"] = proba[:, j].tolist()
    return data


def as_vector(data: dict[str, list], name: str = "proba") -> dict[str, list]:
    """The same table with the proba_* columns packed into one list column."""
    plain = {k: v for k, v in data.items() if not k.startswith("proba_")}
    cols = [v for k, v in data.items() if k.startswith("proba_")]
    plain[name] = [list(row) for row in zip(*cols)]
    return plain


def as_singletons(data: dict[str, list]) -> dict[str, list]:
    return {k: ([[x] for x in v] if k.startswith("proba_") else v) for k, v in data.items()}


def write(tmp_path, name: str, data: dict[str, list]) -> str:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table(data), path)
    return str(path)


@pytest.mark.parametrize("shape", ["vector", "vector_named", "singletons", "text_labels_singletons"])
def test_list_columns_read_as_the_per_class_columns(tmp_path, shape):
    if shape == "text_labels_singletons":
        plain = columns(labels=("a", "b", "c"))
        listed = as_singletons(plain)
    else:
        plain = columns()
        listed = {"vector": as_vector(plain), "vector_named": as_vector(plain, "proba_"),
                  "singletons": as_singletons(plain)}[shape]
    reference, under_test = write(tmp_path, "plain", plain), write(tmp_path, "listed", listed)
    preds = read_predictions(under_test)
    assert preds.proba_columns == read_predictions(reference).proba_columns
    expected = to_jsonable(find_label_issues(reference, split="dev"))
    assert expected["issues"], "the table must produce suspects to compare"
    assert to_jsonable(find_label_issues(under_test, split="dev")) == expected
    for name, src in (("a", reference), ("b", under_test)):
        sample_errors(src, split="dev", n=10, output=tmp_path / f"{name}.csv")
    sheet = (tmp_path / "b.csv").read_text()
    assert sheet == (tmp_path / "a.csv").read_text()
    assert sheet.splitlines()[0] == "id,y_true,y_pred,confidence,comment"


def test_vector_of_integer_labels_written_as_text_or_floats(tmp_path):
    data = columns()
    for key in ("y_true", "y_pred"):
        data[key] = [float(v) for v in data[key]]
    preds = read_predictions(write(tmp_path, "floats", as_vector(data)))
    assert preds.proba_columns == {"0": "proba_0", "1": "proba_1", "2": "proba_2"}
    assert "proba" not in preds.table.columns


@pytest.mark.parametrize("make, message", [
    (lambda: as_vector(columns(labels=("a", "b", "c"))),
     "column 'proba' holds lists of 3 probabilities but the class of each position is ambiguous: labels such as "
     "'a', 'b', 'c' are not the integers 0 .. 2; expected one list of K probabilities per row, position i being "
     "the probability of label i (labels 0 .. K-1), or one proba_<class> column per class"),
    (lambda: {**as_vector(columns()), "y_true": [5] * 90},
     "column 'proba' holds lists of 3 probabilities but the class of each position is ambiguous: labels such as "
     "5 are not the integers 0 .. 2; expected one list of K probabilities per row, position i being the "
     "probability of label i (labels 0 .. K-1), or one proba_<class> column per class"),
    (lambda: {**as_vector(columns()), "proba": [[0.5, 0.5]] + [[0.2, 0.3, 0.5]] * 89},
     "column 'proba' holds lists of 2 to 3 values; expected one list of K probabilities per row"),
    (lambda: {k: ([[x, 1 - x] for x in v] if k.startswith("proba_") else v) for k, v in columns().items()},
     "column 'proba_0' holds lists of 2 values; a proba_<class> column holds one probability per row (a number, "
     "or a list of one number). Write one proba_<class> column per class, or all probabilities as one list "
     "column 'proba'"),
    (lambda: {**as_vector(columns()), "proba_0": [0.1] * 90},
     "column 'proba' holds lists of 3 values; a proba_<class> column holds one probability per row"),
])
def test_ambiguous_or_ragged_lists_are_refused_with_the_expected_shape(tmp_path, make, message):
    path = write(tmp_path, "bad", make())
    with pytest.raises(InputError, match=re.escape(f"{path}: {message}")):
        read_predictions(path)


@pytest.mark.parametrize("command", [["labels", "{p}"], ["errors", "sample", "{p}", "-o", "{d}/sheet.csv"],
                                     ["metrics", "{p}"]])
def test_the_commands_refuse_in_one_line(tmp_path, command):
    path = write(tmp_path, "bad", as_vector(columns(labels=("a", "b", "c"))))
    res = CliRunner().invoke(app, [a.format(p=path, d=tmp_path) for a in command])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "the class of each position is ambiguous" in " ".join(res.output.split())


def test_a_label_past_a_long_vector_is_refused_however_many_labels_there_are(tmp_path):
    # 1000 classes (ImageNet's count) and one y_true of 1000: the check sees every label it needs
    k, n = 1000, 1001
    proba = pa.ListArray.from_arrays(pa.array(np.arange(0, (n + 1) * k, k), pa.int32()),
                                     pa.array(np.full(n * k, 1 / k)))
    path = write(tmp_path, "wide", {"id": list(range(n)), "split": ["dev"] * n, "y_true": list(range(n)),
                                    "y_pred": [0] * n, "proba": proba})
    with pytest.raises(InputError, match=re.escape(
            f"{path}: column 'proba' holds lists of {k} probabilities but the class of each position is "
            f"ambiguous: labels such as {k} are not the integers 0 .. {k - 1}")):
        read_predictions(path)
