"""Results in notebooks: rich and plain reprs, and the quickstart notebook run by a real kernel."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlstrat
from mlstrat.runs import RunStore, record_predictions_run

REPO = Path(__file__).resolve().parents[2]


def _preds(seed: int = 0, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    split = np.array(["train", "train_dev", "dev", "test"])[np.arange(n) % 4]
    y = rng.integers(0, 3, n)
    flip = rng.random(n) < np.select([split == "train", split == "train_dev"], [0.02, 0.08], 0.2)
    return pd.DataFrame({"id": np.arange(n), "split": split, "y_true": y, "y_pred": np.where(flip, (y + 1) % 3, y)})


def _no_network(html: str) -> None:
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html) + re.findall(r"url\(([^)]+)\)", html)
    assert [r for r in refs if not r.startswith("#")] == []


def test_diagnosis_shows_the_staircase_inline():
    d = mlstrat.diagnose(_preds(), human=["1%"])
    html = d._repr_html_()
    assert html.count("<svg") == 1 and "<table>" in html and d.verdict.split(" (")[0] in html
    _no_network(html)
    text = repr(d)
    assert text.startswith(f"<Diagnosis principal_problem={d.principal_problem!r}: train ")
    assert d.verdict in text and len(text) < 400


def test_every_result_has_a_short_repr_and_a_table(tmp_path):
    preds = _preds()
    preds.to_parquet(tmp_path / "p.parquet")
    metrics = mlstrat.compute_metrics(preds)
    store = RunStore(tmp_path / "runs.db")
    runs = [record_predictions_run("diagnose", tmp_path / "p.parquet", store=store, config={"lr": lr},
                                   diagnosis=mlstrat.diagnose(preds)) for lr in (0.1, 0.01)]
    sample = mlstrat.sample_errors(tmp_path / "p.parquet", n=5, categories="blurry", output=tmp_path / "s.csv")
    manifest = pd.DataFrame({"id": np.arange(300), "label": np.arange(300) % 2})
    results = {
        "<MetricsReport error: train ": metrics,
        "<Comparison ": store.compare([r.id for r in runs]),
        # no reviewed column: every sampled row was examined, none tagged blurry
        "<ErrorSummary dev: 5/5 reviewed; blurry 0%": mlstrat.summarize_sheet(sample.sheet),
        "<SplitResult train=": mlstrat.split(manifest, label="label"),
    }
    for start, result in results.items():
        text = repr(result)
        assert text.startswith(start) and len(text) < 400, text
        html = result._repr_html_()
        assert "<table>" in html
        _no_network(html)
    dev = metrics.splits["dev"]
    assert f"{100 * dev.error:.1f}%" in metrics._repr_html_()


def test_mismatch_report_repr():
    from mlstrat.mismatch import analyze_mismatch

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"id": np.arange(n), "domain": np.where(np.arange(n) < 200, "web", "app"),
                          "a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame.loc[frame.domain == "app", "a"] += 1.5
    report = analyze_mismatch(frame, domain="domain", target="app", features=["a", "b"], folds=3)
    assert repr(report).startswith("<MismatchReport app vs web: AUC 0.")
    html = report._repr_html_()
    assert "<td>a</td>" in html
    _no_network(html)


@pytest.mark.slow
def test_quickstart_notebook_runs_in_a_real_kernel(tmp_path, monkeypatch):
    from tests.display.test_notebook_browser import _execute  # a kernel on Unix sockets, no TCP port

    nb = _execute(tmp_path, monkeypatch)  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<svg" in h and "Diagnosis" in h for h in html)  # the staircase, inline
    assert any("Run comparison" in h for h in html)
