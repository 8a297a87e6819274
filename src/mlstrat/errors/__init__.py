"""Error analysis (docs/method.md §4): the tagging sheet, ceilings, label issues, and a tagging UI.

- :func:`sample_errors` writes a seeded sample of misclassified rows as a CSV sheet to tag;
- :func:`summarize_sheet` turns the tags into shares, ceilings and the mislabeled split;
- :func:`compare_sheets` sets two sheets (dev and test) side by side;
- :func:`slice_metrics` breaks a split's metric down by columns (intervals, shares, ceilings);
- :func:`find_slices` finds the cohorts where the model fails most (SliceLine score, BH);
- :func:`find_label_issues` finds suspect labels by confident learning;
- :mod:`mlstrat.errors.ui` serves the sheet in the browser for tagging.
"""

from mlstrat.errors._by import SliceFigure, SliceMetrics, slice_metrics
from mlstrat.errors._compare_sheets import CategoryDifference, SheetComparison, compare_sheets
from mlstrat.errors._label_result import LabelIssue, LabelIssues, NoiseRate
from mlstrat.errors._labels import find_label_issues
from mlstrat.errors._sample import SampleResult, sample_errors
from mlstrat.errors._sheet import Sheet, read_sheet
from mlstrat.errors._slices import Slice, SliceReport, find_slices
from mlstrat.errors._summary import CategoryShare, ErrorSummary, MislabeledSplit, summarize_sheet

__all__ = [
    "CategoryDifference",
    "CategoryShare",
    "ErrorSummary",
    "LabelIssue",
    "LabelIssues",
    "MislabeledSplit",
    "NoiseRate",
    "SampleResult",
    "Sheet",
    "SheetComparison",
    "Slice",
    "SliceFigure",
    "SliceMetrics",
    "SliceReport",
    "compare_sheets",
    "find_label_issues",
    "find_slices",
    "read_sheet",
    "sample_errors",
    "slice_metrics",
    "summarize_sheet",
]
