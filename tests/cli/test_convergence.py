"""The convergence verdict of a training run, where users read it: `train`'s output, `runs show`,
the report's learning-curves card and the notebook view of the train result."""

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore
from tests.nn.conftest import split_digits

runner = CliRunner()

#: 6 epochs at a small learning rate: the cost still falls fast at the end
IMPROVING = ("[data]\nmanifest = \"split.parquet\"\nfeature_prefix = \"px_\"\n"
             "[model]\nhidden = [32]\n[optim]\nepochs = 6\nbatch_size = 64\nlr = 0.001\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("convergence")
    pq.write_table(split_digits(), root / "split.parquet")
    (root / "digits.toml").write_text(IMPROVING)
    store = root / "runs.db"
    result = runner.invoke(app, ["train", str(root / "digits.toml"), "-o", str(root / "run"), "--store", str(store)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return root, store, result.output


def test_train_prints_the_verdict_with_its_figures(trained):
    root, _, output = trained
    history = json.loads((root / "run" / "history.json").read_text())
    convergence = history["convergence"]
    assert convergence["code"] == "improving"
    assert (f"Convergence: still improving — train longer ({convergence['reason']})"
            in " ".join(output.split()))
    assert convergence["reason"].startswith("over the last 5 epochs the cost changes by -")


def test_the_run_record_keeps_the_verdict_and_runs_show_prints_it(trained):
    root, store, _ = trained
    (run,) = RunStore(store).list()
    history = json.loads((root / "run" / "history.json").read_text())
    assert run.metrics["convergence"] == history["convergence"]
    assert run.metrics["splits"]["dev"]["n"] > 0  # the metrics document is otherwise unchanged
    result = runner.invoke(app, ["runs", "show", run.id, "--store", str(store)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Convergence: still improving — train longer (over the last 5 epochs" in " ".join(result.output.split())


def test_the_report_shows_the_verdict_beside_the_learning_curves(trained):
    root, store, _ = trained
    out = root / "report.html"
    result = runner.invoke(app, ["report", str(root / "run"), "-o", str(out), "--store", str(store)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    card = page[page.index('id="learning-curves"'):]
    card = card[:card.index("</section>")]
    assert '<p class="convergence">convergence: <b>still improving — train longer</b>' in card


def test_runs_show_escapes_a_recorded_verdict(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.record("train", metrics={"convergence": {"code": "plateaued", "verdict": "plateaued",
                                                    "reason": "[bold]not markup[/bold]"}})
    result = runner.invoke(app, ["runs", "show", "latest", "--store", str(store.path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Convergence: plateaued ([bold]not markup[/bold])" in result.output


def test_the_notebook_view_of_a_train_result_shows_the_verdict(trained):
    from mlstrat.nn import TrainResult

    root, _, _ = trained
    history = json.loads((root / "run" / "history.json").read_text())
    result = TrainResult(run_dir=root / "run", metrics={}, history=history)
    assert "convergence: still improving — train longer (over the last 5 epochs" in result._repr_html_()
    assert repr(result).endswith(", convergence=still improving — train longer>")
