"""The demo's report as a person sees it, in headless Chromium at a desktop and a phone width:
the story with both verdicts, the worst mistakes' images drawn, nothing wider than the screen."""

import pytest

from tests.report.test_browser import ARTIFACTS, _require_browser, driver  # noqa: F401  (the fixture)

# The elements wider than the viewport that no scrolling box of the page holds: what a
# person would have to scroll the whole page sideways to read.
_OVERFLOW = """
const width = document.documentElement.clientWidth;
const scrolls = e => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX);
const loose = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.right <= width + 1) continue;
  let box = e.parentElement;
  while (box && !(scrolls(box) && box.getBoundingClientRect().right <= width + 1)) box = box.parentElement;
  if (!box) loose.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(r.right) + 'px');
}
return {loose: loose.slice(0, 10), scroll: document.documentElement.scrollWidth - width};
"""

_IMAGES = """
return [...document.querySelectorAll('#top-losses img')].map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from mlstrat.scenarios import run_demo

    return run_demo("mismatch", out=tmp_path_factory.mktemp("demo"), quick=True, progress=False)


@pytest.mark.browser
@pytest.mark.slow
def test_demo_report_at_desktop_and_phone_width(request, demo):
    _require_browser()
    drv = request.getfixturevalue("driver")
    first, last = demo.iterations[0].diagnosis["verdict"], demo.iterations[-1].diagnosis["verdict"]
    assert first != last  # the story has two different verdicts to show
    for width in (1280, 390):
        drv.set_window_size(width, 1000)
        drv.get(f"file://{demo.report}")
        story = drv.find_element("id", "story").text
        assert first in story and last in story, width
        assert story.index(first) < story.index("ACTION TAKEN") < story.index(last)
        images = drv.execute_script(_IMAGES)
        assert len(images) == 12 and all(done and w > 0 and h > 0 for done, w, h in images), images
        overflow = drv.execute_script(_OVERFLOW)
        assert overflow == {"loose": [], "scroll": 0}, (width, overflow)
        assert drv.execute_script("return performance.getEntriesByType('resource').length") == 0
        height = drv.execute_script("return document.documentElement.scrollHeight")
        drv.set_window_size(width, height)
        ARTIFACTS.mkdir(exist_ok=True)
        assert drv.save_screenshot(str(ARTIFACTS / f"demo-report-{width}.png"))
