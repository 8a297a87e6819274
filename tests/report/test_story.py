"""The report's story (each iteration's verdict, the action between, the change with its
interval, the mismatch analysis) and its grid of the worst dev mistakes with their examples."""

import base64
import html
import io
import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlstrat.report import render_report
from mlstrat.report._top_losses import top_losses
from tests.report.fixtures import DIAGNOSIS, improved_diagnosis

CHANGES = [
    {"component": "data_mismatch", "before": 0.078, "after": 0.016, "change": -0.062},
    {"component": "dev_error", "before": 0.112, "after": 0.052, "change": -0.06, "ci_low": -0.0912,
     "ci_high": -0.0301, "verdict": "better", "paired": True},
    {"component": "train_error", "before": 0.018, "after": 0.024, "change": 0.006, "ci_low": -0.004,
     "ci_high": 0.016, "verdict": "tied within noise", "paired": False},
]
MISMATCH = {"auc": {"value": 0.912, "ci_low": 0.887, "ci_high": 0.937}, "strength": "strong",
            "sides": "app from web images",
            "top_features": [{"feature": "img_sharpness", "importance": 0.31, "importance_std": 0.02, "ks": 0.8,
                              "mean_source": 179.0, "mean_target": 61.0, "hint": "blur"}]}
SYNTH = {"n_synthesized": 1119, "transforms": ["blur", "noise"], "like": "app",
         "params": {"blur": {"sigma": 0.9}, "noise": {"std": 0.12}},
         "auc_before": {"value": 0.912, "ci_low": 0.887, "ci_high": 0.937},
         "auc_after": {"value": 0.52, "ci_low": 0.49, "ci_high": 0.55}}


def _story(name="synthesized app-like data"):
    return {"iterations": [{"name": "baseline", "run": "aaaa1111", "diagnosis": DIAGNOSIS},
                           {"name": name, "run": "bbbb2222", "diagnosis": improved_diagnosis()}],
            "changes": CHANGES, "mismatch": MISMATCH, "synthesis": SYNTH}


def _text(page):
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_story_shows_both_verdicts_the_action_and_the_paired_change():
    page = render_report(story=_story(), diagnosis=improved_diagnosis())
    story = _text(page[page.index('id="story"'):page.index("</section>", page.index('id="story"'))])
    # baseline verdict -> action -> result, in that order
    first = story.index(_text(DIAGNOSIS["verdict"]))
    action = story.index("Action taken synthesized app-like data")
    result = story.index("Avoidable bias is now the largest component.")
    assert first < action < result
    assert "Baseline · run aaaa1111" in story and "Result · run bbbb2222" in story
    # the dev change as shown, with its paired interval and verdict; one precision for the table
    assert "dev error 11.2% 5.2% -6.0 pts [-9.1, -3.0] pts better" in story
    assert "train error 1.8% 2.4% +0.6 pts [-0.4, +1.6] pts tied within noise †" in story
    assert "data mismatch +7.8 pts +1.6 pts -6.2 pts –" in story
    assert "dev: paired on the same dev rows" in story
    # the mismatch analysis and the synthesis, AUCs with their intervals
    assert "AUC 0.912 [0.887, 0.937] (strong); top differences: img_sharpness" in story
    assert "Synthesized 1,119 app-like training rows (blur (sigma 0.9), noise (std 0.12)); " \
           "AUC training vs app 0.912 [0.887, 0.937] → 0.520 [0.490, 0.550]" in story
    mismatch = _text(page[page.index('id="mismatch"'):])
    assert "img_sharpness 0.310 ± 0.020 0.80 179 → 61 blur" in mismatch


def test_the_story_escapes_what_it_shows():
    page = render_report(story=_story(name="<script>alert(1)</script>"))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_story_of_one_iteration_has_no_change_table():
    page = render_report(story={"iterations": [{"name": "baseline", "run": "a1", "diagnosis": DIAGNOSIS}]})
    assert 'id="story"' in page and "Action taken" not in page and "What changed" not in page


# -- the worst mistakes ----------------------------------------------------------------------

SHAPE = (1, 4, 4)


def _run_dir(tmp_path, *, proba=True):
    """A run directory: predictions with probabilities, and the manifest (4x4 pixels) its config names."""
    rng = np.random.default_rng(3)
    n = 40
    ids = [f"r{i:02d}" for i in range(n)]
    y_true = rng.integers(0, 3, n)
    p = rng.dirichlet([1, 1, 1], n)
    y_pred = p.argmax(axis=1)
    table = {"id": ids, "split": ["dev"] * 30 + ["train"] * 10, "y_true": y_true.astype(str),
             "y_pred": y_pred.astype(str)}
    if proba:
        table.update({f"proba_{k}": p[:, k] for k in range(3)})
    run = tmp_path / "run"
    run.mkdir()
    pq.write_table(pa.table(table), run / "predictions.parquet")
    pixels = rng.integers(0, 17, (n, 16)).astype(float)
    manifest = {"id": ids, "label": y_true, "note": [f"<b>row {i}</b>" for i in range(n)],
                **{f"px_{j}": pixels[:, j] for j in range(16)}}
    pq.write_table(pa.table(manifest), tmp_path / "manifest.parquet")
    (run / "config.resolved.toml").write_text(
        f'[data]\nmanifest = "{tmp_path / "manifest.parquet"}"\nfeature_prefix = "px_"\nid = "id"\n'
        f"image_shape = [1, 4, 4]\nvalue_range = [0.0, 16.0]\n")
    return run / "predictions.parquet", y_true, y_pred, p, pixels


def test_top_losses_ranks_dev_mistakes_by_the_log_loss_of_each_row(tmp_path):
    from sklearn.metrics import log_loss

    predictions, y_true, y_pred, p, _ = _run_dir(tmp_path)
    result = top_losses(predictions, n=5)
    dev_wrong = [i for i in range(30) if y_true[i] != y_pred[i]]
    # each row's loss computed independently: scikit-learn's log loss of that one row
    losses = {i: log_loss([y_true[i]], [p[i]], labels=[0, 1, 2]) for i in dev_wrong}
    expected = sorted(dev_wrong, key=lambda i: (-losses[i], i))[:5]
    assert result["n_mistakes"] == len(dev_wrong)
    assert [r["id"] for r in result["rows"]] == [f"r{i:02d}" for i in expected]
    top = result["rows"][0]
    assert float(top["loss"]) == pytest.approx(losses[expected[0]], abs=0.005)
    assert top["y_true"] == str(y_true[expected[0]]) and top["y_pred"] == str(y_pred[expected[0]])
    assert float(top["p_pred"]) == pytest.approx(p[expected[0]].max(), abs=0.005)


def test_top_losses_draws_each_example_from_its_pixels(tmp_path):
    from PIL import Image

    predictions, _, _, _, pixels = _run_dir(tmp_path)
    result = top_losses(predictions, n=3)
    assert result["images"]
    for row in result["rows"]:
        prefix = "data:image/png;base64,"
        assert row["image"].startswith(prefix)
        image = Image.open(io.BytesIO(base64.b64decode(row["image"][len(prefix):])))
        assert image.size == (4, 4) and image.mode == "L"
        i = int(row["id"][1:])
        expected = np.round(pixels[i] / 16 * 255).reshape(4, 4)
        assert np.array_equal(np.asarray(image, dtype=float), expected)
        assert row["fields"] == [{"name": "note", "value": f"<b>row {i}</b>"}]


def test_the_grid_is_in_the_page_escaped_and_self_contained(tmp_path):
    predictions, *_ = _run_dir(tmp_path)
    page = render_report(top_losses=top_losses(predictions, n=4))
    grid = page[page.index('id="top-losses"'):]
    assert grid.count("<img src=\"data:image/png;base64,") == 4
    assert "<b>row" not in page and "&lt;b&gt;row" in grid  # the fields, escaped
    assert "Worst dev mistakes" in grid and "ranked by loss" in _text(grid)


def test_text_examples_show_their_fields_and_image_files_are_embedded(tmp_path):
    from PIL import Image

    predictions, *_ = _run_dir(tmp_path, proba=False)
    Image.new("RGB", (3, 2), (255, 0, 0)).save(tmp_path / "red.png")
    ids = [f"r{i:02d}" for i in range(40)]
    pq.write_table(pa.table({"id": ids, "text": [f"review {i} & more" for i in range(40)],
                             "photo": ["red.png"] * 20 + [""] * 20}), tmp_path / "other.parquet")
    result = top_losses(predictions, manifest=tmp_path / "other.parquet")
    assert result["ranked_by"].startswith("id")  # no probabilities: the mistakes in id order
    assert [r["id"] for r in result["rows"]] == sorted(r["id"] for r in result["rows"])
    for row in result["rows"]:
        i = int(row["id"][1:])
        assert {"name": "text", "value": f"review {i} & more"} in row["fields"]
        if i < 20:
            png = (tmp_path / "red.png").read_bytes()
            assert row["image"] == "data:image/png;base64," + base64.b64encode(png).decode()
        else:
            assert row["image"] is None


def test_regression_rows_are_ranked_by_absolute_error(tmp_path):
    y_true = np.array([10.0, 20.0, 30.0, 40.0])
    y_pred = np.array([12.5, 5.25, 30.5, 41.0])
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "split": ["dev"] * 4, "y_true": y_true,
                             "y_pred": y_pred}), path)
    result = top_losses(path, n=3)
    assert [r["id"] for r in result["rows"]] == ["b", "a", "d"]
    assert [float(r["loss"]) for r in result["rows"]] == [14.75, 2.5, 1.0]
    assert math.isclose(float(result["rows"][0]["y_pred"]), 5.25)
    assert result["regression"] and result["n_mistakes"] == 4
    grid = _text(render_report(top_losses=result))
    assert "Largest dev errors" in grid and "The 3 worst of the 4 dev rows" in grid and "mistakes" not in grid


def test_no_mistake_no_grid(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": ["a"], "split": ["dev"], "y_true": ["1"], "y_pred": ["1"]}), path)
    assert top_losses(path) is None


def test_a_run_directory_report_shows_its_worst_mistakes(tmp_path):
    from mlstrat.report import report_inputs
    from mlstrat.runs import RunStore

    predictions, *_ = _run_dir(tmp_path)
    inputs = report_inputs(predictions.parent, store=RunStore(tmp_path / "runs.db"))
    assert "worst mistakes" in inputs.sections()
    page = render_report(**inputs.kwargs())
    assert page[page.index('id="top-losses"'):].count('<img src="data:image/png;base64,') == 12


def test_changes_in_a_metric_unit_keep_each_change_inside_its_interval():
    """RMSE 26.42 -> 28.96 is +2.54 [+2.21, +2.87], not "26 -> 29: +3" next to that interval."""
    rmse = {**DIAGNOSIS, "metric": {"name": "rmse", "kind": "rmse", "direction": "lower_is_better", "unit": "value"}}
    changes = [{"component": "variance", "before": 0.7947, "after": 0.6012, "change": -0.1935},
               {"component": "train_error", "before": 26.42, "after": 28.96, "change": 2.54,
                "ci_low": 2.21, "ci_high": 2.87, "verdict": "worse", "paired": False}]
    story = {"iterations": [{"name": "baseline", "run": "a", "diagnosis": rmse},
                            {"name": "weighted", "run": "b", "diagnosis": rmse}], "changes": changes}
    page = render_report(story=story)
    text = _text(page[page.index('id="story"'):])
    assert "train error 26.42 28.96 +2.54 [+2.21, +2.87] worse †" in text
    assert "variance +0.79 +0.60 -0.19 –" in text
