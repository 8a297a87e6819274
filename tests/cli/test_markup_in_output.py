"""Text from data prints as written through every command: a backslash before a bracket, a
trailing backslash or a bracketed word in a name is neither eaten as Rich markup nor doubled."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

import mlstrat.cli
from mlstrat.cli import app

runner = CliRunner()


def test_a_mapped_column_name_prints_as_written(tmp_path):
    pred = tmp_path / "pred.csv"
    pred.write_text("split,truth\\[1],y_pred\ntrain,a,a\ntrain,b,b\ndev,a,b\ndev,b,b\n")
    res = runner.invoke(app, ["metrics", str(pred), "--y-true", "truth\\[1]"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    # the note quotes the name with repr(), which doubles its backslash
    assert "mapped: column 'truth\\\\[1]' read as y_true" in res.output


def _tune_result(**doc: object) -> SimpleNamespace:
    base = {"space": [{"name": "lr[bold]\\"}], "trials": [], "metric": "dev_error", "zoomed": [],
            "effects": {"lr[bold]\\": {"variance": 0.5}}, "best": None,
            "constraints": {"max_params": 1000}, "output": "out"}
    return SimpleNamespace(to_dict=lambda: {**base, **doc})


def test_tune_names_its_config_section_and_hyperparameters_as_written(capsys, monkeypatch):
    from mlstrat.cli.tune import _render

    monkeypatch.setenv("COLUMNS", "200")
    _render(_tune_result())
    out = capsys.readouterr().out
    assert "No trial met the constraints (max_params = 1000): relax them in [tune]." in out
    assert "│ lr[bold]\\ " in out  # the effects table's row, name as written


def test_the_cli_prints_data_through_safe_only():
    """rich.markup.escape drops the backslash of "\\[" and doubles a trailing one; only the
    help text (written here, not data) may use it."""
    users = []
    for path in sorted(Path(mlstrat.cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "rich.markup" and \
                    any(a.name == "escape" for a in node.names):
                users.append(path.name)
    assert users == ["_app.py"]
