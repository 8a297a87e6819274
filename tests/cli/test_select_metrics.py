"""`select --runs` and `runs compare` with metrics in a unit: RMSE/MAE, ratio:NUM/DEN, mean:COL.

Each model's predictions are built so that the metrics rank the models differently; the
expected figures are computed by hand in the comments and the winner is the hand-computed best.
"""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


def _invoke(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _write(path, split: list[str], **columns) -> str:
    pq.write_table(pa.table({"id": list(range(len(split))), "split": split, **columns}), path)
    return str(path)


def _diagnose(store, note: str, predictions: str, *options: str) -> None:
    _invoke("diagnose", predictions, *options, "--store", str(store), "--note", note)


def _selection(store, *options: str) -> dict:
    return _invoke("select", "--runs", "--store", str(store), *options)


def _by_note(selection: dict) -> dict:
    return {c["name"].split(" ", 1)[1]: c for c in selection["candidates"]}


# dev residuals of three regression models, train predicted perfectly:
#   wide:  0, 0, 0, 4          MAE 1.0   RMSE sqrt(16/4) = 2.0
#   even:  1.5 x 4             MAE 1.5   RMSE 1.5
#   mixed: 1, 1, 1, 3          MAE 1.5   RMSE sqrt(12/4) = 1.732
RESIDUALS = {"wide": [0.0, 0.0, 0.0, 4.0], "even": [1.5] * 4, "mixed": [1.0, 1.0, 1.0, 3.0]}


@pytest.fixture(scope="module")
def regression_store(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("regression")
    store = tmp_path / "runs.db"
    y = [10.0, 12.0, 14.0, 16.0]
    for note, residuals in RESIDUALS.items():
        path = _write(tmp_path / f"{note}.parquet", ["train"] * 4 + ["dev"] * 4, y_true=y + y,
                      y_pred=y + [a + r for a, r in zip(y, residuals)])
        for metric in ("rmse", "mae"):
            _diagnose(store, f"{note}-{metric}", path, "--metric", metric, "--human", "expert=0")
    return store


def test_select_crowns_the_lowest_rmse_and_the_lowest_mae(regression_store):
    rmse = _selection(regression_store, "--kind", "diagnose", "--minimize", "dev_rmse")
    assert rmse["winner"].endswith("even-rmse")
    scores = {k: c["score"] for k, c in _by_note(rmse).items()}
    assert scores["wide-rmse"] == pytest.approx(2.0)
    assert scores["even-rmse"] == pytest.approx(1.5)
    assert scores["mixed-rmse"] == pytest.approx(math.sqrt(3.0))
    # runs diagnosed on MAE have no dev_rmse: missing, never a winner
    assert all("dev_rmse is missing" in c["excluded_by"] for k, c in _by_note(rmse).items() if k.endswith("mae"))

    mae = _selection(regression_store, "--minimize", "dev_mae")
    assert mae["winner"].endswith("wide-mae")
    assert {k: c["score"] for k, c in _by_note(mae).items() if k.endswith("mae")} == pytest.approx(
        {"wide-mae": 1.0, "even-mae": 1.5, "mixed-mae": 1.5})
    # dev_error is the diagnosed figure where lower is better: the same choice as dev_rmse
    assert _selection(regression_store, "--minimize", "dev_error", "--require", "dev_rmse<10")["winner"] \
        .endswith("even-rmse")


def test_a_constraint_on_the_other_metric_changes_the_winner(regression_store):
    # lowest RMSE among runs whose dev RMSE is at least 1.6: mixed (1.732) beats wide (2.0)
    sel = _selection(regression_store, "--minimize", "dev_rmse", "--require", "dev_rmse>=1.6")
    assert sel["winner"].endswith("mixed-rmse")


def test_select_from_a_regression_report_recorded_with_the_run(tmp_path):
    """Runs that carry `metrics --regression` figures (nested estimates) expose dev_rmse and dev_r2."""
    from mlstrat.metrics import compute_regression_metrics
    from mlstrat.runs import RunStore, record_predictions_run

    store = RunStore(tmp_path / "runs.db")
    y = [10.0, 12.0, 14.0, 16.0]
    for note, residuals in RESIDUALS.items():
        path = _write(tmp_path / f"{note}.parquet", ["train"] * 4 + ["dev"] * 4, y_true=y + y,
                      y_pred=y + [a + r for a, r in zip(y, residuals)])
        metrics = compute_regression_metrics(path).to_dict()
        record_predictions_run("fit", path, store=store, metrics=metrics, note=note)
    sel = _selection(store.path, "--maximize", "dev_r2")
    # R^2 = 1 - SSE / SST with SST = 9 + 1 + 1 + 9 = 20: wide 1 - 16/20, even 1 - 9/20, mixed 1 - 12/20
    assert sel["winner"].endswith("even")
    assert {k: c["score"] for k, c in _by_note(sel).items()} == pytest.approx(
        {"wide": 0.2, "even": 0.55, "mixed": 0.4})


def test_select_crowns_the_lowest_corpus_word_error_rate(tmp_path):
    # two dev utterances of 2 and 100 words:
    #   short-ok: word errors 1, 10 -> corpus WER 11/102 = 0.108 (mean of per-utterance rates 0.30)
    #   long-ok:  word errors 0, 20 -> corpus WER 20/102 = 0.196 (mean of per-utterance rates 0.10)
    # WER is a ratio of sums: short-ok wins, although the mean of the rates would pick long-ok
    store = tmp_path / "runs.db"
    for note, errors in {"short-ok": [1, 10], "long-ok": [0, 20]}.items():
        path = _write(tmp_path / f"{note}.parquet", ["train", "train", "dev", "dev"],
                      word_errors=[0, 1] + errors, words=[5, 50, 2, 100])
        _diagnose(store, note, path, "--metric", "ratio:word_errors/words", "--human", "expert=0")
    sel = _selection(store, "--minimize", "dev_ratio_word_errors_words")
    assert sel["winner"].endswith("short-ok")
    assert {k: c["score"] for k, c in _by_note(sel).items()} == pytest.approx(
        {"short-ok": 11 / 102, "long-ok": 20 / 102})
    assert _selection(store, "--minimize", "dev_error")["winner"].endswith("short-ok")
    # a satisficing constraint on the same metric's train figure (1/55 for both): both qualify
    assert _selection(store, "--minimize", "dev_error", "--require", "train_error<0.02")["winner"] \
        .endswith("short-ok")


def test_select_maximizes_a_higher_is_better_mean_and_never_calls_it_an_error(tmp_path):
    # dev IoU: sharp 0.9, 0.5 (mean 0.70); blunt 0.6, 0.7 (mean 0.65)
    store = tmp_path / "runs.db"
    for note, iou in {"sharp": [0.9, 0.5], "blunt": [0.6, 0.7]}.items():
        path = _write(tmp_path / f"{note}.parquet", ["train", "train", "dev", "dev"], iou=[0.95, 0.9] + iou)
        _diagnose(store, note, path, "--metric", "mean:iou", "--higher-is-better", "--human", "expert=1")
    sel = _selection(store, "--maximize", "dev_mean_iou")
    assert sel["winner"].endswith("sharp")
    assert {k: c["score"] for k, c in _by_note(sel).items()} == pytest.approx({"sharp": 0.7, "blunt": 0.65})
    # no dev_error column: minimizing it would have crowned the worst IoU
    result = runner.invoke(app, ["select", "--runs", "--store", str(store), "--minimize", "dev_error"])
    assert result.exit_code == 2
    assert "unknown metric 'dev_error'" in result.output


def test_runs_compare_shows_figures_in_the_metrics_unit(regression_store):
    from mlstrat.runs import RunStore

    runs = {r.note: r for r in RunStore(regression_store).list()}
    ids = [runs["wide-rmse"].id, runs["even-rmse"].id, runs["even-mae"].id]
    out = _invoke("runs", "compare", *ids[:2], "--store", str(regression_store))
    assert out["errors"]["dev"] == pytest.approx([2.0, 1.5])
    # an RMSE beside a MAE is not a comparison: refused, naming the runs
    mixed = runner.invoke(app, ["runs", "compare", *ids, "--store", str(regression_store)], env={"COLUMNS": "300"})
    assert mixed.exit_code == 2
    assert f"runs {ids[1][:8]} (rmse) and {ids[2][:8]} (mae) measure different metrics" in mixed.output
    text = runner.invoke(app, ["runs", "compare", ids[0], ids[1], "--store", str(regression_store)]).output
    assert "2 -> 1.5" in " ".join(text.split()) and "%" not in text.replace("95% interval", "")
    # four dev rows, residuals 0, 0, 0, 4 against 1.5 each: paired on the same rows, and noise
    assert "dev RMSE 2 -> 1.5: tied within noise (-0.5, 95% interval" in " ".join(text.split())
