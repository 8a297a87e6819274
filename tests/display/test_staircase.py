"""The staircase chart: whiskers are the components' intervals, labels say why a step is not a
problem, negative steps are drops. Checked on the SVG's elements."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

import pytest

from mlstrat.display._charts import staircase_svg
from mlstrat.display._sections import staircase_levels, step_note
from tests.report.fixtures import DIAGNOSIS

SVG = "{http://www.w3.org/2000/svg}"


def _diagnosis() -> dict:
    d = copy.deepcopy(DIAGNOSIS)
    d["human_level"]["bayes_proxy"] = {"name": "expert team", "value": 0.03}
    d["errors"]["train"].update(value=0.021, ci_low=0.016, ci_high=0.027)
    d["errors"]["train_dev"].update(value=0.034, ci_low=0.022, ci_high=0.051)
    d["errors"]["dev"].update(value=0.112, ci_low=0.089, ci_high=0.139)
    d["errors"]["test"].update(value=0.092, ci_low=0.072, ci_high=0.115)
    c = d["components"]
    c["avoidable_bias"].update(value=-0.009, ci_low=-0.015, ci_high=-0.004, significant=False)
    c["variance"].update(value=0.013, ci_low=-0.005, ci_high=0.031, significant=False)
    c["data_mismatch"].update(value=0.078, ci_low=0.048, ci_high=0.108, significant=True)
    c["dev_overfitting"].update(value=-0.020, ci_low=-0.032, ci_high=-0.008, significant=False)
    d["problems"] = ["data_mismatch"]
    return d


def _groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def _vertical_extent(group: ET.Element) -> tuple[float, float]:
    ys = [float(y) for p in group.iter(f"{SVG}path")
          for y in re.findall(r"[ML] [-\d.]+ ([-\d.]+)", p.get("d") or "")]
    return min(ys), max(ys)


def test_notes_say_why_a_step_is_not_a_problem() -> None:
    c = _diagnosis()["components"]
    assert step_note("avoidable_bias", c["avoidable_bias"]) == "below human level"
    assert step_note("variance", c["variance"]) == "within noise"
    assert step_note("data_mismatch", c["data_mismatch"]) is None
    assert step_note("dev_overfitting", c["dev_overfitting"]) == "below tolerance"


def test_whiskers_are_the_components_intervals() -> None:
    d = _diagnosis()
    levels = staircase_levels(d)
    groups = _groups(staircase_svg(levels))
    ends = {}
    prev = {"train": 0.03, "train_dev": 0.021, "dev": 0.034, "test": 0.112}
    for key, target in (("avoidable_bias", "train"), ("variance", "train_dev"), ("data_mismatch", "dev"),
                        ("dev_overfitting", "test")):
        top_px, bottom_px = _vertical_extent(groups[f"stair-whisker-{key}"])
        comp = d["components"][key]
        ends[key] = ((prev[target] + comp["ci_high"], top_px), (prev[target] + comp["ci_low"], bottom_px))
    # the pixel scale from one whisker predicts every other whisker's ends
    (v1, p1), (v2, p2) = ends["data_mismatch"]
    scale = (p2 - p1) / (v2 - v1)
    for key, pairs in ends.items():
        for value, px in pairs:
            assert px == pytest.approx(p1 + scale * (value - v1), abs=0.6), key
    # not the split's own interval: dev's would span 0.089 .. 0.139
    top_px, bottom_px = _vertical_extent(groups["stair-whisker-data_mismatch"])
    assert abs((bottom_px - top_px) - scale * (0.089 - 0.139)) > 5


def test_labels_and_drops() -> None:
    ids = set(_groups(staircase_svg(staircase_levels(_diagnosis()))))
    assert {"stair-label-avoidable_bias-below-human-level", "stair-label-variance-within-noise",
            "stair-label-data_mismatch-problem", "stair-label-dev_overfitting-below-tolerance"} <= ids
    assert {"stair-drop-avoidable_bias", "stair-rise-variance", "stair-rise-data_mismatch",
            "stair-drop-dev_overfitting"} <= ids
    assert not any("within-noise" in i for i in ids if "dev_overfitting" in i or "data_mismatch" in i)


def test_the_report_table_says_the_same_as_the_chart() -> None:
    from mlstrat.report import render_report

    html = render_report(diagnosis=_diagnosis())
    assert '<span class="chip outline">below human level</span>' in html
    assert '<span class="chip outline">below tolerance</span>' in html
    assert '<span class="chip outline">within noise</span>' in html


def test_an_unattributable_gap_is_drawn_as_undetermined_not_as_one_component() -> None:
    from mlstrat import diagnose
    from mlstrat.display._sections import components_section

    # train and dev from different distributions, no train-dev split: the train -> dev gap is
    # variance, data mismatch or both
    d = diagnose(errors="train=1%,dev=11%", sizes="train=5000,dev=2000", human=["0.5%"],
                 mismatched=True).to_dict()
    variance = d["components"]["variance"]
    dev = staircase_levels(d)[-1]
    assert (dev["name"], dev["component"], dev["component_label"], dev["note"]) == (
        "dev", None, "variance or data mismatch", "undetermined")
    # the whisker is the gap's interval, placed on the train level
    assert dev["whisker_low"] == pytest.approx(0.01 + variance["ci_low"])
    assert dev["whisker_high"] == pytest.approx(0.01 + variance["ci_high"])
    rows = {r["key"]: r for r in components_section(d)}
    assert rows["variance"]["note"] == "undetermined"  # never "below tolerance" for a 10-pt gap
    groups = _groups(staircase_svg(staircase_levels(d)))
    assert "stair-label-gap-undetermined" in groups and "stair-rise-gap" in groups
    assert "stair-whisker-dev" in groups  # the gap's interval is drawn, as every step's is
    assert not [g for g in groups if "variance" in g or "data_mismatch" in g]
