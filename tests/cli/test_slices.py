"""`metrics --by`, `diagnose --by`, `errors slices` and `errors sample --categories-from-slices`."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def preds(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({
        "id": np.arange(n),
        "split": rng.choice(["train", "dev"], size=n),
        "y_true": rng.integers(0, 3, size=n),
        "age": rng.normal(40, 10, size=n).round(3),
        "region": rng.choice(list("abcdefgh"), size=n),
        "device": rng.choice(["app", "web"], size=n),
    })
    wrong = rng.random(n) < 0.1
    wrong |= ((frame.region == "c") & (frame.device == "app")).to_numpy() & (rng.random(n) < 0.5)
    frame["y_pred"] = np.where(wrong, (frame.y_true + 1) % 3, frame.y_true)
    path = tmp_path / "preds.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_metrics_by_json_has_stable_keys_and_fractions(preds):
    r = invoke("metrics", preds, "--by", "region", "--top", "3", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert list(doc) == ["split", "metric", "by", "columns", "n", "value", "ci_low", "ci_high",
                         "share_of", "groups", "top", "slices", "interval", "source"]
    assert doc["split"] == "dev" and doc["share_of"] == "mistakes" and doc["groups"] == 8
    assert [s["slice"] for s in doc["slices"]][0] == "region = c"
    assert doc["slices"][-1]["slice"] == "(other)" and len(doc["slices"]) == 4
    assert list(doc["slices"][0]) == ["slice", "predicates", "n", "value", "ci_low", "ci_high",
                                      "share", "ceiling"]
    assert 0 < doc["slices"][0]["share"] < 1 and 0 < doc["value"] < 1


def test_metrics_by_table_says_the_bins(preds):
    r = invoke("metrics", preds, "--by", "age", "--bins", "4", "--split", "train")
    assert r.exit_code == 0, r.output
    assert "error by age on train" in r.output
    assert "binned: age (4 quantile bins) (--bins)" in " ".join(r.output.split())


def test_diagnose_by_uses_its_metric(preds, tmp_path):
    frame = pd.read_parquet(preds)
    frame["loss"] = (frame.y_true != frame.y_pred) * 2.0
    path = tmp_path / "loss.parquet"
    frame.to_parquet(path, index=False)
    r = invoke("diagnose", path, "--by", "device", "--metric", "mean:loss", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["metric"]["name"] == "mean:loss" and doc["share_of"] == "loss"
    dev = frame[frame.split == "dev"]
    app_rows = dev[dev.device == "app"]
    got = {s["slice"]: s for s in doc["slices"]}
    assert got["device = app"]["value"] == pytest.approx(app_rows.loss.mean(), rel=1e-12)


def test_by_an_unknown_column_is_one_line_exit_2(preds):
    r = invoke("metrics", preds, "--by", "regoin")
    assert r.exit_code == 2
    assert "--by: no column 'regoin' (did you mean 'region'?)" in " ".join(r.output.split())
    assert "Traceback" not in r.output


def test_errors_slices_finds_the_planted_cohort(preds):
    r = invoke("errors", "slices", preds, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["slices"][0]["slice"] == "region = c and device = app"
    assert doc["fdr_method"] == "benjamini_hochberg" and doc["score"] == {"name": "sliceline", "alpha": 0.95}
    assert doc["tested"] == sum(doc["tested_per_level"])
    r = invoke("errors", "slices", preds, "--columns", "region,device")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "err more than the rest at FDR 0.05 (Benjamini–Hochberg)" in text
    assert "one-sided Fisher exact test" in text


def test_by_bins_that_are_not_a_number_is_exit_2(preds):
    r = invoke("metrics", preds, "--by", "age", "--bins", "ten")
    assert r.exit_code == 2
    assert "--bins 'ten': give a whole number, e.g. 10" in r.output


def test_errors_slices_bad_setting_is_exit_2(preds):
    r = invoke("errors", "slices", preds, "--fdr", "2")
    assert r.exit_code == 2
    assert "--fdr 2.0: the false-discovery rate must be in (0, 1]" in r.output


def test_sample_takes_categories_from_the_top_slices(preds, tmp_path):
    sheet = tmp_path / "sheet.csv"
    r = invoke("errors", "sample", preds, "-o", sheet, "-n", "20", "--categories", "blurry",
               "--categories-from-slices", "2", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["categories"] == ["blurry", "region = c and device = app", "region = c"]
    header = pd.read_csv(sheet, nrows=0).columns
    assert list(header[-4:]) == ["blurry", "region = c and device = app", "region = c", "comment"]


def test_slice_categories_come_from_the_named_columns_only(preds, tmp_path):
    r = invoke("errors", "sample", preds, "-o", tmp_path / "s.csv", "-n", "5",
               "--categories-from-slices", "3", "--slice-columns", "region", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["categories"] == ["region = c"]


@pytest.mark.parametrize(("command", "options"), [(["errors", "slices"], []),
                                                  (["metrics"], ["--by", "customer_region_of_residence"])])
def test_a_narrow_terminal_cuts_neither_slice_nor_figure(preds, tmp_path, command, options):
    long = tmp_path / "long.parquet"
    pd.read_parquet(preds).rename(columns={"region": "customer_region_of_residence",
                                           "device": "device_category_of_customer"}).to_parquet(long)
    args = [*command, long, *options]
    slices = json.loads(invoke(*args, "--json").stdout)["slices"]
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    lines = r.stdout.splitlines()
    rows = lines[next(i for i, line in enumerate(lines) if line.startswith("───")) + 1:]
    # the slice column: what each line holds before the first gap of two spaces
    first_column = "".join(re.split(r"\s{2,}", line)[0].replace(" ", "") for line in rows)
    for s in slices:  # each description whole (folded over lines at most), its interval on one line
        assert "".join(s["slice"].split()) in first_column
        assert f"{100 * s['ci_low']:.2f}% – {100 * s['ci_high']:.2f}%" in r.stdout
