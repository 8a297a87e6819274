"""The report's learning-rate range test section: an lr-find run's report and that of a training
run whose learning rate was found show the recorded suggestion, how it was chosen and the curve
as an inline chart; a run trained at a given learning rate has no such section."""

import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.nn._lr_find import LrFindResult, _thinned_steps
from mlstrat.report import render_report
from mlstrat.runs import RunStore
from tests.nn.conftest import split_digits
from tests.report.test_render import external_references

runner = CliRunner()

CONFIG = ('[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\n[model]\nhidden = [32]\n'
          '[optim]\nbatch_size = 64\nepochs = 1\nlr = {lr}\n')
HOW = "the steepest descent of the smoothed loss against log(lr), before its minimum"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lr-find-report")
    pq.write_table(split_digits(), root / "split.parquet")
    (root / "find.toml").write_text(CONFIG.format(lr='"find"'))
    (root / "fixed.toml").write_text(CONFIG.format(lr="0.01"))
    return root


def _invoke(args, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    result = runner.invoke(app, [*args, "--store", str(workdir / "runs.db")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def _recorded(workdir, kind):
    return [r for r in RunStore(workdir / "runs.db").list() if r.kind == kind]


def _section(html):
    start = html.index('<section class="card" id="lr-find">')
    return html[start:html.index("</section>", start)]


def _report(target, workdir, monkeypatch, name):
    _invoke(["report", str(target), "-o", name, "--force"], workdir, monkeypatch)
    return (workdir / name).read_text(encoding="utf-8")


def _suggestion_shown(section):
    return re.search(r'suggested lr <b class="lr-suggestion">([^<]+)</b>', section).group(1)


def test_an_lr_find_runs_report_shows_the_recorded_suggestion_and_curve(workdir, monkeypatch):
    _invoke(["lr-find", "find.toml", "--steps", "80"], workdir, monkeypatch)
    (run,) = _recorded(workdir, "lr-find")
    found = run.metrics["lr_find"]
    html = _report(run.id, workdir, monkeypatch, "lr-find.html")
    section = _section(html)
    assert _suggestion_shown(section) == f"{found['suggestion']:.3g}"
    assert HOW in section
    assert f"the minimum's lr / 10: <b>{found['min_lr']:.3g}</b>" in section
    assert f"<b>{found['steps']}</b> steps from lr 1e-07 to {found['lrs'][-1]:.3g}" in section
    assert f"<code>[optim] lr = {found['suggestion']:.3g}</code>" in section  # the next step, for a test alone
    assert section.count("<svg") == 1 and 'aria-label="Training loss against learning rate' in section
    assert external_references(html) == []


def test_a_training_run_with_lr_find_shows_the_test_it_trained_after(workdir, monkeypatch):
    _invoke(["train", "find.toml", "--output", "found"], workdir, monkeypatch)
    (run,) = [r for r in _recorded(workdir, "train") if r.config["optim"]["lr"] != 0.01]
    history = json.loads((workdir / "found" / "history.json").read_text())["lr_find"]
    assert run.metrics["lr_find"] == history and len(history["lrs"]) == history["steps"]
    for target, name in [(run.id, "by-id.html"), (workdir / "found", "by-dir.html")]:
        html = _report(target, workdir, monkeypatch, name)
        section = _section(html)
        assert _suggestion_shown(section) == f"{history['suggestion']:.3g}" == f"{run.config['optim']['lr']:.3g}"
        assert 'chosen by the range test (<code>lr = "find"</code>) before training' in section
        assert HOW in section and section.count("<svg") == 1
        assert "[optim] lr =" not in section
        assert external_references(html) == []


def test_a_run_trained_at_a_given_learning_rate_has_no_range_test_section(workdir, monkeypatch):
    _invoke(["train", "fixed.toml", "--output", "fixed"], workdir, monkeypatch)
    (run,) = [r for r in _recorded(workdir, "train") if r.config["optim"]["lr"] == 0.01]
    result = _invoke(["report", run.id, "-o", "fixed.html", "--force", "--json"], workdir, monkeypatch)
    assert "learning-rate range test" not in json.loads(result.output)["sections"]
    html = (workdir / "fixed.html").read_text(encoding="utf-8")
    assert 'id="lr-find"' not in html and "Learning-rate range test" not in html


def test_the_recorded_curve_is_thinned_to_three_hundred_steps_with_both_ends():
    n = 1000
    lrs = list(np.logspace(-7, 1, n))
    result = LrFindResult(lrs=lrs, losses=[float(i) for i in range(n)], smoothed=[2.0 * i for i in range(n)],
                          suggestion=0.01, method="steepest", steepest=0.01, min_lr=0.1, stopped="end_lr")
    summary = result.summary()
    expected = np.unique(np.round(np.linspace(0, n - 1, 300))).astype(int)
    assert summary["losses"] == [float(i) for i in expected] and len(expected) == 300
    assert summary["smoothed"] == [2.0 * i for i in expected]
    assert summary["lrs"][0] == lrs[0] and summary["lrs"][-1] == lrs[-1]
    assert summary["steps"] == n and summary["suggestion"] == 0.01
    assert _thinned_steps(5, 300) == [0, 1, 2, 3, 4]


def _lr_find_run(tmp_path, doc):
    store = RunStore(tmp_path / "runs.db")
    store.record("lr-find", config={"optim": {"lr": 0.001}}, metrics={"lr_find": doc})
    return store.list()


def test_recorded_text_is_escaped_and_a_summary_without_its_curve_shows_the_suggestion(tmp_path):
    runs = _lr_find_run(tmp_path, {"suggestion": 0.00312, "method": "<script>alert(1)</script>",
                                   "stopped": "<b>x</b>", "steps": 50, "min_lr": 0.01})
    section = _section(render_report(runs=runs))
    assert _suggestion_shown(section) == "0.00312"
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "stopped: &lt;b&gt;x&lt;/b&gt;" in section
    assert "<svg" not in section and "The curve was not recorded with this run" in section


def test_a_recorded_suggestion_that_is_not_a_number_shows_no_section(tmp_path):
    runs = _lr_find_run(tmp_path, {"suggestion": "soon", "method": "steepest"})
    html = render_report(runs=runs)
    assert html.startswith("<!DOCTYPE html>") and 'id="lr-find"' not in html
