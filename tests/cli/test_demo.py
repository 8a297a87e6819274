import pyarrow.parquet as pq
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.runs import RunStore

runner = CliRunner()


def test_demo_prints_the_loop_and_writes_its_files(tmp_path):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "-o", str(out), "--quick"])
    assert res.exit_code == 0, res.output
    for line in ("1. Split", "2. baseline", "Verdict: Data mismatch is the principal problem",
                 "Mismatch: a classifier tells app from web", "Synthesis:", "3. synthesized app-like",
                 "What changed, first → last iteration", "planted: data_mismatch · diagnosed: data_mismatch"):
        assert line in res.output, line
    table = pq.read_table(out / "split.parquet")
    assert table.num_rows == 1797
    rows = table.select(["domain", "split"]).to_pylist()
    assert all(r["domain"] == "app" for r in rows if r["split"] in ("dev", "test"))
    assert {r["split"] for r in rows} == {"train", "train_dev", "dev", "test"}
    for name in ("manifest.parquet", "train_synth.parquet", "dev_errors.csv", "report.html"):
        assert (out / name).exists(), name
    assert len(RunStore(out / ".mlstrat" / "runs.db").list()) == 2


def test_demo_is_rerunnable_into_its_folder(tmp_path):
    for _ in range(2):
        res = runner.invoke(app, ["demo", "-o", str(tmp_path), "--scenario", "clean"])
        assert res.exit_code == 0, res.output
    assert "planted: no significant problem · diagnosed: no significant problem" in res.output
    assert len(RunStore(tmp_path / ".mlstrat" / "runs.db").list()) == 1  # history starts afresh


def test_demo_refuses_a_file_as_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    res = runner.invoke(app, ["demo", "-o", str(f)])
    assert res.exit_code == 2 and "is not a folder" in res.output


def test_what_changed_keeps_each_figure_on_one_line_at_80_columns():
    from rich.console import Console

    from mlstrat.cli.demo import _changes_table

    first = {"metric": "error"}
    changes = [{"component": "avoidable_bias", "before": -0.005, "after": 0.0036, "change": 0.0086},
               {"component": "train_dev_error", "before": 0.0336, "after": 0.0588, "change": 0.0252,
                "ci_low": -0.0331, "ci_high": 0.0862, "verdict": "tied within noise", "paired": False},
               {"component": "dev_error", "before": 0.1826, "after": 0.1217, "change": -0.0609,
                "ci_low": -0.1284, "ci_high": 0.0030, "verdict": "tied within noise", "paired": True}]
    console = Console(width=80, record=True)
    console.print(_changes_table(changes, first))
    text = console.export_text()
    assert "-3.3 to +8.6 pts" in text and "-12.8 to +0.3 pts" in text
    assert "+2.5 pts" in text and "-6.1 pts" in text
