"""``mismatch``, ``synth``'s table part and ``report`` from predictions give on the shared local
Spark session what they give on DuckDB: the same report JSON (floats to 1e-12 relative), the
same synthesized rows, the same HTML page.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import mlstrat
from mlstrat.cli import app
from mlstrat.tables import read_table
from tests.spark._compare import assert_same

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def _tabular_manifest(n: int = 400, seed: int = 5) -> pa.Table:
    """Two numeric features; the target rows ('app') have another mean and spread."""
    rng = np.random.default_rng(seed)
    target = np.arange(n) % 2 == 0
    x = np.where(target[:, None], rng.normal(1.0, 1.6, (n, 2)), rng.normal(0.0, 1.0, (n, 2)))
    split = np.where(target, np.where(np.arange(n) % 4 == 0, "dev", "test"), "train")
    return pa.table({"id": [f"r'{i}\\ü" for i in range(n)], "split": split,
                     "domain": np.where(target, "app", "web"), "group": [f"g{i}" for i in range(n)],
                     "age": x[:, 0], "income": x[:, 1]})


def _tabular_predictions(manifest: pa.Table, seed: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = manifest.select(["id", "split", "domain"]).to_pandas()
    frame["y_true"] = rng.choice(["yes", "no"], size=len(frame))
    # dev (the app rows) is wrong more often: a mismatch for the comparison to find
    wrong = rng.random(len(frame)) < np.where(frame.split == "dev", 0.35, 0.08)
    frame["y_pred"] = np.where(wrong, np.where(frame.y_true == "yes", "no", "yes"), frame.y_true)
    frame["proba_no"] = np.clip(rng.normal(np.where(frame.y_pred == "no", 0.75, 0.25), 0.1), 0.01, 0.99)
    frame["proba_yes"] = 1 - frame["proba_no"]
    return frame.drop(columns="domain")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark-mismatch")
    manifest = _tabular_manifest()
    pq.write_table(manifest, folder / "manifest.parquet")
    _tabular_predictions(manifest).to_csv(folder / "preds.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def duck():
    return mlstrat.connect("duckdb")


def test_mismatch_report_identical(files, duck, spark):
    from mlstrat._json import to_jsonable
    from mlstrat.mismatch import analyze_mismatch

    reports = [analyze_mismatch(str(files / "manifest.parquet"), domain="domain", target="app",
                                features=["age", "income"], predictions=str(files / "preds.csv"),
                                folds=3, importance_repeats=2, con=con) for con in (duck, spark)]
    on_duck, on_spark = (to_jsonable(r.to_dict()) for r in reports)
    assert_same(on_duck, on_spark)
    assert on_duck["auc"]["value"] > 0.6 and on_duck["errors"]["n_misclassified"] > 10  # real findings
    assert reports[0].weights.to_pylist() == reports[1].weights.to_pylist()


def test_synth_tabular_rows_identical_and_written_by_the_engine(files, duck, spark, tmp_path):
    from mlstrat.mismatch import synthesize

    results = {}
    for name, con in (("duck", duck), ("spark", spark)):
        results[name] = synthesize(str(files / "manifest.parquet"), transforms=["match"], like="app",
                                   features=["age", "income"], folds=3, seed=3, con=con,
                                   output=tmp_path / f"{name}.parquet")
    assert_same(results["duck"].to_dict() | {"output": None}, results["spark"].to_dict() | {"output": None})
    assert results["duck"].n_synthesized > 100
    # each engine wrote its own output (the manifest's rows, then the new ones): DuckDB one file,
    # Spark a directory of part files; the rows are the same
    assert (tmp_path / "duck.parquet").is_file() and (tmp_path / "spark.parquet").is_dir()
    written = read_table(str(tmp_path / "duck.parquet"), con=duck).to_pyarrow()
    back = read_table(str(tmp_path / "spark.parquet"), con=duck).to_pyarrow()
    assert written.num_rows == results["duck"].n_input_rows + results["duck"].n_synthesized
    assert sorted(back.to_pylist(), key=lambda r: r["id"]) == sorted(written.to_pylist(), key=lambda r: r["id"])


def test_report_from_predictions_identical(files, tmp_path):
    """The whole page: diagnosis, confusion matrix and the probability curves of dev."""
    pages, summaries = [], []
    for engine in ("duckdb", "spark"):
        out = tmp_path / f"{engine}.html"
        r = CliRunner().invoke(app, ["report", str(files / "preds.csv"), "--human", "experts=2%",
                                     "-o", str(out), "--json", "--engine", engine])
        assert r.exit_code == 0, r.output
        summaries.append({k: v for k, v in json.loads(r.output).items() if k not in ("output", "bytes")})
        pages.append(out.read_text())
    assert summaries[0] == summaries[1] and "probability curves" in " ".join(summaries[0]["sections"]).lower()
    assert pages[0] == pages[1]
