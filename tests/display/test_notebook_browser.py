"""The quickstart notebook as a reader sees it: executed by a real kernel, exported to HTML,
opened in headless Chromium at 1280 and 390 px.

A reader checks that each result shows mlstrat's own view (a titled table, never a raw dict or
a traceback), that the diagnosis says its verdict, that intervals read [low, high] with their
unit, and that nothing spills out of its output cell."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import mlstrat
from tests.conftest import _skip_or_fail
from tests.errors.test_ui_browser_flows import ARTIFACTS, _chromium, _severe, _viewport, _whole_page

REPO = Path(__file__).resolve().parents[2]
SRC = str(Path(mlstrat.__file__).resolve().parents[1])
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
# the results the quickstart shows, in order, each in mlstrat's titled box
BOXES = ["Split", "Diagnosis", "Metrics", "Error analysis", "Run comparison"]
NUMBER = r"[+-]?\d+(?:\.\d+)?"
# every interval is [low, high], in % for rates, in pts for components and changes
INTERVAL = re.compile(rf"^\[{NUMBER}%, {NUMBER}%\]$|^\[{NUMBER}, {NUMBER}\] pts$")
# the lab template, without the scripts it fetches from a CDN (require.js, MathJax, mermaid):
# the page is read offline, like every page mlstrat writes
OFFLINE_TEMPLATE = (
    "{%- extends 'lab/index.html.j2' -%}"
    "{% block html_head_js %}{% endblock html_head_js %}"
    "{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}"
    "{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}"
)


def _execute(tmp_path: Path, monkeypatch):
    """Run every cell in a kernel of this Python, talking over Unix sockets in ``tmp_path``
    (no TCP port is picked in advance), with Jupyter's and IPython's files kept there too."""
    try:  # the test extra installs them: under CI a missing one fails instead of skipping
        import ipykernel  # noqa: F401
        import nbclient
        import nbformat
        from jupyter_client import KernelManager
    except ImportError as exc:
        _skip_or_fail(f"Jupyter is not installed ({exc})", tests="the notebook tests")

    for name in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
        folder = tmp_path / "jupyter" / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is the kernel of the running interpreter: jupyter_client starts sys.executable
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"),
                       connection_file=str(tmp_path / "kernel.json"))
    client = nbclient.NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        # nbclient shuts down only the kernels it made itself: this one is ours to stop
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def _export(nb, page: Path) -> None:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_name="lab", template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    page.write_text(body, encoding="utf-8")


# What a reader looks at, read from the page in one script.
_FACTS = """
const root = document.documentElement;
const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
const boxes = [...document.querySelectorAll('.mlstrat-nb')];
const oneLine = td => { const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length <= 1; };
return {
  resources: performance.getEntriesByType('resource').map(e => e.name),
  overflow: root.scrollWidth - root.clientWidth,
  outputs: outputs.map(o => o.innerText),
  spilled: outputs.flatMap(o => [...o.querySelectorAll('table')]
    .filter(t => t.getBoundingClientRect().right > o.getBoundingClientRect().right + 0.5 || o.scrollWidth > o.clientWidth)
    .map(t => t.innerText.slice(0, 40))),
  titles: boxes.map(b => b.querySelector(':scope > strong').innerText),
  verdict: [...document.querySelectorAll('.mlstrat-nb .verdict')].map(v => v.innerText),
  intervals: boxes.flatMap(b => [...b.querySelectorAll('table')].flatMap(t => {
    const col = [...t.querySelectorAll('thead th')].findIndex(th => th.innerText === '95% CI');
    return col < 0 ? [] : [...t.querySelectorAll('tbody tr')].map(tr => tr.children[col].innerText);
  })),
  broken_figures: boxes.flatMap(b => [...b.querySelectorAll('td:not(:first-child)')].filter(td => !oneLine(td)).map(td => td.innerText)),
  boxes_past_screen: boxes.filter(b => b.getBoundingClientRect().right > root.clientWidth + 0.5).length,
  chart_widths: [...document.querySelectorAll('.mlstrat-nb svg')].map(s => Math.round(s.getBoundingClientRect().width)),
};
"""


def _open(driver, page: Path, width: int) -> dict:
    _viewport(driver, width, 1000)
    driver.get(page.as_uri())  # a file page: the load has finished when get returns
    _whole_page(driver, width)
    facts = driver.execute_script(_FACTS)
    ARTIFACTS.mkdir(exist_ok=True)
    for target in (page.with_name(f"quickstart-{width}px.png"), ARTIFACTS / f"quickstart-{width}px.png"):
        assert driver.save_screenshot(str(target))
    return facts


def _check_outputs(nb) -> str:
    """The executed cells themselves: no error, nothing on stderr, mlstrat's view for each
    result; returns the verdict the plain repr printed."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o for o in outputs if o.output_type == "error"] == []
    assert [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []
    shown = [o.data for o in outputs if o.output_type == "execute_result"]
    ours = [d for d in shown if 'class="mlstrat-nb"' in d.get("text/html", "")]
    assert len(ours) == len(BOXES)
    assert all(d["text/plain"].startswith("<") for d in ours)  # the short repr, not a dict
    printed = "".join(o.text for o in outputs if o.output_type == "stream")
    first, verdict = printed.splitlines()[:2]
    assert first.startswith("<Diagnosis principal_problem=")
    return verdict


@pytest.mark.browser
@pytest.mark.slow
def test_quickstart_notebook_reads_right_in_chromium(tmp_path, monkeypatch):
    driver = _chromium(tmp_path)  # fails under CI when Chromium is missing, skips elsewhere
    try:
        nb = _execute(tmp_path, monkeypatch)
        verdict = _check_outputs(nb)
        page = tmp_path / "quickstart.html"
        _export(nb, page)
        wide, narrow = (_open(driver, page, width) for width in (1280, 390))
        assert _severe(driver) == []
    finally:
        driver.quit()

    assert re.fullmatch(r"[A-Z][a-z ]+ is the principal problem \(\d+\.\d pts, [a-z -]+ to [a-z -]+\)\.", verdict)
    for facts in (wide, narrow):
        assert facts["resources"] == []  # nothing fetched: no CDN script, font or image
        assert facts["titles"] == BOXES
        assert facts["verdict"] == [verdict]
        text = "\n".join(facts["outputs"])
        assert not re.search(r"\{'\w+': ", text), "a raw dict is shown"
        assert "Traceback" not in text and not re.search(r"\b\w*Error:", text)
        assert facts["intervals"] and all(INTERVAL.match(i) or i == "-" for i in facts["intervals"]), \
            facts["intervals"]
        assert not re.search(rf"±|{NUMBER}%?\s*(?:\.\.|–)\s*{NUMBER}", text)  # no other interval form
        assert facts["overflow"] <= 0
    assert wide["spilled"] == []  # every table fits its output cell at 1280 px
    # on a phone: figures keep to one line and the page does not scroll sideways (a wide table
    # or chart scrolls inside its box); the chart keeps a readable size instead of shrinking
    assert narrow["broken_figures"] == [] and narrow["boxes_past_screen"] == 0, narrow["broken_figures"]
    assert narrow["chart_widths"] and min(narrow["chart_widths"]) >= 560, narrow["chart_widths"]
