"""`mlstrat tune --time`: a bad time budget is one line and exit 2, before any trial trains."""

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app


@pytest.mark.parametrize("value, message", [
    ("10", "--time '10': not a duration; give a number with a unit: 90s, 10m, 2h or 1h30m"),
    ("0m", "--time '0m': the time budget must be more than zero"),
    ("5 minutes", "--time '5 minutes': not a duration; give a number with a unit: 90s, 10m, 2h or 1h30m"),
])
def test_bad_time_budget_is_one_line(tmp_path, value, message):
    config = tmp_path / "c.toml"  # never read: the flag is refused first
    out = CliRunner().invoke(app, ["tune", str(config), "--time", value])
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"Error: {message}"
    assert "Traceback" not in out.output


def test_bad_time_in_the_config_is_one_line(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nmanifest = "m.parquet"\n\n[tune]\ntime = "soon"\n\n[tune.space]\nlr = [1e-3, 1e-1]\n')
    out = CliRunner().invoke(app, ["tune", str(config)])
    assert out.exit_code == 2
    assert out.output.strip() == (f"Error: {config}: [tune] time = 'soon': not a duration; give a number with a "
                                  "unit: 90s, 10m, 2h or 1h30m")


def _result(trials, *, out_of_time):
    from pathlib import Path

    from mlstrat.tune import Param, SearchResult, TuneConfig, TuneResult

    space = (Param("lr", 1e-3, 1.0, "log"),)
    search = SearchResult(trials=tuple(trials), best=None, space=space, zoomed=space, storage=None,
                          out_of_time=out_of_time)
    return TuneResult(search=search, config=TuneConfig(space=space, time="15s"), output=Path("runs/t"),
                      effects={}, run_ids={})


def test_a_search_the_time_budget_stopped_before_any_trial_says_so(capsys):
    from mlstrat.cli.tune import _render

    _render(_result([], out_of_time=True))
    out = " ".join(capsys.readouterr().out.split())
    assert ("The time budget (15s) ran out: 0 of 20 trials ran (0 completed; the clock counts from the start, "
            "start-up included); go on with --resume, or give more --time") in out
    assert "No trial met the constraints" not in out and "Zoomed region" not in out


def test_pruned_trials_are_not_failures_in_the_table(capsys):
    from mlstrat.cli.tune import _render
    from mlstrat.tune import Trial

    trials = [Trial(0, 1, {"lr": 0.01}, None, False, {"pruned_at_epoch": 3, "epochs": 3}),
              Trial(1, 1, {"lr": 0.5}, None, False, {"error": "out of memory"})]
    result = _result(trials, out_of_time=False)
    assert result.first_failure is None  # a pruned trial is no failure: the search did not fail as a whole
    _render(result)
    out = capsys.readouterr().out
    assert "pruned at epoch 3" in out and "failed" in out
    assert "Pruned 1 of 2 trials" in " ".join(out.split())
