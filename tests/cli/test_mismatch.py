import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.scenarios import build_digits_manifest

runner = CliRunner()
SHAPE = ["--feature-prefix", "px_", "--image-shape", "1,8,8", "--value-range", "0,16"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    t = build_digits_manifest()
    t = t.take(pa.array(np.arange(0, t.num_rows, 3)))
    dom = np.array(t["domain"].to_pylist())
    split = np.where(dom == "app", np.where(np.arange(len(dom)) % 2 == 0, "dev", "test"), "train")
    path = tmp_path_factory.mktemp("mm") / "digits.parquet"
    pq.write_table(t.append_column("split", pa.array(split)), path)
    return path


def test_human_output_names_the_auc_and_the_statistics(manifest, tmp_path):
    out = tmp_path / "w.csv"
    result = runner.invoke(
        app,
        [
            "mismatch",
            str(manifest),
            "--target",
            "app",
            *SHAPE,
            "--folds",
            "3",
            "--group",
            "group",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Domain classifier: domain = app (205 rows) vs web (394 rows); 71 features" in text
    assert "ROC AUC 1.000" in text or "ROC AUC 0.99" in text
    assert "strong mismatch" in text
    assert "img_" in text and "What separates the domains" in text
    assert f"Wrote 394 source rows with p_target, target_likeness and weight to {out}" in text
    assert out.read_text().startswith("id,domain,p_target,target_likeness,weight")


def test_json(manifest):
    result = runner.invoke(
        app, ["mismatch", str(manifest), "--target", "app", *SHAPE, "--folds", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["auc"]["value"] > 0.95 and d["strength"] == "strong" and d["output"] is None
    assert d["top_features"][0]["feature"].startswith("img_")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--target", "apps", *SHAPE],
            "column 'domain' has no rows with value 'apps' (did you mean 'app'?); values: app, web",
        ),
        (["--target", "app", "--features", "px_0,nope"], "missing feature column(s) 'nope'"),
        (
            ["--target", "app", "--feature-prefix", "px_", "--image-shape", "1,8"],
            "--image-shape: '1,8' must have 3 comma-separated values; got 2",
        ),
        (
            ["--target", "app", "--feature-prefix", "px_", "--image-shape", "a,b,c"],
            "--image-shape: 'a,b,c' must be comma-separated whole numbers (example: 1,8,8)",
        ),
    ],
)
def test_bad_input_exits_2(manifest, args, message):
    result = runner.invoke(app, ["mismatch", str(manifest), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_missing_image_paths_exit_2(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("id,path,domain\na,x/1.png,web\nb,x/2.png,app\nc,x/3.png,web\n")
    result = runner.invoke(app, ["mismatch", str(m), "--target", "app", "--image-col", "path"])
    assert result.exit_code == 2
    assert "3 of 3 path(s) in column 'path' do not exist" in " ".join(result.output.split())


def test_refuses_to_overwrite_the_manifest(manifest):
    result = runner.invoke(
        app, ["mismatch", str(manifest), "--target", "app", *SHAPE, "-o", str(manifest), "--force"]
    )
    assert result.exit_code == 2
    assert "the output path is the input file" in result.output


def test_predictions_compare_misclassified_dev_rows_with_train(manifest, tmp_path):
    t = pq.read_table(manifest)
    split = np.array(t["split"].to_pylist())
    label = np.array(t["label"].to_pylist())
    keep = np.isin(split, ["train", "dev"])
    wrong = (split == "dev") & (np.arange(len(split)) % 4 == 0)
    preds = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "id": t["id"].filter(pa.array(keep)),
                "split": split[keep],
                "y_true": label[keep],
                "y_pred": np.where(wrong, (label + 1) % 10, label)[keep],
            }
        ),
        preds,
    )
    result = runner.invoke(
        app,
        [
            "mismatch",
            str(manifest),
            "--target",
            "app",
            *SHAPE,
            "--folds",
            "3",
            "--predictions",
            str(preds),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    e = json.loads(result.output)["errors"]
    assert e["n_misclassified"] == wrong.sum() and e["n_train"] == (split == "train").sum()
    assert e["auc_misclassified"]["value"] > 0.9


@pytest.mark.parametrize("width", [80, 120])
def test_features_table_cuts_no_figure(manifest, width):
    result = runner.invoke(app, ["mismatch", str(manifest), "--target", "app", *SHAPE, "--folds", "3"],
                           env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    table = [line for line in lines if line.startswith("│")]
    assert table and "…" not in "\n".join(table)
    assert max(len(line) for line in table) <= width
    narrow_note = "mean source / mean target left out at this width (wider terminal or --json)"
    assert (narrow_note in " ".join(result.output.split())) == (width < 100)
    header = next(line for line in lines if "AUC drop" in line)
    assert ("mean source" in header) == (width >= 100)
