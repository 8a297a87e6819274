"""The report in a real browser: headless Chromium renders it offline to a PNG (kept as an artifact)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from mlstrat.report import render_report
from mlstrat.runs import RunStore
from tests.report.fixtures import DIAGNOSIS, ERROR_SUMMARY, HISTORY, METRICS, improved_diagnosis

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# overridable for machines that keep them elsewhere
CHROMIUM = os.environ.get("MLSTRAT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("MLSTRAT_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTH = 1280


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"headless Chromium unavailable (missing: {', '.join(missing)}); run `make browser`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mlstrat-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
                 f"--window-size={WIDTH},1000", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _screenshot(drv, page: Path, png: Path) -> dict:
    drv.get(page.as_uri())
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(WIDTH, height + 200)
    facts = drv.execute_script("""
        const svgs = [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect());
        return {
          resources: performance.getEntriesByType('resource').map(e => e.name),
          svgs: svgs.map(r => [Math.round(r.width), Math.round(r.height)]),
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          title: document.title,
          height: document.documentElement.scrollHeight,
        };""")
    ARTIFACTS.mkdir(exist_ok=True)
    assert drv.save_screenshot(str(png))
    return facts


@pytest.mark.browser
def test_report_renders_in_headless_chromium(request, tmp_path):
    _require_browser()  # in the test body, so that a missing browser under CI is a failure
    driver = request.getfixturevalue("driver")
    store = RunStore(tmp_path / "runs.db")
    store.record("train", config={"regularization": {"keep_prob": 1.0}}, diagnosis=DIAGNOSIS,
                 metrics=METRICS, note="baseline")
    store.record("train", config={"regularization": {"keep_prob": 1.0}, "data": {"synth": "blur,noise"}},
                 diagnosis=improved_diagnosis(), metrics=METRICS, note="synthesized app-like data")
    page = tmp_path / "report.html"
    render_report(runs=store.list(), history=HISTORY, error_summary=ERROR_SUMMARY,
                  title="Digits: web -> app", output=page)

    png = ARTIFACTS / "report.png"
    facts = _screenshot(driver, page, png)

    assert facts["title"] == "Digits: web -> app"
    assert facts["resources"] == []          # nothing fetched: not a font, not an image
    assert facts["overflow"] <= 0            # no horizontal scrolling at 1280 px
    assert len(facts["svgs"]) == 5
    assert all(w >= 300 and h >= 150 for w, h in facts["svgs"]), facts["svgs"]

    from PIL import Image

    image = Image.open(png).convert("RGB")
    assert image.size[0] == WIDTH and image.size[1] >= facts["height"]
    # a real page, not a blank one: many colours, and the hero band is dark
    colours = image.resize((320, image.size[1] // 4)).getcolors(maxcolors=1 << 20)
    assert len(colours) > 500
    assert sum(image.getpixel((40, 40))) < 200


@pytest.mark.browser
def test_minimal_report_renders(request, tmp_path):
    _require_browser()
    driver = request.getfixturevalue("driver")
    page = tmp_path / "small.html"
    render_report(diagnosis=DIAGNOSIS, output=page)
    facts = _screenshot(driver, page, ARTIFACTS / "report-diagnosis-only.png")
    assert facts["resources"] == [] and facts["overflow"] <= 0
    assert len(facts["svgs"]) == 1


@pytest.mark.browser
def test_report_at_phone_width_never_scrolls_sideways(request, tmp_path):
    """At 390 px charts scroll inside their cards and a table row reads as "column  value" lines:
    the page itself does not scroll sideways, no card is pushed wider than the screen, every
    table figure is on screen, and chart text keeps a readable size."""
    _require_browser()
    driver = request.getfixturevalue("driver")
    page = tmp_path / "report.html"
    render_report(diagnosis=DIAGNOSIS, metrics=METRICS, history=HISTORY, error_summary=ERROR_SUMMARY,
                  output=page)
    driver.set_window_size(390, 900)
    driver.get(page.as_uri())
    facts = driver.execute_script("""
        const root = document.documentElement;
        const cards = [...document.querySelectorAll('section.card, .kpi, .verdict-card')];
        return {
          overflow: root.scrollWidth - root.clientWidth,
          wide_cards: cards.filter(c => c.getBoundingClientRect().right > root.clientWidth + 1).length,
          svg_widths: [...document.querySelectorAll('.figure:not(.narrow) svg')]
                        .map(s => Math.round(s.getBoundingClientRect().width)),
          // a figure of a table that lies off the screen is one a person never sees
          hidden_cells: [...document.querySelectorAll('td')].filter(td => {
            const r = td.getBoundingClientRect();
            return r.width > 0 && (r.left < 0 || r.right > root.clientWidth + 1);
          }).map(td => td.dataset.label + ': ' + td.textContent.trim()),
          unlabelled: [...document.querySelectorAll('section.card td:not(:first-child)')]
                        .filter(td => !td.dataset.label).length,
        };""")
    assert facts["overflow"] <= 0 and facts["wide_cards"] == 0, facts
    assert facts["hidden_cells"] == [] and facts["unlabelled"] == 0, facts
    assert facts["svg_widths"] and min(facts["svg_widths"]) >= 560, facts  # scrolled, not shrunk
