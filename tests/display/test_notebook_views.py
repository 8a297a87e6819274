"""Every public result has a notebook view (a table, never a raw dict) and a short repr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import mlstrat
from mlstrat.curves._curve import CurvePoint, LearningCurve
from mlstrat.display import NotebookRepr
from mlstrat.errors import compare_sheets, find_label_issues
from mlstrat.metrics._select import select
from mlstrat.nn._outputs import TrainResult
from tests.errors.test_labels import table
from tests.errors.test_summary import make_sheet
from tests.report.test_notebook import _preds


def _check(result: object, start: str) -> None:
    assert isinstance(result, NotebookRepr)
    html = result._repr_html_()  # type: ignore[attr-defined]
    assert "<table>" in html and "{'" not in html and "{&#x27;" not in html, html
    text = repr(result)
    assert text.startswith(start) and len(text) < 400 and "{'" not in text, text


def test_the_diagnosis_header_names_the_metric_not_a_dict() -> None:
    html = mlstrat.diagnose(_preds(), human=["1%"])._repr_html_()
    assert "{&#x27;" not in html and "{'" not in html
    assert "<th>error</th><th>95% CI</th>" in html


def test_every_result_renders(tmp_path: Path) -> None:
    preds = _preds()
    preds.to_parquet(tmp_path / "p.parquet")
    _check(mlstrat.sample_errors(tmp_path / "p.parquet", n=5, output=tmp_path / "s.csv"), "<SampleResult ")
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    probs = rng.dirichlet(np.ones(3), 90)
    _check(find_label_issues(table(labels, probs)), "<LabelIssues ")
    a = make_sheet(tmp_path, {"blurry": ["1"] * 50}, name="a.csv")
    b = make_sheet(tmp_path, {"blurry": ["1"] * 20}, name="b.csv")
    _check(compare_sheets(a, b), "<SheetComparison ")
    _check(select([{"name": "a", "acc": 0.9, "ms": 40}, {"name": "b", "acc": 0.95, "ms": 120}],
                  maximize="acc", require=["ms <= 100"]), "<Selection ")
    _check(TrainResult(run_dir=tmp_path, metrics={"dev": {"n": 10, "error": 0.1}},
                       history={"epochs": [{"epoch": 1, "train_cost": 0.5}], "best_epoch": 1}), "<TrainResult ")
    point = CurvePoint(size=100, train=(0.01, 0.0, 0.03), dev=(0.1, 0.08, 0.12))
    _check(LearningCurve(metric="error", points=(point,), human_level=None, fit=None, reading="too few sizes"),
           "<LearningCurve ")


def test_gradcheck_renders() -> None:
    import torch

    from mlstrat.nn import gradcheck

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    X, y = torch.randn(8, 3, dtype=torch.float64), torch.randint(0, 2, (8,))
    result = gradcheck(model.double(), torch.nn.functional.cross_entropy, X, y)
    _check(result, "<GradcheckResult ")


def test_an_undetermined_gap_is_not_shown_as_not_significant() -> None:
    d = mlstrat.diagnose(errors="train=1%,dev=11%", sizes="train=5000,dev=2000", human=["0.5%"], mismatched=True)
    html = d._repr_html_()
    assert "<tr><td>variance</td><td>+10.00 pts</td><td>[+8.66, +11.47] pts</td><td>undetermined</td></tr>" in html
