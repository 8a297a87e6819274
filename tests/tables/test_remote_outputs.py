"""Every command that writes a table refuses an output URI its engine cannot reach before its
work, in one line (DuckDB here: no httpfs extension is installed, and none is downloaded); the
files a command writes itself (an error sheet, an HTML report) refuse a URI in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mlstrat.mismatch
from mlstrat._exceptions import InputError
from mlstrat.cli import app

_NO_HTTPFS = "cannot be reached by DuckDB (its httpfs extension is not installed); install it (INSTALL httpfs) " \
             "or use --engine spark"


@pytest.fixture(autouse=True)
def no_duckdb_extensions(tmp_path_factory):
    """The default DuckDB looks for extensions in an empty folder while the test runs: an httpfs a
    developer installed would otherwise send the check to the real storage."""
    from mlstrat.tables import default_connection

    con = default_connection().con
    folder = tmp_path_factory.mktemp("no-extensions")
    con.execute(f"SET extension_directory = '{folder}'")
    yield
    con.execute("RESET extension_directory")


def write_predictions(folder):
    """``folder/preds.parquet``: 200 binary predictions with probabilities, a feature and a domain."""
    rng = np.random.default_rng(0)
    n = 200
    truth = rng.integers(0, 2, n)
    proba = np.clip(truth * 0.6 + rng.random(n) * 0.5, 0, 1)
    frame = pd.DataFrame({"id": range(n), "split": np.array(["train", "train_dev", "dev", "test"])[np.arange(n) % 4],
                          "y_true": np.where(truth, "dog", "cat"), "y_pred": np.where(proba > 0.5, "dog", "cat"),
                          "proba_dog": proba, "proba_cat": 1 - proba, "f1": rng.random(n),
                          "domain": np.where(np.arange(n) % 2, "web", "app")})
    path = folder / "preds.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture
def predictions(tmp_path):
    return write_predictions(tmp_path)


def _refused(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def _never(*_args, **_kwargs):
    raise AssertionError("the work ran before the output was checked")


def test_labels_refuses_an_unreachable_output_before_the_work(predictions, monkeypatch):
    monkeypatch.setattr("mlstrat.cli.labels._find_suspects", _never)
    line = _refused(["labels", str(predictions), "-o", "s3://bucket/issues.parquet"])
    assert line == f"Error: s3://bucket/issues.parquet: {_NO_HTTPFS}"
    assert sorted(p.name for p in predictions.parent.iterdir()) == ["preds.parquet"]  # no temp output left


def test_mismatch_refuses_an_unreachable_output_before_the_work(predictions, monkeypatch):
    monkeypatch.setattr(mlstrat.mismatch, "analyze_mismatch", _never)
    line = _refused(["mismatch", str(predictions), "--domain", "domain", "--target", "app", "--features", "f1",
                     "-o", "gs://bucket/weights.parquet"])
    assert line == f"Error: gs://bucket/weights.parquet: {_NO_HTTPFS}"
    assert sorted(p.name for p in predictions.parent.iterdir()) == ["preds.parquet"]


def test_synth_refuses_an_unreachable_output_before_the_work(predictions, monkeypatch):
    monkeypatch.setattr("mlstrat.mismatch._synth._select_rows", _never)
    line = _refused(["synth", str(predictions), "--transform", "jitter", "--features", "f1",
                     "-o", "abfss://data@account.dfs.core.windows.net/synth.parquet"])
    assert line == ("Error: abfss://data@account.dfs.core.windows.net/synth.parquet: cannot be reached by DuckDB "
                    "(its azure extension is not installed); install it (INSTALL azure) or use --engine spark")
    assert sorted(p.name for p in predictions.parent.iterdir()) == ["preds.parquet"]


def test_predict_refuses_an_unreachable_output_before_reading_the_model(tmp_path):
    from mlstrat.nn import predict

    with pytest.raises(InputError) as caught:  # the run folder does not exist: the output is checked first
        predict(tmp_path / "no-run", tmp_path / "data.parquet", output="s3://bucket/preds.parquet")
    assert str(caught.value) == f"s3://bucket/preds.parquet: {_NO_HTTPFS}"


@pytest.mark.parametrize(("args", "what"), [
    (["errors", "sample", "{preds}", "-o", "s3://bucket/sheet.csv"], "the error sheet"),
    (["report", "{preds}", "-o", "s3://bucket/report.html"], "the HTML report"),
])
def test_files_written_by_mlstrat_itself_refuse_a_uri(predictions, args, what):
    line = _refused([a.format(preds=predictions) for a in args])
    uri = args[-1]
    assert line == (f"Error: {uri}: {what} is written on this machine; give a local path (or a file:// URI) "
                    "and copy it to the storage afterwards")
    assert sorted(p.name for p in predictions.parent.iterdir()) == ["preds.parquet"]
