"""The report, `runs show` and `runs compare` with a metric in its own unit (RMSE)."""

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.diagnosis import diagnose
from mlstrat.report import render_report
from mlstrat.runs import RunStore, compare_runs


def _predictions(seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for split, sd, n in (("train", 2.0, 3000), ("dev", 3.0, 1500)):
        y = rng.normal(100, 15, n)
        frames.append(pd.DataFrame({"split": split, "y_true": y, "y_pred": y + rng.normal(0, sd, n)}))
    return pd.concat(frames, ignore_index=True)


def test_report_shows_rmse_in_its_unit():
    d = diagnose(_predictions(), metric="rmse", human=["appraiser=1.5"])
    html = render_report(diagnosis=d)
    assert "RMSE diagnosis" in html
    dev = f"{d.errors['dev'].value:.4g}"
    assert f">{dev}<" in html
    assert "150.0%" not in html and "pts" not in html


def test_compare_and_cli_use_the_unit(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    a = store.record("diagnose", diagnosis=diagnose(_predictions(), metric="rmse", human=["1.5"]))
    b = store.record("diagnose", diagnosis=diagnose(_predictions(), metric="rmse", human=["1.8"]))
    cmp = compare_runs([a, b])
    (step,) = cmp.steps
    bias_a = a.diagnosis["components"]["avoidable_bias"]["value"]
    bias_b = b.diagnosis["components"]["avoidable_bias"]["value"]
    assert step.summary.startswith(f"avoidable bias {bias_a:+.4g} -> {bias_b:+.4g}")
    anchor = [w for w in cmp.warnings if w["code"] == "different_human_level"]
    assert "1.5" in anchor[0]["message"] and "150.0%" not in anchor[0]["message"]
    out = CliRunner().invoke(app, ["runs", "compare", a.id, b.id, "--store", str(tmp_path / "runs.db")])
    assert out.exit_code == 0, out.output
    assert f"{bias_a:.4g}" in out.output and "-0.3" in out.output
