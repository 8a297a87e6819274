"""Runs keep their per-row dev results; comparisons pair them on the same rows."""

from __future__ import annotations

import json
from html import escape as html_escape

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat import ConfigError
from mlstrat.metrics import compute_metrics
from mlstrat.runs import RunStore, record_predictions_run


def _predictions(path, *, wrong: set[int], n_dev: int = 120, first_id: int = 0, labels=("cat", "dog")):
    """Train rows all right; dev rows ``first_id..`` wrong exactly at the positions in ``wrong``."""
    ids = list(range(first_id, first_id + n_dev))
    truth = [labels[i % 2] for i in range(n_dev)]
    pred = [labels[(i + 1) % 2] if i in wrong else labels[i % 2] for i in range(n_dev)]
    frame = pd.DataFrame({
        "id": [f"t{i}" for i in range(40)] + [f"r{i}" for i in ids],
        "split": ["train"] * 40 + ["dev"] * n_dev,
        "y_true": [labels[i % 2] for i in range(40)] + truth,
        "y_pred": [labels[i % 2] for i in range(40)] + pred,
    })
    frame.to_parquet(path)
    return path


def _record(store, path, note):
    return record_predictions_run("diagnose", path, store=store, metrics=compute_metrics(str(path)), note=note)


@pytest.fixture()
def store(tmp_path):
    return RunStore(tmp_path / ".mlstrat" / "runs.db")


def test_a_run_keeps_its_dev_rows_and_fingerprint(tmp_path, store):
    run = _record(store, _predictions(tmp_path / "a.parquet", wrong={0, 5, 7}), "a")
    path = tmp_path / ".mlstrat" / "runs" / run.id / "dev_rows.parquet"
    assert path.is_file()
    rows = store.dev_rows(run.id)
    assert rows.kind == "rate" and rows.metric == "error" and rows.labels == ("cat", "dog")
    assert rows.ids.tolist()[:3] == ["r0", "r1", "r2"] and len(rows.ids) == 120
    assert np.flatnonzero(rows.values).tolist() == [0, 5, 7]
    assert rows.fingerprint.startswith("dev-120-")
    # the fingerprint is the ids with their labels, not the predictions
    other = _record(store, _predictions(tmp_path / "b.parquet", wrong={1}), "b")
    assert store.dev_rows(other.id).fingerprint == rows.fingerprint


def test_compare_pairs_runs_on_the_same_rows(tmp_path, store):
    from statsmodels.stats.contingency_tables import mcnemar

    from mlstrat.metrics._paired import paired_rate_interval

    before = set(range(0, 30))  # 30 mistakes
    after = set(range(0, 18)) | {100, 101}  # fixes 12 of them, breaks 2
    a = _record(store, _predictions(tmp_path / "a.parquet", wrong=before), "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong=after), "b")
    (step,) = store.compare([a.id, b.id]).steps
    dev = step.dev
    assert dev.paired and step.dev_pairing == "paired"
    assert (dev.before, dev.after) == (pytest.approx(30 / 120), pytest.approx(20 / 120))
    assert dev.discordant == (2, 12)
    assert dev.p_value == pytest.approx(mcnemar(np.array([[18, 12], [2, 88]]), exact=True).pvalue)
    # B - A is the mirror of Newcombe's interval of p_a - p_b on the table (both, A only, B only, neither)
    _, low, high = paired_rate_interval(18, 12, 2, 88)
    assert (dev.ci_low, dev.ci_high) == (pytest.approx(-high), pytest.approx(-low))
    assert dev.verdict == "better"
    assert step.dev_line == (f"dev error 25.0% -> 16.7%: better (-8.3 pts, 95% interval [{100 * -high:+.1f}, "
                             f"{100 * -low:+.1f}] pts; paired, McNemar p = {dev.p_value:.2g})")


def test_runs_on_different_dev_rows_are_compared_unpaired_and_say_so(tmp_path, store):
    a = _record(store, _predictions(tmp_path / "a.parquet", wrong=set(range(30))), "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong=set(range(20)), first_id=500), "b")
    cmp = store.compare([a.id, b.id])
    (step,) = cmp.steps
    assert not step.dev.paired and step.dev_pairing == "different dev rows"
    assert "compared unpaired: different dev rows" in step.dev_line
    (warning,) = [w for w in cmp.warnings if w["code"] == "unpaired"]
    assert warning["message"].startswith(f"{a.short_id} -> {b.short_id} compared unpaired: different dev rows")
    # the independent interval: MOVER on the two Wilson intervals (Newcombe's unpaired method 10)
    from mlstrat.metrics._intervals import mover_difference, wilson_interval

    low, high = mover_difference(20 / 120, *wilson_interval(20, 120), 30 / 120, *wilson_interval(30, 120))
    assert (step.dev.ci_low, step.dev.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert step.dev.verdict == "tied within noise"


def test_runs_of_different_label_sets_are_refused_naming_them(tmp_path, store):
    a = _record(store, _predictions(tmp_path / "a.parquet", wrong={1}), "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong={1}, labels=("0", "1")), "b")
    with pytest.raises(ConfigError, match=rf"^runs {a.short_id} and {b.short_id} have different label sets "
                       r"\(cat, dog vs 0, 1\): different tasks are not compared or ranked together$"):
        store.compare([a.id, b.id])


def test_cli_runs_compare_prints_the_verdict_and_refuses_mixed_tasks(tmp_path, store):
    from mlstrat.cli import app

    a = _record(store, _predictions(tmp_path / "a.parquet", wrong=set(range(30))), "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong=set(range(18))), "b")
    runner = CliRunner()
    result = runner.invoke(app, ["runs", "compare", a.id, b.id, "--store", str(store.path)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "dev error 25.0% -> 15.0%: better (-10.0 pts, 95% interval" in result.output
    data = json.loads(runner.invoke(app, ["runs", "compare", a.id, b.id, "--store", str(store.path),
                                          "--json"]).output)
    assert data["steps"][0]["dev"]["verdict"] == "better" and data["steps"][0]["dev"]["paired"] is True
    c = _record(store, _predictions(tmp_path / "c.parquet", wrong={1}, labels=("0", "1")), "c")
    refused = runner.invoke(app, ["runs", "compare", b.id, c.id, "--store", str(store.path)],
                            env={"COLUMNS": "300"})
    assert refused.exit_code == 2
    assert f"runs {b.short_id} and {c.short_id} have different label sets" in refused.output
    assert "Traceback" not in refused.output


def test_regression_runs_pair_their_squared_errors(tmp_path, store):
    from mlstrat.metrics._paired import paired_difference

    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    paths = []
    for name, noise in (("a", 1.0), ("b", 0.7)):
        pred = y + rng.normal(scale=noise, size=200)
        path = tmp_path / f"{name}.parquet"
        pd.DataFrame({"id": range(200), "split": "dev", "y_true": y, "y_pred": pred}).to_parquet(path)
        paths.append((path, pred))
    runs = [record_predictions_run("diagnose", p, store=store, diagnosis={"metric": {
        "name": "rmse", "kind": "rmse", "direction": "lower_is_better", "unit": "value"}}) for p, _ in paths]
    (step,) = store.compare([r.id for r in runs]).steps
    expected = paired_difference("rmse", (paths[0][1] - y) ** 2, (paths[1][1] - y) ** 2)
    assert step.dev.paired and step.dev.value == pytest.approx(expected.value)
    assert (step.dev.ci_low, step.dev.ci_high) == (pytest.approx(expected.ci_low), pytest.approx(expected.ci_high))
    assert step.dev_line.startswith("dev RMSE ")


def test_select_runs_names_the_runs_tied_with_the_winner(tmp_path, store):
    from mlstrat.cli import app

    winner = _record(store, _predictions(tmp_path / "w.parquet", wrong=set(range(18))), "winner")
    close = _record(store, _predictions(tmp_path / "t.parquet", wrong=set(range(17)) | {60, 61}), "close")
    behind = _record(store, _predictions(tmp_path / "l.parquet", wrong=set(range(40))), "behind")
    runner = CliRunner()
    args = ["select", "--runs", "--store", str(store.path), "--minimize", "dev_error"]
    data = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert data["winner"] == f"{winner.short_id} winner"
    assert data["tied"] == [f"{close.short_id} close"]
    versus = data["versus_winner"]
    assert versus[f"{behind.short_id} behind"]["verdict"] == "worse"
    assert versus[f"{behind.short_id} behind"]["paired"] is True
    assert versus[f"{close.short_id} close"]["change"] == pytest.approx(1 / 120)
    text = runner.invoke(app, args, env={"COLUMNS": "250"}).output
    assert f"Tied with the winner within noise: {close.short_id} close" in text


def test_select_runs_refuses_runs_of_different_label_sets(tmp_path, store):
    from mlstrat.cli import app

    a = _record(store, _predictions(tmp_path / "a.parquet", wrong={1}), "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong={1, 2}, labels=("0", "1")), "b")
    result = CliRunner().invoke(app, ["select", "--runs", "--store", str(store.path), "--minimize", "dev_error"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert f"runs {a.short_id} and {b.short_id} have different label sets (cat, dog vs 0, 1)" in result.output


def test_report_history_and_notebook_show_the_paired_dev_change(tmp_path, store):
    from mlstrat.report import render_report

    a = _record(store, _predictions(tmp_path / "a.parquet", wrong=set(range(30))), "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong=set(range(18))), "b")
    line = store.compare([a.id, b.id]).steps[0].dev_line
    assert line.startswith("dev error 25.0% -> 15.0%: better (-10.0 pts, 95% interval")
    html = render_report(runs=store.list(), dev_rows=store.dev_rows)
    assert 'class="changes verdict-better"' in html
    assert line.replace(" -> ", " → ") in html
    # without the kept rows the history compares the two intervals as independent samples
    assert "compared unpaired: per-row results not recorded" in render_report(runs=store.list())
    comparison = store.compare([a.id, b.id])
    assert line in repr(comparison) and html_escape(line) in comparison._repr_html_()


def test_repeated_dev_ids_keep_no_rows_and_compare_unpaired(tmp_path, store):
    path = _predictions(tmp_path / "a.parquet", wrong={1})
    frame = pd.read_parquet(path)
    frame.loc[frame["id"] == "r1", "id"] = "r0"  # two dev rows share an id: rows cannot be matched
    frame.to_parquet(path)
    a = _record(store, path, "a")
    b = _record(store, _predictions(tmp_path / "b.parquet", wrong={2}), "b")
    assert store.dev_rows(a.id) is None
    (step,) = store.compare([a.id, b.id]).steps
    assert not step.dev.paired and step.dev_pairing == "per-row results not recorded"


@pytest.mark.parametrize("metric, kind", [("ratio:word_errors/words", "ratio"), ("mean:word_errors", "mean"),
                                          ("weighted_error", "ratio")])
def test_per_example_and_ratio_metrics_keep_what_their_pairing_needs(tmp_path, store, metric, kind):
    from mlstrat.metrics._paired import paired_difference

    rng = np.random.default_rng(7)
    words = rng.integers(1, 20, 150)
    weight = rng.uniform(0.5, 2.0, 150)
    truth = rng.integers(0, 2, 150)
    runs, per_row = [], []
    for name, rate in (("a", 0.3), ("b", 0.2)):
        errors = rng.binomial(words, rate)
        pred = np.where(rng.random(150) < rate, 1 - truth, truth)
        path = tmp_path / f"{name}.parquet"
        pd.DataFrame({"id": range(150), "split": "dev", "y_true": truth, "y_pred": pred, "weight": weight,
                      "word_errors": errors, "words": words}).to_parquet(path)
        runs.append(record_predictions_run("diagnose", path, store=store, diagnosis={"metric": {
            "name": metric, "direction": "lower_is_better", "unit": "value"}}))
        wrong = (pred != truth).astype(float)
        per_row.append({"ratio:word_errors/words": (errors, words), "mean:word_errors": errors,
                        "weighted_error": (wrong * weight, weight)}[metric])
    kept = store.dev_rows(runs[0].id)
    assert kept.kind == kind and kept.metric == metric
    (step,) = store.compare([r.id for r in runs]).steps
    expected = paired_difference(kind, *per_row)
    assert step.dev.paired
    assert (step.dev.value, step.dev.ci_low, step.dev.ci_high) == (
        pytest.approx(expected.value), pytest.approx(expected.ci_low), pytest.approx(expected.ci_high))


def test_a_long_label_set_is_shortened_in_the_refusal():
    from mlstrat.runs._compare import _labels_text

    assert _labels_text(("a", "b")) == "a, b"
    assert _labels_text(tuple(str(i) for i in range(12))) == "0, 1, 2, 3, 4, ... (12 labels)"


def test_labels_read_as_floats_match_integer_predictions(tmp_path):
    from mlstrat.metrics._spec import parse_metric
    from mlstrat.runs._rows import dev_rows_from_predictions

    path = tmp_path / "p.parquet"
    pd.DataFrame({"id": [10, 11, 12, 13], "split": "dev", "y_true": [0.0, 1.0, 2.0, 1.0],
                  "y_pred": [0, 1, 1, 1]}).to_parquet(path)
    rows = dev_rows_from_predictions(path, parse_metric("error"))
    assert rows.values.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert rows.labels == ("0", "1", "2") and rows.ids.tolist() == ["10", "11", "12", "13"]


def _dev_frame(ids, truth, pred, **extra):
    n = len(ids)
    return pd.DataFrame({"id": ["t0", *ids] if isinstance(ids[0], str) else [-1, *ids],
                         "split": ["train", *["dev"] * n], "y_true": [truth[0], *truth],
                         "y_pred": [pred[0], *pred], **{k: [1.0, *v] for k, v in extra.items()}})


@pytest.mark.parametrize(("frame", "metric"), [
    (_dev_frame(["b", "a", "é", "a1"], ["x", "y", "x", "z"], ["x", "x", "z", "z"]), "error"),
    (_dev_frame([30, 4, 100, 7], [1, 2, 1, 2], [1, 1, 2, 2], weight=[1.0, 2.0, 0.5, 3.0]),
     "weighted_error"),
    (_dev_frame([30, 4, 100, 7], [1, 2, 1, 2], [1.5, 1.0, 2.0, 4.0]), "rmse"),
    (_dev_frame([30, 4, 100, 7], [1, 2, 1, 2], [1, 1, 2, 2], loss=[0.1, 0.2, 0.3, 0.4]),
     "mean:loss"),
    (_dev_frame(["d", "c", "b", "a"], [1, 2, 1, 2], [1, 1, 2, 2], n=[1.0, 2.0, 3.0, 4.0],
                k=[2.0, 2.0, 4.0, 4.0]), "ratio:n/k"),
    # integer truth against text predictions: compared as text
    (_dev_frame([30, 4, 100, 7], [1, 2, 1, 2], ["1", "1", "2", "x"]), "error"),
    # floats: labels the Python route spells ("2.0" -> "2", "2.5" stays)
    (_dev_frame([30, 4, 100, 7], [1.0, 2.5, 1.0, 2.0], [1, 1, 2, 2]), "error"),
])
def test_the_engine_keeps_the_rows_the_python_route_keeps(tmp_path, frame, metric):
    """The rows DuckDB writes read back as the ones built in Python: same fingerprint (sha256 of
    the sorted ``id<US>label`` lines, recomputed here by hand), labels and per-row values."""
    import hashlib

    from mlstrat.metrics._spec import parse_metric
    from mlstrat.runs._rows import (dev_rows_from_predictions, read_dev_rows, save_dev_rows,
                                    write_dev_rows)

    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    spec = parse_metric(metric)
    python = dev_rows_from_predictions(path, spec)
    write_dev_rows(tmp_path / "python" / "dev_rows.parquet", python)
    assert save_dev_rows(tmp_path / "engine" / "dev_rows.parquet", path, spec)
    a, b = (read_dev_rows(tmp_path / side / "dev_rows.parquet") for side in ("python", "engine"))
    dev = frame[frame.split == "dev"]
    texts = [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in dev.y_true]
    lines = sorted(f"{i}\x1f{t}" for i, t in zip(dev.id.astype(str), texts))
    by_hand = f"dev-{len(dev)}-{hashlib.sha256(chr(10).join(lines).encode()).hexdigest()[:12]}"
    assert a.fingerprint == b.fingerprint == by_hand
    assert (a.kind, a.metric, a.labels) == (b.kind, b.metric, b.labels)
    order = sorted(a.ids.tolist())
    assert sorted(b.ids.tolist()) == order
    assert np.array_equal(np.asarray(a.aligned(order)), np.asarray(b.aligned(order)))


def test_the_engine_keeps_no_pairable_rows_when_dev_ids_repeat(tmp_path):
    from mlstrat.metrics._spec import parse_metric
    from mlstrat.runs._rows import dev_rows_from_predictions, read_dev_rows, save_dev_rows

    path = tmp_path / "p.parquet"
    _dev_frame([1, 2, 2], [0, 1, 1], [0, 1, 0]).to_parquet(path)
    assert dev_rows_from_predictions(path, parse_metric("error")) is None
    save_dev_rows(tmp_path / "r" / "dev_rows.parquet", path, parse_metric("error"))
    assert read_dev_rows(tmp_path / "r" / "dev_rows.parquet") is None


def test_rows_written_by_python_over_engine_rows_read_as_python_wrote_them(tmp_path):
    """An mlstrat that writes the metadata into the Parquet file (any version) may update a run
    whose rows the engine wrote: the file's own metadata wins over the JSON left beside it."""
    from mlstrat.metrics._spec import parse_metric
    from mlstrat.runs._rows import (dev_rows_from_predictions, read_dev_rows, save_dev_rows,
                                    write_dev_rows)

    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    _dev_frame([1, 2, 3], [0, 1, 1], [0, 1, 0]).to_parquet(first)
    _dev_frame([1, 2, 4], [0, 1, 1], [0, 0, 0]).to_parquet(second)
    kept = tmp_path / "run" / "dev_rows.parquet"
    assert save_dev_rows(kept, first, parse_metric("error"))
    newer = dev_rows_from_predictions(second, parse_metric("error"))
    write_dev_rows(kept, newer)
    read = read_dev_rows(kept)
    assert read.fingerprint == newer.fingerprint
    assert read.ids.tolist() == ["1", "2", "4"] and read.values.tolist() == [0.0, 1.0, 1.0]
