"""How results look to people: numbers and percentages, the diagnosis sections, the charts
(matplotlib, imported on first use) and the notebook views of every result object.

The lowest layer above the shared helpers: every capability may use it, and it imports
none of them.
"""

from __future__ import annotations

from mlstrat._lazy import lazy_names as _lazy_names

__all__ = [
    "NotebookRepr",
    "format_figure",
    "format_param",
    "format_pct",
    "format_pts",
    "format_interval",
    "format_change",
    "column_digits",
    "format_rate",
    "html_repr",
    "is_rate_metric",
    "text_repr",
]

# public name -> the module of this package that defines it
_WHERE: dict[str, str] = {
    "html_repr": "._notebook",
    "text_repr": "._notebook",
    "format_figure": "._numbers",
    "format_param": "._numbers",
    "format_pct": "._numbers",
    "format_pts": "._numbers",
    "format_interval": "._numbers",
    "format_change": "._numbers",
    "column_digits": "._numbers",
    "format_rate": "._numbers",
    "is_rate_metric": "._numbers",
    "NotebookRepr": "._repr",
}

__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())
