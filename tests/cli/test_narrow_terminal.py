"""`diagnose`, `runs compare` and `runs list` at 80 columns: whole steps, numbers with their
units, each change next to its interval, rows of one line."""

import re

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.cli.test_runs import store  # noqa: F401 (fixture)
from tests.cli.test_snapshots import ERRORS

ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def _run(args, tmp_path):
    result = CliRunner().invoke(app, [str(a) for a in args], env={**ENV, "MLSTRAT_STORE": str(tmp_path / "r.db")})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), "a line is wider than the terminal"
    return lines


def _no_number_split_from_its_unit(lines):
    for a, b in zip(lines, lines[1:]):
        assert not (re.search(r"[-+]?\d[\d.]*%?$", a.rstrip()) and b.lstrip().startswith("pts")), (a, b)
        assert not (a.rstrip().endswith(",") and re.search(r"\[[^\]]*$", a)), (a, b)  # an interval cut


def test_diagnose_ladder_breaks_between_whole_steps(tmp_path):
    lines = _run(ERRORS, tmp_path)
    ladder = [line for line in lines if "→ " in line and "│" not in line]
    assert ladder[0].startswith("human 2.00%") and ladder[1].startswith("  ─")
    steps = re.findall(r"─[^→]*→ \S+ [\d.]+%", " ".join(ladder))
    assert steps == ["─+6.00 pts→ train 8.00%", "─+1.00 pts→ train-dev 9.00%",
                     "─+6.00 pts→ dev 15.00%", "─+0.50 pts→ test 15.50%"]
    # the legend wraps between items; a split's name is never cut in the components table
    assert "  (█ significant, ░ noise or under tolerance)" in lines
    assert any("│ train → train-dev │" in line for line in lines)
    _no_number_split_from_its_unit(lines)


def test_compare_shows_each_change_with_its_interval(store, tmp_path):  # noqa: F811
    a, b = store.list()
    lines = _run(["runs", "compare", a.id[:8], b.id[:8], "--store", store.path], tmp_path)
    assert "95% interval" in " ".join(lines)
    rows = [line for line in lines if line.startswith("│ ") and ("pts │" in line)]
    assert rows and all(re.search(r"\[[-+][\d.]+, [-+][\d.]+\] pts │$", r) for r in rows), rows
    assert ("avoidable bias, variance, data mismatch, dev overfitting: compared unpaired (the runs' "
            "component intervals combined)") in " ".join(" ".join(lines).split())
    # wrapped lines are indented and keep numbers with their units
    for line in lines[lines.index(next(x for x in lines if x.startswith("#1 -> #2"))) + 1:]:
        if line and not line.startswith(("Warning", "#")):
            assert line.startswith("  "), line
    _no_number_split_from_its_unit(lines)


def test_list_rows_stay_on_one_line(store, tmp_path):  # noqa: F811
    lines = _run(["runs", "list", "--store", store.path], tmp_path)
    rows = [line for line in lines if re.match(r"\d+ +[0-9a-f]{8} ", line)]
    assert len(rows) == 2
    assert lines[lines.index(rows[-1]) + 1] == "note / changed"


@pytest.mark.parametrize("width", [80, 120])
def test_list_json_unchanged_keys(store, tmp_path, width):  # noqa: F811
    import json

    result = CliRunner().invoke(app, ["runs", "compare", *[r.id for r in store.list()], "--store",
                                      str(store.path), "--json"], env={"COLUMNS": str(width)})
    doc = json.loads(result.output)
    step = doc["steps"][0]
    assert {"before", "after", "change", "ci_low", "ci_high", "verdict", "pairing"} <= set(step["errors"]["dev"])
    assert set(doc["changes"]) == {"errors", "components"} and step["dev"]["line"]


def _undetermined(diagnosis):
    """The same diagnosis without a train-dev split, on mismatched data: variance and data
    mismatch undetermined (the train -> dev gap kept on variance)."""
    import copy

    d = copy.deepcopy(diagnosis)
    d["errors"].pop("train_dev", None)
    comps = d["components"]
    comps["variance"].update(value=0.091, ci_low=0.06, ci_high=0.12, status="undetermined", to="dev")
    comps["data_mismatch"].update(value=None, ci_low=None, ci_high=None, status="undetermined")
    return d


def test_compare_of_three_runs_fits_80_columns_and_says_undetermined(tmp_path):
    from mlstrat.runs import RunStore
    from tests.report.fixtures import DIAGNOSIS, METRICS, improved_diagnosis

    store = RunStore(tmp_path / "runs.db")
    for i, diagnosis in enumerate((_undetermined(DIAGNOSIS), DIAGNOSIS, improved_diagnosis())):
        store.record("train", config={"optim": {"lr": 0.1 / (i + 1)}}, diagnosis=diagnosis, metrics=METRICS,
                     note=f"run {i}", test_fingerprint="sha256:t")
    lines = _run(["runs", "compare", *[r.id for r in store.list()], "--store", store.path], tmp_path)
    text = "\n".join(lines)
    assert "…" not in text and "change: #1 -> #3" in lines
    variance = next(line for line in lines if line.startswith(("│ variance", "variance")))
    assert variance.count("undetermined") == 2  # run #1's cell and the change
    assert "variance, data mismatch: undetermined (a run cannot attribute this gap:" in " ".join(text.split())
    # the step summary does not report an undetermined gap as variance moving
    step = " ".join(" ".join(lines[lines.index(next(x for x in lines if x.startswith("#1 -> #2"))):]).split())
    assert "variance +9" not in step.split("#2 -> #3")[0]
    _no_number_split_from_its_unit(lines)
