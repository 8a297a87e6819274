"""What the main commands print at 80 and 120 columns, compared exactly with stored text.

Regenerate after an intended change with ``MLSTRAT_UPDATE_SNAPSHOTS=1`` and read the diff:
at 80 columns prose wraps at word boundaries, numbers are never cut (no "…") and help
descriptions are not squeezed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.errors.test_summary import make_sheet

SNAPSHOTS = Path(__file__).parent / "snapshots"
ERRORS = ["diagnose", "--errors", "train=8%,train_dev=9%,dev=15%,test=15.5%",
          "--sizes", "train=5000,train_dev=1000,dev=1000,test=1000", "--human", "2%", "--no-record"]


def _run(args: list[str], width: int, store: Path) -> str:
    env = {"COLUMNS": str(width), "LINES": "50", "MLSTRAT_STORE": str(store), "NO_COLOR": "1", "TERM": "dumb"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("MLSTRAT_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path.name}: run with MLSTRAT_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def _common_checks(text: str, width: int) -> None:
    assert all(len(line) <= width for line in text.splitlines()), "a line is wider than the terminal"
    assert "…" not in text, "something was cut"


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name,args", [
    ("diagnose-help", ["diagnose", "--help"]),
    ("diagnose-errors", ERRORS),
])
def test_command_output(name: str, args: list[str], width: int, tmp_path: Path) -> None:
    text = _run(args, width, tmp_path / "runs.db")
    _common_checks(text, width)
    _check(f"{name}-{width}", text)


@pytest.mark.parametrize("width", [80, 120])
def test_errors_summarize_output(width: int, tmp_path: Path) -> None:
    sheet = make_sheet(tmp_path, {"blurry": ["1"] * 40, "mislabeled": [""] * 40 + ["1"] * 6}, n_errors=60)
    text = _run(["errors", "summarize", str(sheet)], width, tmp_path / "runs.db")
    _common_checks(text, width)
    # prose wraps at word boundaries: no line ends inside a word that continues on the next
    lines = text.splitlines()
    for a, b in zip(lines, lines[1:]):
        if a and b and len(a) >= width - 1 and not a.startswith(("┃", "│", "┏", "└", "┡")):
            assert a[-1] in " .,;:)" or b[0] == " " or not (a[-1].isalnum() and b[0].isalnum()), (a, b)
    # the advice quotes each share as the table prints it (66.7%, not 67%)
    assert "│ 66.7% │" in text and "(66.7% of the errors examined" in " ".join(text.split())
    _check(f"errors-summarize-{width}", text)


@pytest.mark.parametrize("width", [80, 120])
def test_root_help_fits(width: int, tmp_path: Path) -> None:
    # not a snapshot: the list of commands grows; every line fits and nothing is cut mid-word
    text = _run(["--help"], width, tmp_path / "runs.db")
    _common_checks(text, width)
    assert "diagnose" in text


def test_diagnose_help_at_80_is_readable(tmp_path: Path) -> None:
    text = _run(["diagnose", "--help"], 80, tmp_path / "runs.db")
    assert "avoidable_bias, variance, data_mismatch, dev_overfitting" in " ".join(text.split())
    # descriptions start at a fixed indent and run to the margin, not squeezed to ~20 characters
    desc = [line for line in text.splitlines() if line.startswith(" " * 30) and line.strip()]
    assert desc and max(len(line.strip()) for line in desc) >= 40
