"""The notebook view builds its HTML by hand: every value that comes from the user's data
(names of categories, slices, columns, features, runs, classes, messages) is escaped."""

from __future__ import annotations

from typing import Any

import pytest

from mlstrat.display._notebook import html_repr

EVIL = '<img src=x onerror="alert(1)">&'
ESCAPED = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;"


def _result(name: str, data: dict[str, Any]) -> object:
    """An object of class ``name`` whose ``to_dict()`` is ``data`` (the renderers dispatch on the name)."""
    return type(name, (), {"to_dict": lambda self: data})()


CASES = {
    "ErrorSummary": {"split": EVIL, "split_error": 0.1, "reviewed": 10, "sample_size": 10, "tagged": 9,
                     "categories": [{"name": EVIL, "count": 3, "share": 0.3, "share_ci": [0.1, 0.6],
                                     "ceiling": 0.03, "error_if_fixed": 0.07}]},
    "SplitResult": {"sizes": {EVIL: 10, "dev": 5}, "warnings": [{"message": EVIL}, EVIL]},
    "Comparison": {"runs": [{"id": EVIL}, {"id": "b" * 12}], "errors": {"dev": [0.1, 0.09]},
                   "components": {EVIL: [0.01, 0.02]}, "steps": [{"summary": EVIL, "dev": {"line": EVIL}}]},
    "MismatchReport": {"auc": {"value": 0.8, "ci_low": 0.75, "ci_high": 0.85}, "strength": EVIL,
                       "source": [EVIL], "target": EVIL,
                       "top_features": [{"feature": EVIL, "importance": 0.5, "ks": 0.3, "hint": EVIL}]},
    "OperatingPoint": {"feasible": True, "threshold": 0.5, "score_column": EVIL, "maximize": "recall",
                       "require": [EVIL], "test": None,
                       "dev": {"split": EVIL, "n": 10, "precision": 0.5, "precision_ci": [0.2, 0.8],
                               "recall": 0.5, "recall_ci": [0.2, 0.8], "f1": 0.5, "f1_ci": [0.2, 0.8],
                               "fpr": 0.1, "fpr_ci": [0.0, 0.3]}},
    "SliceMetrics": {"metric": {"name": EVIL, "unit": "rate"}, "by": [EVIL], "split": EVIL, "value": 0.1,
                     "n": 100, "share_of": EVIL, "groups": 2,
                     "slices": [{"slice": EVIL, "n": 50, "value": 0.1, "ci_low": 0.05, "ci_high": 0.2,
                                 "share": 0.5, "ceiling": 0.01}]},
    "SliceReport": {"metric": {"unit": "rate"}, "split": EVIL, "tested": 3, "significant": 1, "fdr": 0.1,
                    "test": EVIL,
                    "slices": [{"slice": EVIL, "n": 50, "error": 0.2, "ci_low": 0.1, "ci_high": 0.3,
                                "lift": 2.0, "ceiling": 0.05, "score": 0.4, "q_value": 0.01}]},
    "DataChecks": {"source": EVIL, "rows": 10,
                   "findings": [{"check": EVIL, "column": EVIL, "count": 1, "message": EVIL, "fix": EVIL}]},
    "AnyOtherResult": {EVIL: EVIL, "records": [{EVIL: EVIL, "n": 1}]},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_user_values_are_escaped(name: str) -> None:
    page = html_repr(_result(name, CASES[name]))
    assert "<img" not in page
    assert ESCAPED in page


def test_slice_intervals_read_low_high_in_brackets() -> None:
    report = html_repr(_result("SliceReport", CASES["SliceReport"]))
    assert "<td>[10.0%, 30.0%]</td>" in report
    metrics = html_repr(_result("SliceMetrics", CASES["SliceMetrics"]))
    assert "<td>[5.0%, 20.0%]</td>" in metrics
