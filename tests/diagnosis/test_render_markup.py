"""The terminal view of a diagnosis prints the user's names as written: a domain value or a
column name that looks like Rich markup is neither styled nor an error."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from mlstrat import diagnose
from mlstrat.diagnosis._recipe import carve_train_dev
from mlstrat.diagnosis._render import render_diagnosis
from mlstrat.metrics._spec import MetricSpec


def _printed(diag) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    for item in render_diagnosis(diag):
        console.print(item)
    return out.getvalue()


def test_a_target_domain_that_looks_like_markup_is_printed_as_written():
    d = diagnose(errors="train=1%,dev=11%", sizes="train=5000,dev=2000", human=["0.5%"], mismatched=True)
    d = dataclasses.replace(d, actions=(carve_train_dev("[/phone]"), carve_train_dev("[bold]tablet")))
    text = _printed(d)
    assert "--target '[/phone]' --train-dev auto" in text
    assert "--target '[bold]tablet' --train-dev auto" in text


def test_a_metric_label_that_looks_like_markup_is_printed_as_written():
    d = diagnose(errors="train=1%,dev=11%", sizes="train=5000,dev=2000", human=["0.5%"])
    d = dataclasses.replace(d, metric=MetricSpec(name="mean:[/loss]", kind="mean", column="[/loss]"))
    assert "mean([/loss]) per split (95% CI)" in _printed(d)
