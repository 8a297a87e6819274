"""Flow: pieces packed onto lines whole; numbers keep their units; wrapped lines indented."""

import pytest
from rich.console import Console
from rich.table import Table

from mlstrat.display._flow import FirstThatFits, Flow, keep_together


def _render(renderable, width):
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.mark.parametrize("text,whole", [
    ("the change is +6.09 pts overall", "+6.09 pts"),
    ("95% interval [-12.84, +0.30] pts; paired", "[-12.84, +0.30] pts;"),
    ("paired, McNemar p = 0.092)", "p = 0.092)"),
    ("data mismatch +14.9 pts -> +6.3 pts after", "-> +6.3 pts"),
])
def test_keep_together_never_splits_a_number_from_its_unit(text, whole):
    pieces = [p.plain.strip() for p in keep_together(text)]
    assert any(whole in p for p in pieces), pieces
    for width in range(len(whole) + 3, len(text) + 2):  # the piece fits after the indent
        lines = [line.strip() for line in _render(Flow(keep_together(text)), width)]
        assert any(whole.rstrip(";)") in line for line in lines), (width, lines)


def test_wrapped_lines_are_indented_and_fit():
    lines = _render(Flow(keep_together("word " * 30), indent=4), 20)
    assert all(len(line) <= 20 for line in lines)
    assert lines[0].startswith("word") and all(line.startswith("    word") for line in lines[1:])


def test_a_piece_wider_than_the_console_folds_without_losing_characters():
    lines = _render(Flow(["x" * 50]), 20)
    assert "".join(line.strip() for line in lines) == "x" * 50 and all(len(line) <= 20 for line in lines)


def test_first_that_fits_picks_by_natural_width():
    wide, narrow = Table("a" * 60), Table("b" * 10)
    assert "a" * 60 in "\n".join(_render(FirstThatFits(wide, narrow), 100))
    assert "b" * 10 in "\n".join(_render(FirstThatFits(wide, narrow), 40))
