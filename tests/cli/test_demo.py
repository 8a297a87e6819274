import html
import re

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
    runs = RunStore(out / ".mlstrat" / "runs.db").list()
    assert [r.kind for r in runs] == ["train", "train", "curve"]
    _assert_report_tells_the_story(out / "report.html", runs[:2])
    _assert_report_shows_the_size_curve(out, runs[0], runs[2])


def _assert_report_tells_the_story(path, runs):
    """Both verdicts in order around the action, the mismatch analysis, the curves, the examples."""
    page = path.read_text(encoding="utf-8")
    start = page.index('id="story"')
    story = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page[start:page.index("</section>", start)]).split()))
    first, last = (r.diagnosis["verdict"] for r in runs)  # oldest first
    assert story.index(first) < story.index("Action taken") < story.index(last)
    assert re.search(r"dev error [\d.]+% [\d.]+% [-+][\d.]+ pts \[[-+][\d.]+, [-+][\d.]+\] pts", story)
    assert re.search(r"A domain classifier tells app from web images with AUC [\d.]+ \[[\d.]+, [\d.]+\]", story)
    for section in ('id="mismatch"', 'id="probability-curves"', 'id="top-losses"', 'id="learning-curves"'):
        assert section in page, section
    assert page.count('<img src="data:image/png;base64,') == 12


def _assert_report_shows_the_size_curve(out, baseline, curve_run):
    """The final configuration's learning curve on nested 25/50/100% subsets of its train
    split, recorded as `mlstrat curve` records it, shown with its reading in the report."""
    from mlstrat.curves import resolve_sizes

    final = pq.read_table(out / "train_synth.parquet", columns=["split"]).column("split").to_pylist()
    counts = resolve_sizes([0.25, 0.5, 1.0], final.count("train"))
    curve = curve_run.metrics["curve"]
    assert [p["size"] for p in curve["points"]] == counts
    assert curve_run.config["data"]["manifest"] == str(out / "train_synth.parquet")
    assert {k: v for k, v in curve_run.config.items() if k != "data"} == \
        {k: v for k, v in baseline.config.items() if k != "data"}  # the same network, epochs included
    assert curve["human_level"] == 0.005
    assert curve["end_to_end"].startswith(("The dev curve", "Enough data for an end-to-end model?"))
    for k in counts:  # one full training run per size, as `mlstrat curve` writes them
        assert (out / "curve" / f"size-{k}" / "predictions.parquet").is_file(), k
    assert (out / "curve" / "curve.json").is_file() and (out / "curve" / "curve.svg").is_file()

    page = (out / "report.html").read_text(encoding="utf-8")
    start = page.index('id="size-curve"')
    section = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page[start:page.index("</section>", start)]).split()))
    assert "Learning curve against training-set size" in section
    assert f"(3 sizes: {'; '.join(f'{k:,}' for k in counts)} training examples)" in section
    assert " ".join(curve["reading"].split()) in section
    assert " ".join(curve["end_to_end"].split()) in section


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


def test_what_changed_speaks_the_one_vocabulary():
    """Components in pts, errors in %, one precision per table, each change the difference of
    the values shown, intervals as [low, high] (no "+1.7 pts" between 3.4% and 5.0%)."""
    from mlstrat.cli.demo import _change_cells
    from mlstrat.display._numbers import column_digits

    rows = [{"component": "avoidable_bias", "before": -0.005, "after": 0.0036},
            {"component": "train_dev_error", "before": 0.0336, "after": 0.0588},
            {"component": "variance", "before": 0.0344, "after": 0.0496},
            {"component": "dev_error", "before": 0.1826, "after": 0.1217, "ci_low": -0.128,
             "ci_high": 0.003, "verdict": "tied within noise", "paired": True}]
    digits = column_digits([v for r in rows for v in (r["before"], r["after"])])
    cells = [_change_cells(r, True, digits) for r in rows]
    assert digits == 2
    assert cells[0][:3] == ("-0.50 pts", "+0.36 pts", "+0.86 pts")
    assert cells[1][:3] == ("3.36%", "5.88%", "+2.52 pts")
    assert cells[2][:3] == ("+3.44 pts", "+4.96 pts", "+1.52 pts")
    assert cells[3] == ("18.26%", "12.17%", "-6.09 pts", "[-12.80, +0.30]", "tied within noise")


def test_what_changed_in_a_metrics_unit_reads_each_change_inside_its_interval():
    # RMSE 26.3 -> 28.8: whole numbers would read "26 -> 29: +3" beside [+2.2, +2.9]
    from mlstrat.cli.demo import _change_cells, _table_digits

    rows = [{"component": "dev_error", "before": 26.31, "after": 28.84, "ci_low": 2.2, "ci_high": 2.9,
             "verdict": "worse", "paired": True},
            {"component": "train_error", "before": 20.1, "after": 20.4}]
    digits = _table_digits(rows, rate=False)
    assert digits == 2  # two significant digits of the smallest figure, the +0.3 change
    assert _change_cells(rows[0], False, digits) == ("26.31", "28.84", "+2.53", "[+2.20, +2.90]", "worse")
    assert _change_cells(rows[1], False, digits)[:3] == ("20.10", "20.40", "+0.30")
    assert _table_digits(rows[:1], rate=False) == 1  # alone, the +2.5 change needs one decimal
