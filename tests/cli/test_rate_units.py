"""On the command line a rate carries its % sign: a bare number is refused with the suggestion;
metrics in a unit take bare numbers; the Python API keeps fractions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlstrat import diagnose
from mlstrat._exceptions import ConfigError
from mlstrat._numbers import require_percent
from mlstrat.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--errors", "train=1%,dev=10%", "--human", "0.5"],
         "--human: 0.5 has no unit; on the command line a rate carries a % sign: write 0.5% "
         "(or 50% for the fraction 0.5)"),
        (["--errors", "train=1%,dev=10%", "--human", "expert=0.005"],
         "--human expert: 0.005 has no unit; on the command line a rate carries a % sign: write "
         "0.005% (or 0.5% for the fraction 0.005)"),
        (["--errors", "train=1%,dev=0.1"],
         "--errors dev: 0.1 has no unit; on the command line a rate carries a % sign: write 0.1% "
         "(or 10% for the fraction 0.1)"),
        (["--errors", "train=1%,dev=10%", "--tolerance", "0.02"],
         "--tolerance: 0.02 has no unit"),
    ],
)
def test_diagnose_refuses_a_bare_rate(args, message):
    result = _run("diagnose", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_diagnose_takes_rates_with_percent_and_zero_bare():
    result = _run("diagnose", "--errors", "train=1%,dev=10%", "--human", "0.5%", "--tolerance",
                  "2%", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["human_level"]["bayes_proxy"]["value"] == 0.005 and out["tolerance"] == 0.02
    assert _run("diagnose", "--errors", "train=1%,dev=10%", "--human", "0", "--json").exit_code == 0


def test_unit_metrics_take_bare_numbers():
    result = _run("diagnose", "--metric", "rmse", "--errors", "train=3.2,dev=4.5", "--human",
                  "appraiser=2.5", "--tolerance", "0.5", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["errors"]["dev"]["value"] == 4.5 and out["tolerance"] == 0.5


@pytest.mark.parametrize("flag", ["--resolve", "--expected-error"])
def test_split_refuses_a_bare_rate(tmp_path, flag):
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,label\n" + "".join(f"{i},{i % 2}\n" for i in range(50)))
    result = _run("split", str(manifest), flag, "0.01")
    assert result.exit_code == 2
    assert f"{flag}: 0.01 has no unit" in " ".join(result.output.split())
    assert not (tmp_path / "m.split.csv").exists()


def test_python_api_keeps_fractions():
    d = diagnose(errors={"train": 0.01, "dev": 0.1}, human=0.005, tolerance=0.02)
    assert d.human_level.bayes_proxy.value == 0.005 and d.tolerance == 0.02


def test_require_percent_rule():
    require_percent("0.5%", name="--human")
    require_percent("expert team=0.5%", name="--human")
    require_percent("0", name="--human")
    require_percent("abc", name="--human")  # not a number: the parser says so
    with pytest.raises(ConfigError, match=r"^--human: 1 has no unit; on the command line a rate carries a % sign: write 1%$"):
        require_percent("1", name="--human")


@pytest.mark.parametrize("command", ["train", "tune"])
def test_train_and_tune_refuse_a_bare_human_level_before_any_training(tmp_path, command):
    config = tmp_path / "missing.toml"  # never read: the rate is checked first
    result = _run(command, str(config), "--human", "expert=0.5")
    assert result.exit_code == 2
    assert "--human expert: 0.5 has no unit" in " ".join(result.output.split())
