"""The tagging UI as a person first sees it, in headless Chromium at desktop and phone width,
on the sheets the two main flows write: `mlstrat demo`, and `train CONFIG` -> `errors sample
RUN/predictions.parquet` -> `errors ui SHEET` with no extra flags.

What is checked is what a person would look for: the digit is drawn (not an empty gap above
the id), nothing scrolls sideways on a phone, the page logs no error, and the counters read
0 before anything is marked."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.errors.test_ui_server import REPO, Server, _browser_or_skip, digits_sheet  # noqa: F401  (the fixture)

ARTIFACTS = REPO / "test-artifacts"
WIDTHS = (1280, 390)
# pixel images are drawn at the largest whole multiple of their side that fits in 224 px
DIGIT_SIDE = 8
DIGIT_DRAWN = 224


def _chromium(tmp_path: Path):
    chromium, chromedriver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--window-size=1280,1000",
                f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=tmp_path)}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def _viewport(driver, width: int, height: int) -> None:
    """Emulate a ``width`` x ``height`` CSS-pixel screen (headless windows have a minimum
    width above phone sizes)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _whole_page(driver, width: int) -> None:
    """Make the screen as tall as the page, so that a screenshot shows all of it."""
    _viewport(driver, width, driver.execute_script("return document.documentElement.scrollHeight"))


# Everything a person would check on the first screen, read in one script.
_FACTS = """
const root = document.documentElement;
const canvas = document.querySelector('#visual canvas.pixels');
let drawn = null;
if (canvas) {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const shades = new Set();
  for (let i = 0; i < data.length; i += 4) shades.add(data[i] + ',' + data[i + 1] + ',' + data[i + 2]);
  const box = canvas.getBoundingClientRect();
  drawn = {width: canvas.width, height: canvas.height, shown: [Math.round(box.width), Math.round(box.height)],
           shades: shades.size, right: box.right};
}
const visible = [...document.querySelectorAll('body *')].filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
});
const texts = visible.filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()));
return {
  inner: window.innerWidth,
  overflow: root.scrollWidth - root.clientWidth,
  too_wide: visible.filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                   .map(e => e.tagName + '#' + e.id + '.' + e.className),
  smallest_font: Math.min(...texts.map(e => parseFloat(getComputedStyle(e).fontSize))),
  digit: drawn,
  images: [...document.querySelectorAll('#visual img')].map(i => i.naturalWidth),
  id: document.getElementById('row-id').textContent,
  y_true: document.getElementById('y-true').textContent,
  y_pred: document.getElementById('y-pred').textContent,
  progress: document.getElementById('progress').textContent,
  reviewed: document.getElementById('summary-note').textContent,
  categories: [...document.querySelectorAll('#categories .cat')].map(b => b.dataset.name),
  on: document.querySelectorAll('#categories .on').length,
};
"""


def _first_screen(driver, url: str, width: int, png: Path) -> dict:
    """Open the UI at ``width`` CSS pixels, wait until the first example is drawn, screenshot it."""
    from selenium.webdriver.support.ui import WebDriverWait

    _viewport(driver, width, 1000)
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "const c = document.querySelector('#visual canvas.pixels, #visual img');"
        "return c !== null && (c.tagName === 'CANVAS' || (c.complete && c.naturalWidth > 0));"))
    facts = driver.execute_script(_FACTS)
    _whole_page(driver, width)  # the summary table under the example in the picture too
    ARTIFACTS.mkdir(exist_ok=True)
    for target in (png, ARTIFACTS / png.name):
        assert driver.save_screenshot(str(target))
    return facts


def _severe(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _check_first_screen(facts: dict, *, width: int, total: int, categories: list[str]) -> None:
    assert facts["inner"] == width
    # the digit itself: an 8 x 8 canvas, enlarged, with ink on it (not one flat colour)
    digit = facts["digit"]
    assert digit is not None, "no example drawn above the id"
    assert (digit["width"], digit["height"]) == (DIGIT_SIDE, DIGIT_SIDE)
    assert digit["shown"] == [DIGIT_DRAWN, DIGIT_DRAWN]
    assert digit["shades"] >= 3, digit
    assert digit["right"] <= width
    assert facts["images"] == []  # the digits are pixel columns, not image files
    assert facts["id"] and facts["y_true"] and facts["y_pred"] and facts["y_true"] != facts["y_pred"]
    # nothing is reviewed until it is marked: looking at the first example counts for nothing
    assert facts["progress"] == f"0 / {total}"
    assert facts["reviewed"] == f"0 of {total} reviewed"
    assert facts["categories"] == categories and facts["on"] == 0
    assert facts["overflow"] <= 0 and facts["too_wide"] == [], facts["too_wide"]
    assert facts["smallest_font"] >= 11, facts["smallest_font"]


def _look(sheet: Path, tmp_path: Path, name: str, categories: list[str], *, then=None) -> list[dict]:
    """The first screen of ``errors ui SHEET`` (no extra flags) at each width; ``then`` goes on
    from the last (the phone-width) page."""
    total = json.loads(Path(f"{sheet}.meta.json").read_text())["sample_size"]
    server = Server(sheet, "--port", "0")
    driver = _chromium(tmp_path)
    try:
        seen = []
        for width in WIDTHS:
            facts = _first_screen(driver, server.url, width, tmp_path / f"errors-ui-{name}-{width}px.png")
            _check_first_screen(facts, width=width, total=total, categories=categories)
            seen.append(facts)
        if then is not None:
            then(driver, total, tmp_path)
        assert _severe(driver) == []  # no script error, no CSP violation, no failed request
    finally:
        driver.quit()
        server.kill()
    return seen


@pytest.mark.browser
def test_console_errors_are_seen(tmp_path):
    """The console check above can fail: an error logged by a page is read back."""
    driver = _chromium(tmp_path)
    try:
        driver.get("data:text/html,<p>x</p>")
        driver.execute_script("console.error('broken on purpose')")
        assert any("broken on purpose" in e["message"] for e in _severe(driver))
    finally:
        driver.quit()


def _demo_sheet(out: Path) -> Path:
    """The sheet `mlstrat demo` writes, by the demo's own steps up to it: the digits manifest,
    the web/app split, the baseline network (fewer epochs: the sheet's layout does not depend
    on how well it learned) and the dev-error sheet. The rest of the demo (the mismatch
    analysis, synthesis, the second run, the report) does not touch the sheet."""
    from mlstrat._progress import Steps
    from mlstrat.runs import RunStore
    from mlstrat.scenarios import SCENARIOS, build_digits_manifest
    from mlstrat.scenarios import _demo

    with Steps(4, "demo", progress=False) as bar:
        ctx = _demo._Context(out=out, quick=True, human=SCENARIOS["mismatch"].human,
                             store=RunStore(out / ".mlstrat" / "runs.db"), bar=bar)
        manifest = _demo._write(build_digits_manifest(), ctx.path("manifest.parquet"))
        split_path = _demo._split(ctx, manifest, domain="domain", target="app")
        baseline = _demo._train(ctx, "baseline", split_path, optim={"epochs": 3})
        _demo._sheet(ctx, Path(baseline.run_dir) / "predictions.parquet")
    return Path(ctx.steps["error_sheet"]["sheet"])


@pytest.mark.browser
@pytest.mark.slow
def test_the_demos_sheet_shows_each_digit_at_desktop_and_phone_width(tmp_path):
    from mlstrat.scenarios._demo import SHEET_CATEGORIES

    (tmp_path / "demo").mkdir()
    sheet = _demo_sheet(tmp_path / "demo")
    assert sheet == tmp_path / "demo" / "dev_errors.csv"
    _look(sheet, tmp_path, "demo", list(SHEET_CATEGORIES), then=_tag_first_at_phone_width)


# a figure in the summary table, one line tall when it does not break
_SUMMARY_FIGURES = """
return [...document.querySelectorAll('#summary-body td:not(:first-child)')].map(td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  return [td.textContent, range.getClientRects().length];
});
"""


def _tag_first_at_phone_width(driver, total: int, tmp_path: Path) -> None:
    """Mark the first example: only then does it count, and the summary's figures (intervals
    such as "[3.2%, 100.0%]") stay on one line at 390 px instead of breaking after the comma."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    ActionChains(driver).send_keys("1").perform()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.body.dataset.pending === '0' &&"
        " document.getElementById('summary-note').textContent === arguments[0]", f"1 of {total} reviewed"))
    assert driver.find_element("id", "progress").text == f"1 / {total}"
    figures = driver.execute_script(_SUMMARY_FIGURES)
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(1, 1, alpha=0.05, method="wilson")  # the tagged category: 1 of 1
    assert f"[{100 * low:.1f}%, {100 * high:.1f}%]" in [text for text, _ in figures]
    assert [f for f in figures if f[1] != 1] == []
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    driver.save_screenshot(str(tmp_path / "errors-ui-demo-tagged-390px.png"))


@pytest.mark.browser
@pytest.mark.slow
def test_a_trained_runs_sheet_shows_each_digit_at_desktop_and_phone_width(tmp_path):
    from tests.errors.test_ui_example import trained_runs_sheet

    trained_runs_sheet(tmp_path, rows=12)
    _look(tmp_path / "sheet.csv", tmp_path, "train", [])


# Every summary cell as a person at that width sees it: its text, the number of lines it takes,
# and whether it lies inside the screen (not behind a sideways scroll).
_SUMMARY_CELLS = """
return [...document.querySelectorAll('#summary-body td')].map(td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const box = td.getBoundingClientRect();
  return [td.textContent, range.getClientRects().length, box.left >= 0 && box.right <= window.innerWidth];
});
"""


@pytest.mark.browser
def test_a_tagged_sheets_summary_is_readable_at_phone_width(digits_sheet, tmp_path):
    """Half the sample tagged, long category names: at 390 px every figure of the summary is on
    screen and on one line, written as `errors summarize` writes it (62.5%, not 62%)."""
    import pandas as pd

    from mlstrat.display._error_analysis import summary_rows
    from mlstrat.errors.ui._store import TagStore

    df = pd.read_csv(digits_sheet, dtype=str, keep_default_na=False)
    df["blurry"] = ["1", "1", "1", "1", "1", "", "", "", "", ""]
    df["thin stroke"] = ["1", "", "1", "", "", "1", "", "", "", ""]
    df["mislabeled"] = ["", "", "", "", "", "", "1", "", "", ""]
    df.to_csv(digits_sheet, index=False)
    store = TagStore(digits_sheet)  # the UI's own count: a row tagged in a spreadsheet was reviewed
    try:
        expected = summary_rows(store.summary().to_dict())["rows"]
    finally:
        store.close()
    server = Server(digits_sheet, "--port", "0")
    driver = _chromium(tmp_path)
    try:
        _viewport(driver, 390, 1000)
        driver.get(server.url)
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "return document.querySelector('#visual canvas.pixels') !== null"))
        cells = driver.execute_script(_SUMMARY_CELLS)
        shown = [[text for text, _, _ in cells[i:i + 6]] for i in range(0, len(cells), 6)]
        assert shown == [[r["name"], r["count"], r["share"], r["share_ci"], r["ceiling"], r["error_if_fixed"]]
                         for r in expected]
        assert shown[0][:3] == ["blurry", "5", "71.4%"]  # 5 of the 7 reviewed, one decimal as in the terminal
        assert [c for c in cells if not c[2]] == [], "a summary figure lies off the screen"
        assert [c for i, c in enumerate(cells) if i % 6 and c[1] != 1] == [], "a figure breaks across lines"
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        _whole_page(driver, 390)
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "errors-ui-tagged-390px.png"))
        assert _severe(driver) == []
    finally:
        driver.quit()
        server.kill()
