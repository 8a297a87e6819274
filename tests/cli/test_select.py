import json

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


@pytest.fixture
def candidates(tmp_path):
    path = tmp_path / "cands.csv"
    path.write_text(
        "name,f1,latency_ms,size_mb\nsmall,0.86,20,12\nmedium,0.91,80,60\n"
        "large,0.94,180,300\ntiny,0.80,5,2\n"
    )
    return path


def test_winner_and_exclusions(candidates):
    result = runner.invoke(
        app,
        [
            "select",
            str(candidates),
            "--maximize",
            "f1",
            "--require",
            "latency_ms<100",
            "--require",
            "size_mb <= 50",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["winner"] == "small"
    by_name = {c["name"]: c for c in out["candidates"]}
    assert by_name["small"]["rank"] == 1 and by_name["tiny"]["rank"] == 2
    assert by_name["medium"]["excluded_by"] == ["size_mb <= 50"]
    assert by_name["large"]["excluded_by"] == ["latency_ms < 100", "size_mb <= 50"]
    assert by_name["large"]["score"] == 0.94


def test_minimize_and_percent(candidates):
    result = runner.invoke(
        app,
        ["select", str(candidates), "--minimize", "latency_ms", "--require", "f1>=90%", "--json"],
    )
    assert json.loads(result.output)["winner"] == "medium"


def test_terminal_view(candidates):
    result = runner.invoke(
        app, ["select", str(candidates), "--maximize", "f1", "--require", "latency_ms<100"]
    )
    assert result.exit_code == 0
    assert "Winner: medium" in result.output
    assert "latency_ms < 100" in result.output


def test_none_satisfies_exit_1_with_closest(candidates):
    result = runner.invoke(
        app,
        [
            "select",
            str(candidates),
            "--maximize",
            "f1",
            "--require",
            "latency_ms<10",
            "--require",
            "f1>=0.9",
        ],
    )
    assert result.exit_code == 1
    # tiny, medium, large miss one constraint each (by 11%, 7x, 17x), small two
    assert "No candidate meets every constraint; closest: tiny, medium, large" in " ".join(
        result.output.split()
    )
    result = runner.invoke(
        app, ["select", str(candidates), "--maximize", "f1", "--require", "latency_ms<1", "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["winner"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--maximize", "f1", "--require", "latncy_ms<3"],
            "--require 'latncy_ms < 3' names unknown column 'latncy_ms' (did you mean "
            "'latency_ms'?); "
            "available columns: f1, latency_ms, size_mb",
        ),
        (
            ["--maximize", "latency"],
            "unknown metric 'latency' (did you mean 'latency_ms'?); available columns: f1, "
            "latency_ms, size_mb",
        ),
        (
            ["--maximize", "f1", "--require", "latency_ms<<3"],
            "--require: 'latency_ms<<3' is not of the form COLUMN OP NUMBER",
        ),
        (
            ["--maximize", "f1", "--require", "__import__('os')<1"],
            "is not of the form COLUMN OP NUMBER",
        ),
        (
            ["--maximize", "f1", "--require", "latency_ms < fast"],
            "is not of the form COLUMN OP NUMBER",
        ),
        (["--maximize", "f1", "--minimize", "size_mb"], "give exactly one optimizing metric"),
        ([], "give exactly one optimizing metric"),
        (["--maximize", "f1", "--name-col", "model"], "no name column 'model'"),
    ],
)
def test_bad_input_exit_2(candidates, args, message):
    result = runner.invoke(app, ["select", str(candidates), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output


def test_non_numeric_metric(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('[{"name": "a", "f1": "high"}]')
    result = runner.invoke(app, ["select", str(path), "--maximize", "f1"])
    assert result.exit_code == 2
    assert "column 'f1' has a non-numeric value 'high'" in result.output
