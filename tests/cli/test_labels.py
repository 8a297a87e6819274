import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.errors._data import digits_predictions, simple_predictions, write

runner = CliRunner()


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_labels_on_the_digits_scenario(tmp_path):
    src = digits_predictions(tmp_path / "digits.csv")
    out = tmp_path / "issues.csv"
    r = runner.invoke(app, ["labels", str(src), "--split", "dev", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = one_line(r.output)
    assert "Estimated label errors:" in text and f"-> {out}" in text
    issues = pd.read_csv(out)
    assert list(issues.columns) == ["rank", "id", "given_label", "suggested_label", "score"]
    assert list(issues["rank"]) == list(range(1, len(issues) + 1))
    assert (issues.given_label != issues.suggested_label).all()
    assert issues.score.is_monotonic_increasing
    r = runner.invoke(app, ["labels", str(src), "--json"])
    d = json.loads(r.output)
    assert [i["id"] for i in d["issues"]] == list(issues.id)
    assert d["estimated_label_errors"] >= len(issues) and 0 <= d["error_share"] <= 1


def test_labels_train_split_warns(tmp_path):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=60)
    df = pd.DataFrame(
        {
            "id": range(60),
            "split": "train",
            "y_true": rng.integers(3, size=60),
            "y_pred": probs.argmax(1),
            **{f"proba_{j}": probs[:, j] for j in range(3)},
        }
    )
    src = write(df, tmp_path / "p.csv")
    r = runner.invoke(app, ["labels", str(src), "--split", "train"])
    assert r.exit_code == 0
    assert (
        "Warning: split 'train': confident learning needs out-of-sample probabilities"
        in one_line(r.output)
    )


def test_labels_without_proba_is_exit_2(tmp_path):
    src = write(simple_predictions(with_proba=False), tmp_path / "p.csv")
    r = runner.invoke(app, ["labels", str(src)])
    assert r.exit_code == 2
    assert one_line(r.output) == one_line(
        f"Error: {src}: no proba_<class> columns; label issues need the predicted probability of every "
        "class (e.g. proba_cat, proba_dog), out-of-sample (cross-validated or from a held-out split)"
    )


def test_labels_output_exists(tmp_path):
    src = write(simple_predictions(), tmp_path / "p.csv")
    out = tmp_path / "i.csv"
    out.write_text("x\n")
    r = runner.invoke(app, ["labels", str(src), "-o", str(out)])
    assert r.exit_code == 2 and "already exists; pass --force" in one_line(r.output)
    assert runner.invoke(app, ["labels", str(src), "-o", str(out), "--force"]).exit_code == 0


@pytest.mark.parametrize(
    "opt, message",
    [
        (
            ["--rank-by", "x"],
            "Error: rank_by: unknown ranking 'x'; allowed: self_confidence, normalized_margin",
        ),
        (
            ["--method", "x"],
            "Error: method: unknown method 'x'; allowed: auto, rank, prune_by_noise_rate",
        ),
    ],
)
def test_labels_bad_options(tmp_path, opt, message):
    src = write(simple_predictions(), tmp_path / "p.csv")
    r = runner.invoke(app, ["labels", str(src), *opt])
    assert r.exit_code == 2 and one_line(r.output) == message
