import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()
FIGURES = [
    "--errors",
    "train=1%,train_dev=1.5%,dev=10%,test=10.2%",
    "--sizes",
    "train=50000,train_dev=2000,dev=2000,test=2000",
]


def _run(*args):
    return runner.invoke(app, ["diagnose", *args])


def test_json_from_figures():
    result = _run(*FIGURES, "--human", "expert team=0.5%", "--human", "typical person=3%", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["principal_problem"] == "data_mismatch"
    assert out["human_level"]["bayes_proxy"] == {"name": "expert team", "value": 0.005}
    assert out["errors"]["dev"]["n"] == 2000
    assert [a["id"] for a in out["actions"]] == [
        "error_analysis",
        "collect_target_data",
        "add_target_data_to_train",
        "data_synthesis",
    ]


def test_terminal_view():
    result = _run(*FIGURES, "--human", "0.5%")
    assert result.exit_code == 0, result.output
    for text in (
        "Error per split (95% CI)",
        "train-dev",
        "Components",
        "data mismatch",
        "Data mismatch is the principal problem (8.5 pts, train-dev to dev).",
        "Next actions",
        "error_analysis",
        "human 0.50%",
        "warning [test_split_used]",
    ):
        assert text in result.output, text


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [("data_mismatch", 1), ("variance,avoidable_bias", 0), ("variance,data_mismatch", 1)],
)
def test_fail_on(fail_on, code):
    result = _run(*FIGURES, "--human", "0.5%", "--fail-on", fail_on, "--json")
    assert result.exit_code == code
    json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--errors", "train=5,dev=10%"],
            "--errors train: 5 has no unit; on the command line a rate carries a % sign: write 5%",
        ),
        (
            ["--errors", "trn=1%"],
            "--errors: unknown key 'trn' (did you mean 'train'?); allowed: train, train_dev, dev, "
            "test",
        ),
        (
            ["--errors", "train"],
            "--errors: 'train' is not of the form key=value (example: dev=10%)",
        ),
        (
            ["--errors", "train=1%", "--human", "150%"],
            "--human human: 150% is outside [0, 1]; give a fraction like 0.05 or 5%",
        ),
        (
            ["--errors", "train=1%", "--metric", "f_1"],
            "unknown metric 'f_1' (did you mean 'f1'?); choose from error, weighted_error, f1",
        ),
        (
            ["--errors", "train=1%", "--fail-on", "varience"],
            "--fail-on: unknown problem 'varience' (did you mean 'variance'?)",
        ),
        (["--errors", "train=1%,dev=2%", "--sizes", "dev=0"], "--sizes dev: the split has 0 rows"),
        ([], "nothing to diagnose: give a predictions table (mlstrat diagnose predictions.parquet) or the errors"),
    ],
)
def test_bad_input_exit_2(args, message):
    result = _run(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output


@pytest.fixture
def predictions(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    split = np.array(["train"] * 2000 + ["train_dev"] * 500 + ["dev"] * 500)
    y = rng.integers(0, 4, n)
    rate = np.where(split == "train", 0.02, np.where(split == "train_dev", 0.03, 0.15))
    yhat = np.where(rng.random(n) < rate, (y + 1) % 4, y)
    path = tmp_path / "pred.parquet"
    pq.write_table(
        pa.table({"id": np.arange(n), "split": split, "y_true": y, "y_pred": yhat}), path
    )
    return path


def test_from_predictions_file(predictions):
    result = _run(str(predictions), "--human", "1%", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["errors"]["train"]["n"] == 2000
    assert out["principal_problem"] == "data_mismatch"


def test_predictions_bad_input(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("split,y_true,y_pred\nholdout,1,1\n")
    result = _run(str(path))
    assert result.exit_code == 2
    assert (
        "column 'split' has unknown value(s) 'holdout'; allowed: train, train_dev, dev, test"
        in result.output
    )
    path.write_text("split,y_true\ndev,1\n")
    result = _run(str(path))
    assert result.exit_code == 2
    assert (
        f"{path}: missing column 'y_pred'; "
        "available columns: split, y_true" in " ".join(result.output.split())
    )
    path.write_text("split,y_true,y_pred\ndev,,1\n")
    result = _run(str(path))
    assert result.exit_code == 2
    assert "column 'y_true' has 1 empty/NaN value(s)" in result.output


def test_light_path_imports_nothing_heavy():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom mlstrat.cli import app\n"
        "r = CliRunner().invoke(app, ['diagnose', '--errors', 'train=1%,dev=10%', '--sizes', "
        "'train=100,dev=100',"
        " '--human', '0.5%'])\nassert r.exit_code == 0, r.output\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    for heavy in ("duckdb", "ibis", "pandas", "sklearn", "torch", "pyarrow", "numpy", "matplotlib"):
        assert heavy not in loaded, heavy


def test_human_labels_and_bayes(predictions, tmp_path):
    labels = tmp_path / "human.csv"
    rows = ["id,label,annotator"]
    table = pq.read_table(predictions).to_pylist()
    dev = [r for r in table if r["split"] == "dev"][:100]
    for j, r in enumerate(dev):
        rows.append(f"{r['id']},{r['y_true'] if j >= 4 else (r['y_true'] + 1) % 4},ann1")
    labels.write_text("\n".join(rows) + "\n")
    result = _run(str(predictions), "--human-labels", str(labels), "--human", "guess=2%", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    refs = {r["name"]: r for r in out["human_level"]["references"]}
    assert refs["annotator ann1"]["value"] == 0.04 and refs["annotator ann1"]["n"] == 100
    assert refs["annotator ann1"]["ci_low"] < 0.04 < refs["annotator ann1"]["ci_high"]
    assert out["human_level"]["bayes_proxy"] == {"name": "guess", "value": 0.02}
    result = _run(
        str(predictions),
        "--human-labels",
        str(labels),
        "--human",
        "guess=2%",
        "--bayes",
        "annotator ann1",
        "--json",
    )
    assert json.loads(result.output)["human_level"]["bayes_proxy"]["value"] == 0.04


def test_mismatched_flag(predictions):
    result = _run("--errors", "train=1%,dev=11%", "--human", "0%", "--mismatched", "--json")
    codes = [w["code"] for w in json.loads(result.output)["warnings"]]
    assert "mismatched_without_train_dev" in codes


def test_metric_option_from_table(predictions):
    result = _run(str(predictions), "--metric", "f1", "--human", "1%", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metric"] == {"name": "f1", "kind": "f1", "direction": "lower_is_better", "unit": "rate"}
