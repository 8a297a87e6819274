"""The operating-point chart (dev precision-recall and ROC with the chosen threshold) and the
learning-rate range test's chart: what they draw, in data coordinates, and the SVG they make."""

from __future__ import annotations

import math
import re

import pytest

from mlstrat.display._decision_charts import (
    lr_find_marks,
    lr_find_svg,
    operating_point_marks,
    operating_point_svg,
)

POINT = {
    "feasible": True, "threshold": 0.6, "positive": "$pos", "require": ["precision >= 75%", "fpr <= 20%",
                                                                       "recall > 50%", "specificity >= 90%",
                                                                       "f1 >= 10%"],
    "dev": {"precision": 0.8, "recall": 0.6, "fpr": 0.1},
    "curve": {"threshold": [0.9, 0.6, 0.2], "precision": [1.0, 0.8, 0.5], "recall": [0.2, 0.6, 1.0],
              "fpr": [0.0, 0.1, 1.0]},
}


def test_operating_point_marks_place_the_point_and_each_requirement() -> None:
    marks = operating_point_marks(POINT)
    assert marks["chosen"] == {"threshold": 0.6, "pr": (0.6, 0.8), "roc": (0.1, 0.6)}
    assert marks["pr"] == [(0.2, 1.0), (0.6, 0.8), (1.0, 0.5)]
    assert marks["roc"] == [(0.0, 0.0), (0.0, 0.2), (0.1, 0.6), (1.0, 1.0)]
    placed = [(line["panel"], line["axis"], line["value"]) for line in marks["lines"]]
    # precision: horizontal on PR; fpr: vertical on ROC; recall: on both; specificity s: fpr 1 - s
    assert placed == [("pr", "h", 0.75), ("roc", "v", 0.2), ("pr", "v", 0.5), ("roc", "h", 0.5),
                      ("roc", "v", pytest.approx(0.1))]


def test_an_infeasible_point_has_curves_and_lines_but_no_marker() -> None:
    marks = operating_point_marks({**POINT, "feasible": False, "threshold": None, "dev": None})
    assert marks["chosen"] is None and len(marks["pr"]) == 3 and len(marks["lines"]) == 5
    svg = operating_point_svg({**POINT, "feasible": False, "threshold": None, "dev": None})
    assert 'id="opchart-chosen-pr"' not in svg and 'id="opchart-required-pr-h"' in svg


def test_operating_point_svg_marks_the_point_with_its_threshold_and_rates() -> None:
    svg = operating_point_svg(POINT)
    assert svg.startswith("<svg") and 'aria-label="Dev precision-recall and ROC curves' in svg
    for gid in ("chosen-pr", "chosen-roc", "chosen-label-pr", "chosen-label-roc", "required-pr-h",
                "required-roc-v", "required-pr-v", "required-roc-h"):
        assert f'id="opchart-{gid}"' in svg
    assert "<!-- threshold 0.6 -->" in svg
    assert "<!-- precision 80.0%, recall 60.0% -->" in svg
    assert "<!-- FPR 10.0%, TPR 60.0% -->" in svg
    assert "<!-- required: precision &gt;= 75% -->" in svg
    # a class name is drawn as written, never parsed as mathtext
    assert "<!-- Precision-recall (dev, class $pos positive) -->" in svg


def _marker_position(svg: str, gid: str) -> tuple[float, float]:
    """Where the SVG draws the marker of the group ``gid`` (its ``<use x= y=>``)."""
    group = re.search(rf'<g id="{gid}">(.*?)</g>', svg, re.S).group(1)
    use = re.search(r'<use [^>]*x="([-0-9.]+)" y="([-0-9.]+)"', group)
    return float(use.group(1)), float(use.group(2))


def test_the_svg_draws_the_marker_at_the_chosen_point() -> None:
    from mlstrat.display._charts import _style, _to_svg
    from mlstrat.display._decision_charts import _operating_point_figure

    with _style():
        fig = _operating_point_figure(POINT)
        svg = _to_svg(fig, "opchart", "test")
    height = float(re.search(r'viewBox="0 0 [0-9.]+ ([0-9.]+)"', svg).group(1))
    scale = 72 / fig.dpi  # an SVG's user unit is a point
    # (recall, precision) on the left panel, (FPR, TPR) on the right
    for ax, gid, xy in ((fig.axes[0], "opchart-chosen-pr", (0.6, 0.8)),
                        (fig.axes[1], "opchart-chosen-roc", (0.1, 0.6))):
        px, py = ax.transData.transform(xy)
        x, y = _marker_position(svg, gid)
        assert x == pytest.approx(px * scale, abs=1e-3) and y == pytest.approx(height - py * scale, abs=1e-3)


LR_RESULT = {
    "lrs": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "losses": [2.0, 1.8, 1.0, 3.0, float("nan")],
    "smoothed": [2.0, 1.9, 1.5, 2.0, float("inf")],
    "suggestion": 10 ** -2.5, "stopped": "diverged",
}


def test_lr_find_marks_leave_out_steps_that_are_not_finite() -> None:
    marks = lr_find_marks(LR_RESULT)
    assert marks["raw"] == [(1e-4, 2.0), (1e-3, 1.8), (1e-2, 1.0), (1e-1, 3.0)]
    assert marks["smoothed"] == [(1e-4, 2.0), (1e-3, 1.9), (1e-2, 1.5), (1e-1, 2.0)]
    # the suggestion sits on the smoothed curve, read on the log axis: halfway from 1e-3 to 1e-2
    lr, loss = marks["suggestion"]
    assert lr == 10 ** -2.5 and loss == pytest.approx((1.9 + 1.5) / 2)
    assert marks["stop"] == (1e-1, 2.0) and marks["stopped"] == "diverged"


def test_lr_find_svg_marks_the_suggestion_and_the_stop_with_plain_number_ticks() -> None:
    svg = lr_find_svg(LR_RESULT)
    assert 'id="lrfind-lr-suggestion"' in svg and 'id="lrfind-lr-stop"' in svg
    assert f"<!-- suggested lr {10 ** -2.5:.3g} -->" in svg
    assert "<!-- stopped: diverged at lr 0.1 -->" in svg
    # the log axis's labels are numbers, not mathtext source drawn as text
    assert "<!-- 0.001 -->" in svg and "mathdefault" not in svg


def test_a_suggestion_outside_the_tested_range_says_so() -> None:
    svg = lr_find_svg({**LR_RESULT, "suggestion": 1e-5, "stopped": "end_lr"})
    assert "<!-- suggested lr 1e-05 (outside the tested range) -->" in svg
    assert "<!-- stopped: last step at lr 0.1 -->" in svg
    assert math.isclose(lr_find_marks({**LR_RESULT, "suggestion": 1e-5})["suggestion"][1], 2.0)


def test_the_notebook_view_of_a_range_test_shows_its_chart() -> None:
    from mlstrat.nn._lr_find import LrFindResult

    result = LrFindResult(lrs=LR_RESULT["lrs"][:4], losses=LR_RESULT["losses"][:4],
                          smoothed=LR_RESULT["smoothed"][:4], suggestion=0.00316, method="steepest",
                          steepest=0.00316, min_lr=0.001, stopped="diverged")
    html = result._repr_html_()
    assert ("suggested lr 0.00316 (steepest descent of the smoothed loss against log lr; the minimum&#x27;s "
            "lr / 10 is 0.001); 4 steps, stopped when the smoothed loss diverged") in html
    assert 'id="lrfind-lr-suggestion"' in html and 'id="lrfind-lr-stop"' in html
    assert repr(result).startswith("<LrFindResult suggestion=0.00316")
