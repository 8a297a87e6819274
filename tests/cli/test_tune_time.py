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
