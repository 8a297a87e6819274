import copy
import re
import subprocess
import sys

import pytest

import mlstrat
from mlstrat import ConfigError, InputError
from mlstrat.report import render_report
from mlstrat.runs import RunStore
from tests.report.fixtures import DIAGNOSIS, ERROR_SUMMARY, HISTORY, METRICS, diagnosis, improved_diagnosis

# anything a browser would fetch: src/href/xlink:href to a URL, CSS @import or url() to a URL,
# <link>, <script src>, <iframe>, <object>, <embed>, <base>
EXTERNAL = [
    re.compile(r"""\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//", re.I),
    re.compile(r"<link\b", re.I),
    re.compile(r"<script\b[^>]*\bsrc\s*=", re.I),
    re.compile(r"<(?:iframe|object|embed|base)\b", re.I),
]


def external_references(html: str) -> list[str]:
    return [m.group(0) for pattern in EXTERNAL for m in pattern.finditer(html)]


@pytest.fixture(scope="module")
def full_html(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("store") / "runs.db")
    store.record("train", config={"regularization": {"keep_prob": 1.0}}, diagnosis=DIAGNOSIS,
                 metrics=METRICS, note="baseline")
    store.record("train", config={"regularization": {"keep_prob": 1.0}, "data": {"synth": "blur,noise"}},
                 diagnosis=improved_diagnosis(), metrics=METRICS, note="synthesized app-like data")
    return render_report(runs=store.list(), history=HISTORY, error_summary=ERROR_SUMMARY,
                         title="Digits: web -> app")


def test_the_checker_catches_external_references():
    for bad in ['<img src="https://x.org/a.png">', "<a href='//cdn.x/y'>", '<link rel="stylesheet" href="a.css">',
                "<style>@import 'x.css';</style>", "<div style=\"background:url(http://x/y.png)\">",
                '<script src="app.js"></script>', '<use xlink:href="http://x/y#z"/>']:
        assert external_references(bad), bad


def test_full_report_is_self_contained(full_html):
    assert full_html.startswith("<!DOCTYPE html>")
    assert external_references(full_html) == []
    assert "<?xml" not in full_html and "<!DOCTYPE svg" not in full_html and "<metadata>" not in full_html
    assert "<script" not in full_html


def test_full_report_has_every_section(full_html):
    for section in ["decomposition", "errors", "actions", "learning-curves", "confusion", "error-analysis",
                    "history"]:
        assert f'id="{section}"' in full_html, section
    # one inline chart each: staircase, learning curves, confusion, error analysis, history
    assert full_html.count("<svg") == 5
    assert "Avoidable bias is now the largest component." in full_html
    assert "Synthesize app-like training data" in full_html
    assert "data mismatch +7.8 pts → +1.6 pts after synth blur,noise" in full_html
    assert "best epoch <b>14</b>" in full_html
    assert "0.67%</b> is due to incorrect labels" in full_html


def test_svg_ids_are_unique_across_charts(full_html):
    ids = re.findall(r'\bid="([^"]+)"', full_html)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'href="#([^"]+)"', full_html)) | set(re.findall(r"url\(#([^)]+)\)", full_html))
    assert refs <= set(ids)


def test_text_is_escaped():
    d = diagnosis(verdict="<script>alert(1)</script> & more")
    html = render_report(diagnosis=d)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_partial_inputs_render_only_their_sections():
    html = render_report(diagnosis=DIAGNOSIS)
    assert 'id="decomposition"' in html and 'id="learning-curves"' not in html
    assert 'id="confusion"' not in html and 'id="history"' not in html
    html = render_report(history=HISTORY)
    assert 'id="learning-curves"' in html and 'id="decomposition"' not in html
    html = render_report(metrics=METRICS)
    assert 'id="confusion"' in html and 'id="errors"' in html
    html = render_report(error_summary=ERROR_SUMMARY)
    assert 'id="error-analysis"' in html


def test_without_train_dev_and_with_null_components():
    d = copy.deepcopy(DIAGNOSIS)
    del d["errors"]["train_dev"]
    d["components"]["variance"].update(**{"from": "train", "to": "dev"}, value=0.091)
    d["components"]["data_mismatch"].update(value=None, ci_low=None, ci_high=None, significant=False)
    d["human_level"]["assumed"] = True
    html = render_report(diagnosis=d)
    assert "not computable" in html
    assert external_references(html) == []


def test_staircase_levels_follow_the_components():
    from mlstrat.display._sections import staircase_levels as _levels

    levels = _levels(DIAGNOSIS)
    assert [(lv["name"], lv["component"]) for lv in levels] == [
        ("human", None), ("train", "avoidable_bias"), ("train_dev", "variance"),
        ("dev", "data_mismatch"), ("test", "dev_overfitting")]
    assert [lv["value"] for lv in levels] == [0.005, 0.021, 0.034, 0.112, 0.118]


def test_writes_the_output(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    html = render_report(diagnosis=DIAGNOSIS, output=out)
    assert out.read_text(encoding="utf-8") == html
    with pytest.raises(InputError, match="the folder .*missing does not exist"):
        render_report(diagnosis=DIAGNOSIS, output=tmp_path / "missing" / "r.html")


def test_nothing_to_report():
    with pytest.raises(ConfigError, match="nothing to report: give a diagnosis"):
        render_report()


def test_bad_confusion_matrix():
    metrics = copy.deepcopy(METRICS)
    metrics["splits"]["dev"]["confusion"]["matrix"] = [[1, 2]]
    with pytest.raises(InputError, match=r"the dev confusion matrix is not square .*\(10 labels, 1 rows\)"):
        render_report(metrics=metrics)


def test_runs_as_dicts_are_accepted():
    runs = [{"id": "a" * 12, "seq": 1, "diagnosis": DIAGNOSIS}, {"id": "b" * 12, "seq": 2, "diagnosis": improved_diagnosis()}]
    html = render_report(runs=runs)
    assert 'id="history"' in html and "Avoidable bias is now" in html


def test_public_name_and_light_import():
    assert mlstrat.render_report is render_report
    code = ("import sys, mlstrat.report, mlstrat.runs; "
            "print(' '.join(m for m in ('torch', 'matplotlib', 'jinja2', 'duckdb', 'ibis', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_rendering_never_imports_torch():
    code = ("import sys; from mlstrat.report import render_report; from tests.report.fixtures import *; "
            "render_report(diagnosis=DIAGNOSIS, metrics=METRICS, history=HISTORY); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_f1_diagnosis_without_human_level():
    from mlstrat.display._sections import staircase_levels as _levels

    d = diagnosis(metric="f1", human_level=None)
    d["components"]["avoidable_bias"].update(value=None, ci_low=None, ci_high=None, significant=False)
    assert [lv["name"] for lv in _levels(d)] == ["train", "train_dev", "dev", "test"]
    html = render_report(diagnosis=d)
    assert "1 - F1 diagnosis" in html and "<th class=\"num\">1 - F1</th>" in html
    assert html.count("<svg") == 1


def test_learning_rate_and_gradient_health_are_drawn():
    epochs = [{"epoch": e, "train_cost": 1.0 / e, "dev_cost": 1.2 / e, "train_error": 0.1, "dev_error": 0.12,
               "lr": 0.1 * 0.95 ** (e - 1),
               "layers": {"hidden.0": {"grad_norm": 1e-6 * e, "weight_norm": 5.0, "update_ratio": 1e-3, "size": 64},
                          "head": {"grad_norm": 0.3, "weight_norm": 3.0, "update_ratio": 1e-3, "size": 16}}}
              for e in range(1, 6)]
    warning = {"code": "gradient-vanishing", "message": "layer hidden.0: <vanishing> & co"}
    html = render_report(history={"epochs": epochs, "best_epoch": 5, "stopped_early": False,
                                  "restored_best": False, "warnings": [warning]})
    assert "Learning rate and gradient health" in html
    assert "Learning rate and gradient norm per layer, per epoch" in html  # the chart's title
    assert "layer hidden.0: &lt;vanishing&gt; &amp; co" in html  # escaped
    plain = render_report(history=HISTORY)  # an older history without lr / layers: no chart
    assert "Learning rate and gradient health" not in plain


def test_tune_section_shows_the_effects_and_the_trials():
    tune = {"metric": "dev_error", "space": [{"name": "lr"}, {"name": "l2"}],
            "best": {"number": 1},
            "trials": [{"number": 0, "round": 1, "params": {"lr": 0.1, "l2": 1.0}, "value": 0.2, "feasible": True},
                       {"number": 1, "round": 2, "params": {"lr": 0.01, "l2": 0.5}, "value": 0.05, "feasible": True},
                       {"number": 2, "round": 2, "params": {"lr": 0.02, "l2": 0.7}, "value": None, "feasible": False}],
            "effects": {"lr": {"avoidable_bias": -0.5, "variance": 0.25}, "l2": {"avoidable_bias": None, "variance": -0.8}}}
    html = render_report(tune=tune)
    assert 'id="tune"' in html and "Which component each hyperparameter moved" in html
    assert "-0.50" in html and "+0.25" in html and "-0.80" in html and "n/a" in html
    body = html[html.index('id="tune"'):]
    assert body.index("1 (best)") < body.index(">0<") < body.index("failed")  # best first, failed last
    assert "5.0%" in body


def test_counts_read_as_in_the_terminal(full_html):
    # the per-split table writes 2400 as the CLI and the slices table do, with a comma
    assert '<td data-label="examples" class="num">2,400</td>' in full_html
    assert "2\u202f400" not in full_html
