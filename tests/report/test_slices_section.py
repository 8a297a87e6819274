"""The report's "where it fails" section: the top slices of dev with their intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlstrat.report import render_report, report_inputs


def _predictions(path, *, metadata: bool):
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame({"id": np.arange(n), "split": rng.choice(["train", "dev"], size=n),
                          "y_true": rng.integers(0, 2, size=n)})
    wrong = rng.random(n) < 0.1
    if metadata:
        frame["device"] = rng.choice(["app", "web", "kiosk"], size=n)
        wrong |= (frame.device == "kiosk").to_numpy() & (rng.random(n) < 0.5)
    frame["y_pred"] = np.where(wrong, 1 - frame.y_true, frame.y_true)
    frame.to_parquet(path, index=False)
    return path


def test_report_of_predictions_with_metadata_shows_where_it_fails(tmp_path):
    inputs = report_inputs(_predictions(tmp_path / "p.parquet", metadata=True), store=None)
    assert "where it fails" in inputs.sections()
    assert inputs.slices["slices"][0]["slice"] == "device = kiosk"
    html = render_report(**inputs.kwargs())
    section = html[html.index('id="where-it-fails"'):]
    section = section[:section.index("</section>")]
    assert "Where it fails (dev)" in section and '<td data-label="slice">device = kiosk</td>' in section
    low, high = inputs.slices["slices"][0]["ci_low"], inputs.slices["slices"][0]["ci_high"]
    assert f"{100 * low:.1f}" in section and f"{100 * high:.1f}" in section
    # the interval in the report's one vocabulary, with the error column's precision
    assert f'<td data-label="95% interval" class="num">[{100 * low:.1f}%, {100 * high:.1f}%]</td>' in section


def test_no_section_without_metadata_columns(tmp_path):
    inputs = report_inputs(_predictions(tmp_path / "p.parquet", metadata=False), store=None)
    assert inputs.slices is None and "where it fails" not in inputs.sections()
    assert 'id="where-it-fails"' not in render_report(**inputs.kwargs())
