import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.errors._data import digits_predictions, simple_predictions, write

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def preds(tmp_path):
    return write(simple_predictions(), tmp_path / "preds.csv")


def test_sample_summarize_on_the_digits_scenario(tmp_path):
    src = digits_predictions(tmp_path / "digits.csv")
    sheet = tmp_path / "sheet.csv"
    r = invoke(
        "errors",
        "sample",
        src,
        "--split",
        "dev",
        "-n",
        "20",
        "--categories",
        "blurry,thin stroke,mislabeled",
        "-o",
        sheet,
    )
    assert r.exit_code == 0, r.output
    assert re.search(
        r"Sampled 20 of \d+ misclassified dev rows \(dev error \d+\.\d\d% on \d+ rows\)", r.output
    )
    df = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    assert len(df) == 20 and list(df.columns[-4:]) == [
        "blurry",
        "thin stroke",
        "mislabeled",
        "comment",
    ]
    assert "px_63" in df.columns and "confidence" in df.columns
    df["blurry"] = ["x"] * 12 + [""] * 8
    df["thin stroke"] = [""] * 12 + ["1"] * 8
    df["mislabeled"] = ["✓"] * 5 + [""] * 15
    df.to_csv(sheet, index=False)
    r = invoke("errors", "summarize", sheet, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    meta = json.loads((tmp_path / "sheet.csv.meta.json").read_text())
    assert d["split_error"] == meta["split_error"] and d["tagged"] == 20
    assert [c["name"] for c in d["categories"]] == ["blurry", "thin stroke", "mislabeled"]
    assert d["categories"][0]["share"] == 0.6
    assert d["categories"][0]["ceiling"] == pytest.approx(0.6 * meta["split_error"], abs=1e-15)
    assert d["mislabeled"]["error_due"] == pytest.approx(0.25 * meta["split_error"], abs=1e-15)
    r = invoke("errors", "summarize", sheet)
    assert r.exit_code == 0
    out = one_line(r.output)
    assert "20 of 20 sampled errors reviewed, 20 of them with a category" in out and "blurry" in out and "60.0%" in out
    assert "Error due to incorrect labels (mislabeled):" in out
    # 20 reviewed errors: the advice on labels waits and says how many more to tag
    assert "Too few errors reviewed to decide on fixing labels" in out and "more to know it within 10 points" in out


def test_sample_json_and_include_correct(preds, tmp_path):
    r = invoke(
        "errors",
        "sample",
        preds,
        "-o",
        tmp_path / "s.csv",
        "-n",
        "3",
        "--include-correct",
        "2",
        "--seed",
        "4",
        "--json",
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["sample_size"], d["n_correct"], d["seed"], d["n_errors"]) == (3, 2, 4, 10)


def test_compare_two_sheets(preds, tmp_path):
    for name in ("dev.csv", "test.csv"):
        assert (
            invoke(
                "errors",
                "sample",
                preds,
                "-o",
                tmp_path / name,
                "-n",
                "10",
                "--categories",
                "blurry,mislabeled",
            ).exit_code
            == 0
        )
        df = pd.read_csv(tmp_path / name, dtype=str, keep_default_na=False)
        df["blurry"] = ["1"] * 10
        df.to_csv(tmp_path / name, index=False)
    r = invoke("errors", "summarize", tmp_path / "dev.csv", tmp_path / "test.csv", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert len(d["sheets"]) == 2 and d["categories"][0]["name"] == "blurry"
    assert d["warnings"][0]["code"] == "same_split"
    r = invoke("errors", "summarize", tmp_path / "dev.csv", tmp_path / "test.csv")
    assert r.exit_code == 0 and "Comparison (second - first)" in r.output


# ---- bad input: one red line, exit 2 ------------------------------------------------------------


def test_sheet_without_meta(preds, tmp_path):
    sheet = tmp_path / "s.csv"
    invoke("errors", "sample", preds, "-o", sheet, "-n", "3")
    (tmp_path / "s.csv.meta.json").unlink()
    r = invoke("errors", "summarize", sheet)
    assert r.exit_code == 2
    assert one_line(r.output) == one_line(
        f"Error: {sheet}: its meta file s.csv.meta.json is missing (it records the split's error that the "
        "ceilings need); re-create the sheet with 'mlstrat errors sample PREDICTIONS --split dev -o s.csv' "
        "and copy your tags into it"
    )


def test_split_with_no_errors(tmp_path):
    src = write(simple_predictions(n_errors=0), tmp_path / "p.csv")
    r = invoke("errors", "sample", src, "-o", tmp_path / "s.csv")
    assert r.exit_code == 2
    assert one_line(r.output) == one_line(
        f"Error: {src}: split 'dev' has no misclassified rows (0 errors in 40 rows); there is nothing to sample"
    )


def test_duplicate_categories(preds, tmp_path):
    r = invoke(
        "errors", "sample", preds, "-o", tmp_path / "s.csv", "--categories", "dog,blurry,dog"
    )
    assert r.exit_code == 2
    assert one_line(r.output) == (
        "Error: categories: 'dog' is given twice (as 'dog' and 'dog'); give each category once"
    )


def test_unknown_mark(preds, tmp_path):
    sheet = tmp_path / "s.csv"
    invoke("errors", "sample", preds, "-o", sheet, "-n", "3", "--categories", "blurry")
    df = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    df["blurry"] = ["1", "?", ""]
    df.to_csv(sheet, index=False)
    r = invoke("errors", "summarize", sheet)
    assert r.exit_code == 2
    assert one_line(r.output) == one_line(
        f"Error: {sheet}: row 2 (id '{df.id[1]}'), column 'blurry': unknown mark '?'; use 1, x, yes, true "
        "or ✓ for tagged and leave it empty (or 0, no) for not tagged"
    )


def test_changed_predictions_warn_with_fingerprint(preds, tmp_path):
    sheet = tmp_path / "s.csv"
    invoke("errors", "sample", preds, "-o", sheet, "-n", "3", "--categories", "blurry")
    old = json.loads((tmp_path / "s.csv.meta.json").read_text())["fingerprint"]
    preds.write_text(preds.read_text().replace("example 1", "example one"))
    r = invoke("errors", "summarize", sheet)
    assert r.exit_code == 0
    out = one_line(r.output)
    assert (
        f"Warning: {preds}: the predictions file changed since the sheet was sampled (fingerprint {old} then, sha256:"
        in out
    )
    assert "re-sample with 'mlstrat errors sample'" in out


def test_three_sheets_is_a_usage_error(preds, tmp_path):
    r = invoke("errors", "summarize", preds, preds, preds)
    assert r.exit_code == 2
    assert "give one sheet, or two to compare" in one_line(r.output)


def test_ui_refuses_a_sheet_without_meta(preds, tmp_path):
    sheet = tmp_path / "s.csv"
    invoke("errors", "sample", preds, "-o", sheet, "-n", "3")
    (tmp_path / "s.csv.meta.json").unlink()
    r = invoke("errors", "ui", sheet, "--no-browser")
    assert r.exit_code == 2 and "its meta file s.csv.meta.json is missing" in one_line(r.output)


def test_help_lists_the_subcommands():
    r = invoke("errors", "--help")
    assert r.exit_code == 0
    for cmd in ("sample", "summarize", "ui"):
        assert cmd in r.output
