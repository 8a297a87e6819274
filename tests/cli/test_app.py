import subprocess
import sys

from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == "mlstrat 0.1.0"


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "mlstrat", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "mlstrat 0.1.0"
