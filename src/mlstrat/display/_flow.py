"""Text that wraps only where a reader expects it: between whole pieces, never inside a number.

Rich wraps a line at any space, so at 80 columns ``+6.8 pts`` can lose its unit to the next
line and a ladder step ``─+3.90 pts→ train-dev 4.50%`` can break in its middle. A
:class:`Flow` is a run of pieces (each kept whole) packed greedily onto lines, the lines after
the first indented; :func:`keep_together` makes the pieces of a sentence: words, except that a
number stays with its unit (``pts``), an interval ``[-2.4, +3.1] pts`` stays whole and so does
``p = 0.092``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["Flow", "FirstThatFits", "keep_together"]

# spans inside which a space is not a place to break a line
# (several patterns, each searched on its own: their spans may overlap)
_UNBREAKABLE = tuple(re.compile(p) for p in (
    r"\[[^\[\]]*\](?:\s+pts\b)?",  # an interval, with its unit
    r"[-+±]?\d[\d.,]*%?\s+pts\b",   # a number of points
    r"\bp\s+[=<>]\s+\S+",           # a p-value
    r"(?:->|→)\s+\S",                # an arrow stays with the figure it points to
))


def keep_together(text: Any) -> list[Any]:
    """Split a :class:`rich.text.Text` (or a str) at the spaces where a line may break.

    Each piece keeps its styles and its trailing space, which :class:`Flow` drops at the end of
    a line.
    """
    from rich.text import Text

    text = Text(text) if isinstance(text, str) else text
    plain = text.plain
    protected = [m.span() for pattern in _UNBREAKABLE for m in pattern.finditer(plain)]
    cuts = [m.end() for m in re.finditer(r" +", plain)
            if m.end() < len(plain) and not any(a < m.start() < b for a, b in protected)]
    return list(text.divide(cuts)) if cuts else [text]


class Flow:
    """Pieces packed onto lines of the console's width, each piece whole.

    Parameters
    ----------
    pieces : iterable of rich Text or str
        In reading order; a piece's trailing spaces separate it from the next one on a line.
    indent : int, default=2
        Spaces before every line but the first (a wrapped line reads as a continuation).
    style : str, default=""
        Applied under the pieces' own styles.
    """

    def __init__(self, pieces: Iterable[Any], *, indent: int = 2, style: str = "") -> None:
        from rich.text import Text

        self.pieces = [Text(p) if isinstance(p, str) else p for p in pieces]
        self.indent = indent
        self.style = style

    def lines(self, width: int) -> list[Any]:
        """The pieces packed onto lines of at most ``width`` cells (a longer piece folds)."""
        from rich.text import Text

        lines: list[Any] = []
        line = Text()
        for piece in self.pieces:
            room = width - line.cell_len
            if line.plain.strip() and Text(piece.plain.rstrip()).cell_len > room:
                lines.append(_rstripped(line))
                line = Text(" " * self.indent)
            line.append_text(piece)
        lines.append(_rstripped(line))
        return [part for one in lines for part in _folded(one, width, self.indent)]

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        style = console.get_style(self.style) if self.style else None
        for line in self.lines(options.max_width):
            if style is not None:
                line.stylize_before(style)
            yield from line.render(console)
            yield Segment.line()

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        widest = max((p.cell_len for p in self.pieces), default=0)
        total = sum(p.cell_len for p in self.pieces)
        return Measurement(min(widest, options.max_width), min(total, options.max_width))


def _rstripped(line: Any) -> Any:
    line = line.copy()
    line.rstrip()
    return line


def _folded(line: Any, width: int, indent: int) -> list[Any]:
    """A line of one piece wider than the console: cut at the width (nothing is dropped)."""
    if line.cell_len <= width or width <= indent + 1:
        return [line]
    from rich.text import Text

    first, rest = line.divide([width])
    return [first, *_folded(Text(" " * indent).append_text(rest), width, indent)]


class FirstThatFits:
    """The first of several renderings whose natural width fits the console (else the last).

    A table that fits 120 columns with a column per fact can need another layout at 80 (two
    facts in one cell); which one fits is only known when the console's width is.
    """

    def __init__(self, *candidates: Any) -> None:
        self.candidates = candidates

    def _choice(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        unbounded = options.update_width(10_000)  # the natural width, not clamped to the console
        for candidate in self.candidates[:-1]:
            if Measurement.get(console, unbounded, candidate).maximum <= options.max_width:
                return candidate
        return self.candidates[-1]

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        yield self._choice(console, options)

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self._choice(console, options))
