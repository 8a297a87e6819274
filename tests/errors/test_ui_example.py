"""Showing the example while tagging: columns joined back by id, the layout of a row, the
numbers written for people, and the page in headless Chromium at phone width."""

from __future__ import annotations

import json
import math
import tempfile
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.errors import sample_errors
from mlstrat.errors._context import parse_image_shape
from mlstrat.errors.ui._example import format_confidence, format_number, layout_columns, render_example
from tests.errors.test_ui_server import REPO, Server, _browser_or_skip


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.827786, "0.8278"),
        (1234.5678, "1235"),
        (3.564199924468994, "3.564"),
        (0.000123456, "0.0001235"),
        (16.0, "16"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (1.23e20, "1.230e+20"),
    ],
)
def test_format_number_four_significant_digits(value, expected):
    assert format_number(value) == expected


def test_confidence_is_two_decimals():
    assert format_confidence("0.827786") == "0.83"
    assert format_confidence("") == ""


@pytest.mark.parametrize("text, shape", [("8x8", (8, 8)), ("1x28x28", (1, 28, 28)), ("3,32,32", (3, 32, 32)),
                                         ([1, 8, 8], (1, 8, 8)), (None, None)])
def test_parse_image_shape(text, shape):
    assert parse_image_shape(text) == shape


def test_bad_image_shape_names_the_fix():
    with pytest.raises(ConfigError, match=r"image shape: '2x8x8' is not H x W or C x H x W with C = 1 or 3; "
                                          "give e.g. 8x8, 1x28x28 or 3x32x32"):
        parse_image_shape("2x8x8")


def _manifest(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(n),
        "split": np.where(np.arange(n) < 40, "train", "dev"),
        "label": rng.integers(0, 2, n),
        "path": [f"img/{i}.png" for i in range(n)],
        "review": [f"a long review number {i} that says quite a lot about the product" for i in range(n)],
        "age": rng.normal(40, 10, n).round(1),
        "income": rng.lognormal(10, 1, n),
    })


def _bare_predictions(manifest: pd.DataFrame) -> pd.DataFrame:
    pred = manifest.label.to_numpy().copy()
    pred[40::2] = 1 - pred[40::2]  # half the dev rows wrong
    return pd.DataFrame({"id": manifest.id, "split": manifest.split, "y_true": manifest.label, "y_pred": pred})


def test_manifest_columns_join_back_by_id_with_train_zscores(tmp_path):
    manifest = _manifest()
    manifest.to_parquet(tmp_path / "split.parquet")
    _bare_predictions(manifest).to_csv(tmp_path / "preds.csv", index=False)
    sample_errors(tmp_path / "preds.csv", n=5, output=tmp_path / "sheet.csv", manifest=tmp_path / "split.parquet")
    sheet = pd.read_csv(tmp_path / "sheet.csv")
    assert list(sheet.columns) == ["id", "y_true", "y_pred", "path", "review", "age", "income", "comment"]
    by_id = manifest.set_index("id")
    for _, r in sheet.iterrows():
        assert r.path == by_id.loc[r.id, "path"] and r.review == by_id.loc[r.id, "review"]
    meta = json.loads((tmp_path / "sheet.csv.meta.json").read_text())
    train = manifest[manifest.split == "train"]
    assert meta["manifest"] == str(tmp_path / "split.parquet")
    assert meta["feature_stats"]["age"] == pytest.approx([train.age.mean(), train.age.std(ddof=0)])
    assert meta["feature_stats"]["income"] == pytest.approx([train.income.mean(), train.income.std(ddof=0)])


def test_manifest_with_duplicate_ids_is_a_clear_error(tmp_path):
    manifest = _manifest()
    pd.concat([manifest, manifest.head(1)]).to_csv(tmp_path / "split.csv", index=False)
    _bare_predictions(manifest).to_csv(tmp_path / "preds.csv", index=False)
    with pytest.raises(InputError, match=r"split\.csv: id '0' appears 2 times; the manifest must have one row "
                                         "per id to join its columns back"):
        sample_errors(tmp_path / "preds.csv", n=5, output=tmp_path / "s.csv", manifest=tmp_path / "split.csv")


def test_run_directory_config_gives_manifest_and_image_shape(tmp_path):
    rng = np.random.default_rng(1)
    n = 50
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "split": ["train"] * 30 + ["dev"] * 20,
                          "label": rng.integers(0, 3, n)})
    for i in range(12):  # a 3 x 4 image
        frame[f"px_{i}"] = rng.random(n)
    frame.to_parquet(tmp_path / "split.parquet")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(f'[data]\nmanifest = "{tmp_path / "split.parquet"}"\n'
                                     'feature_prefix = "px_"\nimage_shape = [1, 3, 4]\n')
    preds = frame[["id", "split"]].assign(y_true=frame.label, y_pred=(frame.label + 1) % 3)
    preds.to_parquet(run / "predictions.parquet")
    sample_errors(run / "predictions.parquet", n=4, output=tmp_path / "sheet.csv")
    meta = json.loads((tmp_path / "sheet.csv.meta.json").read_text())
    assert meta["image_shape"] == [1, 3, 4]
    assert meta["image_features"] == [f"px_{i}" for i in range(12)]
    assert "label" not in pd.read_csv(tmp_path / "sheet.csv").columns  # y_true already says it

    from mlstrat.errors.ui import TagStore

    store = TagStore(tmp_path / "sheet.csv")
    layout = layout_columns(store.fixed, store.rows(), store.meta)
    assert layout.pixels == tuple(f"px_{i}" for i in range(12)) and layout.shape == (1, 3, 4)
    store.close()


@pytest.mark.parametrize("data, joined", [
    ("manifest = 3", False), ("id = 1\nmanifest = '{m}'", True), ("label = [1]\nmanifest = '{m}'", True),
    ("feature_prefix = 1\nimage_shape = '2x2'", False), ("features = 3\nimage_shape = '2x2'", False),
    ("features = [1, 2]\nimage_shape = '2x2'", False), ("image_shape = '2x8x8'", False)])
def test_a_config_beside_the_predictions_with_odd_values_is_left_out(tmp_path, data, joined):
    # any config.toml beside the predictions is read for the manifest and image shape, as a
    # nicety: a value of another type there used to stop the sample with a TypeError traceback
    manifest = _manifest()
    manifest.to_parquet(tmp_path / "split.parquet")
    _bare_predictions(manifest).to_csv(tmp_path / "preds.csv", index=False)
    (tmp_path / "config.toml").write_text("[data]\n" + data.format(m=tmp_path / "split.parquet") + "\n")
    result = sample_errors(tmp_path / "preds.csv", n=3, output=tmp_path / "sheet.csv")
    assert result.sample_size == 3
    shown = ["path", "review", "age", "income"] if joined else []  # the odd id or label falls back to the default
    assert list(pd.read_csv(tmp_path / "sheet.csv").columns) == ["id", "y_true", "y_pred", *shown, "comment"]
    if "2x8x8" in data:  # not an image shape: no image, rather than an error
        assert json.loads((tmp_path / "sheet.csv.meta.json").read_text())["image_shape"] is None


def test_layout_and_zscores_of_a_row():
    rows = [{"cells": {"id": str(i), "y_true": "a", "y_pred": "b", "confidence": "0.912345",
                       "photo": f"x/{i}.jpg", "clip": f"a/{i}.wav", "note": "short",
                       "review": "w " * 30, "f1": str(float(i)), "f2": str(10.0 * i)}} for i in range(5)]
    fixed = list(rows[0]["cells"])
    meta = {"feature_stats": {"f1": [1.0, 0.5], "f2": [20.0, 100.0]}}
    layout = layout_columns(fixed, rows, meta)
    assert (layout.images, layout.audio, layout.texts) == (("photo",), ("clip",), ("review",))
    assert layout.features == ("f1", "f2") and layout.fields == ("note",)
    shown = render_example(layout, rows[4]["cells"], meta)
    assert shown["confidence"] == "0.91"
    f1, f2 = shown["features"]
    assert f1 == {"column": "f1", "value": "4", "z": 6.0, "unusual": True}  # (4 - 1) / 0.5
    assert f2 == {"column": "f2", "value": "40", "z": 0.2, "unusual": False}


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, rgb)


def _write_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(8000) / 8000
    samples = (0.3 * np.sin(2 * math.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


@pytest.fixture
def rich_sheet(tmp_path):
    """A sheet whose rows have an image file, an audio clip, long text, pixels and features."""
    rng = np.random.default_rng(0)
    n = 30
    frame = pd.DataFrame({"id": [f"ex-{i:02d}" for i in range(n)], "split": ["train"] * 20 + ["dev"] * 10,
                          "y_true": ["cat"] * n, "y_pred": ["cat"] * 20 + ["dog"] * 10,
                          "proba_cat": rng.random(n)})
    frame["proba_dog"] = 1 - frame.proba_cat
    frame["photo"] = [f"img/{i}.png" for i in range(n)]
    frame["clip"] = [f"audio/{i}.wav" for i in range(n)]
    frame["transcript"] = ["the quick brown fox jumps over the lazy dog. " * 12] * n
    frame["heart_rate"] = np.r_[rng.normal(70, 5, 20), [140.0] * 10]  # unusual in dev
    frame["weight_kg"] = rng.normal(70, 10, n)
    for i in range(64):
        frame[f"px_{i}"] = [16.0 * ((i // 8 + i % 8 + k) % 2) for k in range(n)]
    for i in range(20, n):
        _write_png(tmp_path / f"img/{i}.png", rng.random((24, 32, 3)))
        _write_wav(tmp_path / f"audio/{i}.wav")
    frame.to_parquet(tmp_path / "preds.parquet")
    out = tmp_path / "sheet.csv"
    sample_errors(tmp_path / "preds.parquet", n=10, categories="blurry,noisy", output=out, image_shape="8x8")
    return out


@pytest.mark.browser
@pytest.mark.slow
def test_example_rendered_in_chromium_at_420px(rich_sheet, tmp_path):
    chromium, chromedriver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--window-size=420,1400",
                f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=tmp_path)}"):
        opts.add_argument(arg)
    server = Server(rich_sheet)
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    try:
        # a phone-sized viewport (headless windows have a minimum width above 420 px)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 420, "height": 1400, "deviceScaleFactor": 1, "mobile": False})
        driver.get(server.url)
        assert driver.execute_script("return window.innerWidth") == 420
        wait = WebDriverWait(driver, 20)
        wait.until(lambda d: d.execute_script(
            "var i = document.querySelector('#visual img'); return i && i.complete && i.naturalWidth > 0;"))
        assert driver.execute_script("return document.querySelector('#visual img').naturalWidth") == 32
        audio = driver.find_element(By.CSS_SELECTOR, "#visual audio")
        wait.until(lambda d: d.execute_script("return arguments[0].readyState >= 1", audio))
        assert driver.execute_script("return arguments[0].duration", audio) == pytest.approx(1.0, abs=0.01)
        canvas = driver.find_element(By.CSS_SELECTOR, "canvas.pixels")
        assert (canvas.get_attribute("width"), canvas.get_attribute("height")) == ("8", "8")
        body = driver.find_element(By.CSS_SELECTOR, "#texts .text-body")
        assert driver.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight", body)
        unusual = driver.find_elements(By.CSS_SELECTOR, "#features tr.unusual th")
        assert [th.text for th in unusual] == ["heart_rate"]
        assert driver.find_element(By.ID, "confidence").text.startswith("confidence 0.")
        assert len(driver.find_element(By.ID, "confidence").text) == len("confidence 0.83")
        # usable at 420 px: nothing wider than the window
        too_wide = driver.execute_script(
            "return Array.from(document.querySelectorAll('body *'))"
            ".filter(function (e) { return e.getBoundingClientRect().right > window.innerWidth + 0.5; })"
            ".map(function (e) { return e.tagName + '#' + e.id + '.' + e.className + ' ' +"
            " Math.round(e.getBoundingClientRect().right); });")
        assert too_wide == []
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 420
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        driver.save_screenshot(str(artifacts / "errors-ui-example-420px.png"))
        assert driver.get_log("browser") == []
    finally:
        driver.quit()
        server.kill()


def test_a_trained_runs_sheet_shows_each_digit_with_no_flags(tmp_path):
    """The main flow: `train CONFIG` -> `errors sample RUN/predictions.parquet` -> the UI. The
    sheet finds the manifest and image shape in the run's resolved config by itself."""
    from mlstrat.errors.ui import TagStore

    trained_runs_sheet(tmp_path, rows=5)
    meta = json.loads((tmp_path / "sheet.csv.meta.json").read_text())
    assert meta["manifest"] == str((tmp_path / "split.parquet").resolve())
    assert meta["image_shape"] == [1, 8, 8]
    store = TagStore(tmp_path / "sheet.csv")
    try:
        rows = store.rows()
        layout = layout_columns(store.fixed, rows, store.meta)
        shown = render_example(layout, rows[0]["cells"], store.meta)
    finally:
        store.close()
    assert shown["pixels"]["shape"] == [1, 8, 8] and len(shown["pixels"]["values"]) == 64


def trained_runs_sheet(tmp_path, *, rows: int) -> None:
    """The main flow with no flags: `train CONFIG` on the digits (pixel columns, image shape in the
    config) -> `errors sample RUN/predictions.parquet`, writing tmp_path/sheet.csv."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from mlstrat.cli import app
    from tests.nn.conftest import split_digits

    pq.write_table(split_digits(), tmp_path / "split.parquet")
    (tmp_path / "config.toml").write_text(
        '[data]\nmanifest = "split.parquet"\nfeature_prefix = "px_"\nimage_shape = [1, 8, 8]\n'
        "[model]\nhidden = [16]\n[optim]\nepochs = 1\nbatch_size = 128\nlr = 0.01\n")
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(tmp_path / "config.toml"), "-o", str(tmp_path / "run"),
                                  "--no-record"])
    assert trained.exit_code == 0, trained.output
    sampled = runner.invoke(app, ["errors", "sample", str(tmp_path / "run" / "predictions.parquet"),
                                  "-n", str(rows), "-o", str(tmp_path / "sheet.csv")])
    assert sampled.exit_code == 0, sampled.output
