import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


@pytest.fixture
def predictions(tmp_path):
    rng = np.random.default_rng(3)
    n = 600
    split = np.array(["train"] * 400 + ["dev"] * 200)
    y = rng.integers(0, 3, n)
    yhat = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), y)
    w = rng.choice([1.0, 3.0], n)
    path = tmp_path / "pred.parquet"
    pq.write_table(
        pa.table({"id": np.arange(n), "split": split, "y_true": y, "y_pred": yhat, "weight": w}),
        path,
    )
    return path, y, yhat, w, split


def test_json_matches_sklearn(predictions):
    path, y, yhat, w, split = predictions
    result = runner.invoke(app, ["metrics", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    dev = split == "dev"
    d = out["splits"]["dev"]
    assert list(out["splits"]) == ["train", "dev"]
    assert d["n"] == 200
    assert d["error"] == pytest.approx(np.mean(y[dev] != yhat[dev]), abs=1e-12)
    assert d["weighted_error"] == pytest.approx(
        np.sum(w[dev] * (y[dev] != yhat[dev])) / np.sum(w[dev]), abs=1e-12
    )
    assert d["f1"] == pytest.approx(f1_score(y[dev], yhat[dev], average="macro"), abs=1e-12)
    assert d["error_ci"][0] < d["error"] < d["error_ci"][1]
    assert d["confusion"]["labels"] == ["0", "1", "2"]
    assert sum(map(sum, d["confusion"]["matrix"])) == 200
    assert set(d["per_class"]["1"]) == {"precision", "recall", "f1", "support"}
    assert out["weight"] == "weight"
    assert d["most_confused"][0]["count"] >= d["most_confused"][-1]["count"]


def test_pos_label_and_split(predictions):
    path, y, yhat, _, split = predictions
    result = runner.invoke(
        app, ["metrics", str(path), "--split", "dev", "--pos-label", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)["splits"]
    assert list(d) == ["dev"]
    dev = split == "dev"
    p, r, f, _ = precision_recall_fscore_support(y[dev], yhat[dev], labels=[2], average=None)
    assert d["dev"]["average"] == "binary" and d["dev"]["pos_label"] == "2"
    assert (d["dev"]["precision"], d["dev"]["recall"], d["dev"]["f1"]) == pytest.approx(
        (p[0], r[0], f[0]), abs=1e-12
    )


def test_terminal_view(predictions):
    result = runner.invoke(app, ["metrics", str(predictions[0])])
    assert result.exit_code == 0, result.output
    for text in (
        "Errors per split (95% CI)",
        "Precision / recall / F1 (macro)",
        "Confusion matrix: dev",
        "Most confused (dev",
    ):
        assert text in result.output


def test_zero_division_warning_goes_to_stderr(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("split,y_true,y_pred\ndev,a,a\ndev,b,a\n")
    result = runner.invoke(app, ["metrics", str(path)])
    assert result.exit_code == 0
    assert "warning: split dev: precision ill-defined" in " ".join(result.output.split())
    result = runner.invoke(app, ["metrics", str(path), "--zero-division", "1", "--json"])
    assert json.loads(result.stdout)["splits"]["dev"]["per_class"]["b"]["precision"] == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "holdout"], "unknown split 'holdout'; allowed: train, train_dev, dev, test"),
        (["--split", "test"], "split 'test' has 0 rows; splits present: train, dev"),
        (["--weight", "w8"], "w8"),
        (["--zero-division", "2"], "zero_division: '2' is not one of 'warn', 0, 1, nan"),
    ],
)
def test_bad_input_exit_2(predictions, args, message):
    result = runner.invoke(app, ["metrics", str(predictions[0]), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output


def test_empty_split_column_values(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("split,y_true,y_pred\n")
    result = runner.invoke(app, ["metrics", str(path)])
    assert result.exit_code == 2


def _one_line(text):
    return " ".join(text.split())


def test_pos_label_that_is_no_label_exits_2_with_did_you_mean(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("split,y_true,y_pred\ndev,cat,cat\ndev,dog,cat\ntest,cat,dog\n")
    result = runner.invoke(app, ["metrics", str(path), "--pos-label", "dgo"])
    assert result.exit_code == 2
    assert _one_line(result.output) == (
        f"Error: pos_label='dgo' (--pos-label) is not a label of {path} (labels: 'cat', 'dog') "
        "(did you mean 'dog'?)")
    # a label absent from one split only keeps sklearn's zero-division semantics there
    ok = runner.invoke(app, ["metrics", str(path), "--pos-label", "dog", "--json"])
    assert ok.exit_code == 0, ok.output


def test_pos_label_checked_in_the_array_api():
    from mlstrat import ConfigError
    from mlstrat.metrics import metrics_from_arrays

    with pytest.raises(ConfigError, match=r"pos_label='5' \(--pos-label\) is not a label of y_true/y_pred "
                                          r"\(labels: '0', '1'\)"):
        metrics_from_arrays([0, 1, 1], [0, 1, 0], pos_label=5)


def test_integer_and_text_labels_that_never_agree_are_refused(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"split": ["dev"] * 4, "y_true": [1, 0, 1, 1],
                             "y_pred": ["1.0", "0.0", "0.0", "1.0"]}), path)
    for command in (["metrics"], ["diagnose"]):
        result = runner.invoke(app, [*command, str(path)])
        assert result.exit_code == 2
        assert _one_line(result.output) == (
            f"Error: {path}: y_true (int64) and y_pred (string) never agree: compared as text they share no "
            "value (y_true: '0', '1'; y_pred: '0.0', '1.0'); the error would be 100% because of the types, not "
            "the model. Write both columns with the same type and spelling (e.g. both integers)")
    # same kinds mixed, but overlapping (a real model): accepted, error as sklearn counts it
    pq.write_table(pa.table({"split": ["dev"] * 4, "y_true": [1, 0, 1, 1], "y_pred": ["1", "0", "0", "x"]}), path)
    result = runner.invoke(app, ["metrics", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["splits"]["dev"]["error"] == 0.5


def test_weighted_error_column_only_with_weights(predictions, tmp_path):
    with_weights = runner.invoke(app, ["metrics", str(predictions[0])])
    assert "weighted error" in with_weights.output
    path = tmp_path / "no_weights.csv"
    path.write_text("split,y_true,y_pred\ndev,1,1\ndev,0,1\n")
    without = runner.invoke(app, ["metrics", str(path)])
    assert without.exit_code == 0, without.output
    assert "weighted error" not in without.output and "error" in without.output


def test_a_table_of_sealed_test_rows_only_reports_no_split(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,split,y_true,y_pred\nr0,test,a,b\nr1,test,a,a\n")
    result = CliRunner().invoke(app, ["metrics", str(path)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{path}: no split to report" in text
    assert "The test split (2 rows) is sealed" in text


def test_intervals_read_low_high_like_everywhere_else(tmp_path):
    import json

    path = tmp_path / "p.csv"
    path.write_text("id,split,y_true,y_pred\n" + "".join(f"r{i},dev,a,{'ab'[i % 4 == 0]}\n" for i in range(30)))
    shown = CliRunner().invoke(app, ["metrics", str(path)])
    doc = json.loads(CliRunner().invoke(app, ["metrics", str(path), "--json"]).stdout)
    low, high = doc["splits"]["dev"]["error_ci"]
    assert f"[{100 * low:.2f}%, {100 * high:.2f}%]" in shown.output
    assert f"{100 * low:.2f}-" not in shown.output
