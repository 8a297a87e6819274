"""`mlstrat threshold --chart`: the dev precision-recall and ROC curves with the chosen point."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score, recall_score
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.display._decision_charts import operating_point_marks
from mlstrat.metrics import choose_threshold

runner = CliRunner()


@pytest.fixture
def predictions(tmp_path):
    rng = np.random.default_rng(11)
    n = 500
    split = np.array(["train"] * 100 + ["dev"] * 300 + ["test"] * 100)
    y = rng.integers(0, 2, n)
    score = np.round(1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1, n)))), 3)  # rounded: ties
    labels = np.where(y == 1, "$pos", "$neg")
    path = tmp_path / "pred.csv"
    pd.DataFrame({"split": split, "y_true": labels, "y_pred": np.where(score >= 0.5, "$pos", "$neg"),
                  "proba_$neg": 1 - score, "proba_$pos": score}).to_csv(path, index=False)
    dev = split == "dev"
    return path, y[dev], score[dev]


def brute_force_recall_at_precision(y, score, floor):
    """Every distinct dev score tried: the highest recall with precision >= floor (higher t on a tie)."""
    best = None
    for t in sorted(set(score.tolist())):
        pred = (score >= t).astype(int)
        p, r = precision_score(y, pred, zero_division=0), recall_score(y, pred)
        if p >= floor and (best is None or r >= best[2]):
            best = (t, p, r)
    return best


def test_chart_marks_the_brute_force_threshold_on_both_curves(predictions, tmp_path):
    path, y, score = predictions
    chart = tmp_path / "op.svg"
    result = runner.invoke(app, ["threshold", str(path), "--maximize", "recall", "--require", "precision>=85%",
                                 "--json", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    t, p, r = brute_force_recall_at_precision(y, score, 0.85)
    assert out["threshold"] == t
    svg = chart.read_text()
    assert svg.startswith('<?xml version="1.0"') and "<svg" in svg
    assert 'id="opchart-chosen-pr"' in svg and 'id="opchart-chosen-roc"' in svg
    assert f"<!-- threshold {t:.6g} -->" in svg
    assert 'id="opchart-required-pr-h"' in svg  # precision >= 85%: a horizontal line on the PR panel
    # the marker's data coordinates are the brute-force point's
    point = choose_threshold(path, maximize="recall", require=["precision>=85%"])
    marks = operating_point_marks({**point.to_dict(), **point.notebook_extras()})
    fpr = float(((score >= t) & (y == 0)).sum() / (y == 0).sum())
    assert marks["chosen"]["pr"] == (pytest.approx(r, abs=1e-12), pytest.approx(p, abs=1e-12))
    assert marks["chosen"]["roc"] == (pytest.approx(fpr, abs=1e-12), pytest.approx(r, abs=1e-12))
    assert marks["chosen"]["pr"] in marks["pr"]  # the point lies on the drawn curve
    assert marks["lines"] == [{"panel": "pr", "axis": "h", "value": 0.85, "text": "precision >= 85%"}]
    assert "chart written to" in result.stderr and "chart written to" not in result.stdout


def test_chart_as_png(predictions, tmp_path):
    path, *_ = predictions
    chart = tmp_path / "op.png"
    result = runner.invoke(app, ["threshold", str(path), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_infeasible_requirement_still_draws_the_curves(predictions, tmp_path):
    path, *_ = predictions
    chart = tmp_path / "op.svg"
    result = runner.invoke(app, ["threshold", str(path), "--require", "fpr<0%", "--chart", str(chart)])
    assert result.exit_code == 1
    svg = chart.read_text()
    assert 'id="opchart-required-roc-v"' in svg and 'id="opchart-chosen-pr"' not in svg


@pytest.mark.parametrize("name,message", [
    ("pred.svg", "the output path is the input file; mlstrat never overwrites its input"),
    ("op.pdf", "--chart: {dir}/op.pdf: give a path ending in .svg or .png"),
    ("old.svg", "{dir}/old.svg: already exists; pass --force"),
])
def test_a_bad_chart_path_exits_2_before_the_work(predictions, tmp_path, name, message):
    path, *_ = predictions
    (tmp_path / "old.svg").write_text("kept")
    if name == "pred.svg":  # an input whose name a chart could have
        path = path.rename(tmp_path / name)
    before = path.read_bytes()
    result = runner.invoke(app, ["threshold", str(path), "--chart", str(tmp_path / name)],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert message.format(dir=tmp_path) in " ".join(result.output.split())
    assert "Traceback" not in result.output and "Operating point" not in result.output
    assert path.read_bytes() == before and (tmp_path / "old.svg").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.svg", path.name]  # no temporary file left


def test_force_replaces_an_earlier_chart(predictions, tmp_path):
    path, *_ = predictions
    chart = tmp_path / "op.svg"
    chart.write_text("old")
    result = runner.invoke(app, ["threshold", str(path), "--chart", str(chart), "--force"])
    assert result.exit_code == 0, result.output
    assert 'id="opchart-chosen-pr"' in chart.read_text()


def test_the_notebook_view_shows_the_chart(predictions):
    path, *_ = predictions
    html = choose_threshold(path, maximize="recall", require=["precision>=85%"])._repr_html_()
    assert "<svg" in html and 'id="opchart-chosen-pr"' in html and "Operating point" in html
