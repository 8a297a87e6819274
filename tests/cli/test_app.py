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


def test_a_librarys_deprecation_notice_is_not_shown_to_the_user(tmp_path, monkeypatch):
    # e.g. pyspark's Connect client calls logger.warn: the user can do nothing about it, and a
    # test runner's filters would otherwise print it before the command's own lines
    import warnings

    import mlstrat.metrics

    real = mlstrat.metrics.compute_metrics

    def noisy(*args, **kwargs):
        warnings.warn("The 'warn' method is deprecated, use 'warning' instead", DeprecationWarning)
        warnings.warn("a pending change", PendingDeprecationWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(mlstrat.metrics, "compute_metrics", noisy)
    preds = tmp_path / "preds.csv"
    preds.write_text("id,split,y_true,y_pred\n" + "".join(f"{i},dev,a,{'ab'[i % 2]}\n" for i in range(10)))
    result = CliRunner().invoke(app, ["metrics", str(preds)])
    assert result.exit_code == 0, result.output
    assert "dev" in result.output
    assert "deprecated" not in result.output and "pending change" not in result.output
