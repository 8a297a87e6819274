"""Column and split names a user already has (``label``, ``val``) mapped to the method's, with notes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import InputError, MlstratWarning
from mlstrat.cli import app
from mlstrat.metrics import compute_metrics
from mlstrat.tables import map_predictions, read_predictions


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"id": np.arange(n), "set": np.array(["training", "val", "Train-Dev", "test"])[np.arange(n) % 4],
                         "label": y, "prediction": np.where(rng.random(n) < 0.2, 1 - y, y)})


def test_columns_and_split_aliases_are_mapped_with_notes():
    mapped = map_predictions(_frame(), y_true="label", y_pred="prediction", split_col="set")
    assert mapped.notes == ("column 'label' read as y_true", "column 'prediction' read as y_pred",
                            "column 'set' read as split", "split 'training' read as train",
                            "split 'Train-Dev' read as train_dev", "split 'val' read as dev")
    frame = _frame()
    got = compute_metrics(mapped.table)
    dev = frame[frame.set == "val"]
    assert got.splits["dev"].error == pytest.approx(float((dev.label != dev.prediction).mean()))
    assert set(got.splits) == {"train", "train_dev", "dev"}  # test stays sealed unless asked


def test_library_reads_aliases_with_a_warning():
    frame = _frame().rename(columns={"set": "split", "label": "y_true", "prediction": "y_pred"})
    with pytest.warns(MlstratWarning, match=r"split 'training' read as train; split 'Train-Dev' read as train_dev; split 'val' read as dev"):
        preds = read_predictions(frame)
    assert preds.sizes == {"train": 50, "train_dev": 50, "dev": 50, "test": 50}


def test_alias_beside_its_target_is_refused():
    frame = pd.DataFrame({"split": ["dev", "val"], "y_true": [1, 0], "y_pred": [1, 1]})
    with pytest.raises(InputError, match=r"column 'split' has both 'val' and what they would map to \(dev\)"):
        map_predictions(frame)


def test_missing_mapped_column_names_the_fix():
    with pytest.raises(InputError, match=r"no column 'lable' to read as y_true \(did you mean 'label'\?\)"):
        map_predictions(_frame(), y_true="lable")


def test_cli_metrics_maps_and_says_so(tmp_path):
    path = tmp_path / "preds.csv"
    _frame().to_csv(path, index=False)
    res = CliRunner().invoke(app, ["metrics", str(path), "--y-true", "label", "--y-pred", "prediction",
                                   "--split-col", "set", "--test", "--json"])
    assert res.exit_code == 0, res.output
    assert "mapped: column 'label' read as y_true; column 'prediction' read as y_pred" in res.stderr
    assert set(json.loads(res.stdout)["splits"]) == {"train", "train_dev", "dev", "test"}
