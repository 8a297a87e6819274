"""Result objects in notebooks: ``_repr_html_`` (the report's tables and staircase chart,
inline SVG, nothing fetched) and a short plain ``__repr__``.

Each result class gets its two methods from :class:`mlstrat.display.NotebookRepr`, which
calls :func:`html_repr` / :func:`text_repr`; they dispatch on the class name to one small
renderer of its ``to_dict()``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlstrat._constants import COMPONENT_DISPLAY, SPLIT_DISPLAY, SPLITS
from mlstrat._numbers import finite_or_none
from mlstrat.display._charts import staircase_svg
from mlstrat.display._decision_charts import lr_find_svg, operating_point_svg
from mlstrat.display._numbers import column_digits, format_interval, format_pct, format_pts
from mlstrat.display._sections import components_section, errors_section, staircase_levels

__all__ = ["html_repr", "text_repr"]

# On a narrow screen a figure never breaks across lines ("[+9.7," over "+13.1] pts") and a
# chart keeps a readable size: the box scrolls sideways instead.
_STYLE = (
    "<style>.mlstrat-nb{font:13px/1.4 system-ui,sans-serif;max-width:760px;overflow-x:auto}"
    ".mlstrat-nb table{border-collapse:collapse;margin:.3em 0 .8em}"
    ".mlstrat-nb th,.mlstrat-nb td{padding:.15em .6em;border-bottom:1px solid #e3e6ec;text-align:right}"
    ".mlstrat-nb th:first-child,.mlstrat-nb td:first-child{text-align:left}"
    ".mlstrat-nb td:not(:first-child){white-space:nowrap}"
    ".mlstrat-nb .verdict{font-weight:600;margin:.3em 0}.mlstrat-nb .muted{color:#555d65}"
    ".mlstrat-nb svg{max-width:100%;min-width:560px;height:auto}</style>"
)


def _pct(value: Any, digits: int | None = None) -> str:
    v = finite_or_none(value)
    if v is None:
        return "-"
    return f"{100 * v:.{digits}f}%" if digits is not None else format_pct(v)


def _ci(pair: Any, digits: int | None = None) -> str:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return "-"
    return format_interval(finite_or_none(pair[0]), finite_or_none(pair[1]), digits=digits)


def _metric_name(d: Mapping[str, Any]) -> str:
    """The diagnosed metric's name: a bare name in older runs, ``{"name", "label", ...}`` now."""
    metric = d.get("metric")
    if isinstance(metric, Mapping):
        return str(metric.get("label") or metric.get("name") or "error")
    return str(metric or "error")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _box(title: str, *parts: str) -> str:
    return f'{_STYLE}<div class="mlstrat-nb"><strong>{html.escape(title)}</strong>{"".join(parts)}</div>'


def _p(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{html.escape(text)}</p>' if text else ""


# -- diagnosis ------------------------------------------------------------------------------


def _diagnosis_html(d: Mapping[str, Any]) -> str:
    errors = errors_section(dict(d), None) or {"rows": []}
    err_rows = [(r["label"], r["value_text"], r["ci_text"], r["n_text"]) for r in errors["rows"]]
    comp_rows = [(c["label"] + (" (principal)" if c["principal"] else ""), c["value_text"], c["ci_text"],
                  _significance(c)) for c in components_section(dict(d))]
    levels = staircase_levels(dict(d))
    chart = staircase_svg(levels) if len(levels) >= 2 else ""
    actions = "".join(f"<li><strong>{html.escape(str(a.get('title')))}</strong> "
                      f"<span class='muted'>{html.escape(str(a.get('why') or ''))}</span></li>"
                      for a in d.get("actions") or [])
    return _box("Diagnosis", _p(str(d.get("verdict") or ""), "verdict"), chart,
                _table(("", _metric_name(d), "95% CI", "n"), err_rows),
                _table(("component", "value", "95% CI", "significant"), comp_rows),
                f"<ol>{actions}</ol>" if actions else "")


def _significance(component: Mapping[str, Any]) -> str:
    """yes / no, or "undetermined" for a gap that cannot be attributed to this component alone."""
    if component["note"] == "undetermined":
        return "undetermined"
    return "yes" if component["significant"] else "no"


def _diagnosis_text(d: Mapping[str, Any]) -> str:
    errors = ", ".join(f"{s} {_pct(e.get('value'))}" for s, e in (d.get("errors") or {}).items())
    return f"<Diagnosis principal_problem={d.get('principal_problem')!r}: {errors}>\n{d.get('verdict') or ''}"


# -- metrics --------------------------------------------------------------------------------


def _metrics_rows(m: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    entries = [(s, e) for s in SPLITS if isinstance(e := (m.get("splits") or {}).get(s), Mapping)]
    dig = {k: column_digits([finite_or_none(e.get(k)) for _, e in entries]) for k in ("error", "precision", "recall", "f1")}
    return [(SPLIT_DISPLAY[split], f"{e.get('n', 0):,}", _pct(e.get("error"), dig["error"]),
             _ci(e.get("error_ci"), dig["error"]), _pct(e.get("precision"), dig["precision"]),
             _pct(e.get("recall"), dig["recall"]), _pct(e.get("f1"), dig["f1"])) for split, e in entries]


def _metrics_html(m: Mapping[str, Any]) -> str:
    return _box("Metrics", _table(("split", "n", "error", "95% CI", "precision", "recall", "F1"), _metrics_rows(m)))


def _metrics_text(m: Mapping[str, Any]) -> str:
    parts = [f"{s} {_pct(e.get('error'))} (n={e.get('n')})" for s, e in (m.get("splits") or {}).items()]
    return f"<MetricsReport error: {', '.join(parts)}>"


# -- error summary --------------------------------------------------------------------------


def _summary_html(s: Mapping[str, Any]) -> str:
    other = s.get("other_causes")
    cats = list(s.get("categories") or []) + ([other] if isinstance(other, Mapping) else [])
    dig = {k: column_digits([finite_or_none(c.get(k)) for c in cats]) for k in ("share", "ceiling", "error_if_fixed")}
    rows = [(c["name"], c["count"], _pct(c.get("share"), dig["share"]), _ci(c.get("share_ci"), dig["share"]),
             _pct(c.get("ceiling"), dig["ceiling"]), _pct(c.get("error_if_fixed"), dig["error_if_fixed"]))
            for c in cats]
    note = (f"{s.get('split')} error {_pct(s.get('split_error'))}; {s.get('reviewed')} of "
            f"{s.get('sample_size')} sampled errors reviewed ({s.get('tagged')} with a category); "
            "shares are over the reviewed ones")
    return _box("Error analysis", _p(note, "muted"),
                _table(("category", "count", "share", "95% CI", "ceiling", "error if fixed"), rows))


def _summary_text(s: Mapping[str, Any]) -> str:
    cats = ", ".join(f"{c['name']} {_pct(c.get('share'), 0)}" for c in (s.get("categories") or [])[:5])
    return (f"<ErrorSummary {s.get('split')}: {s.get('reviewed')}/{s.get('sample_size')} reviewed; "
            f"{cats or 'no categories'}>")


# -- split ----------------------------------------------------------------------------------


def _split_html(s: Mapping[str, Any]) -> str:
    sizes = s.get("sizes") or {}
    total = sum(int(v) for v in sizes.values()) or 1
    rows = [(SPLIT_DISPLAY.get(k, k), f"{int(v):,}", _pct(int(v) / total, 1)) for k, v in sizes.items()]
    warnings = "".join(_p(str(w.get("message") if isinstance(w, Mapping) else w), "muted")
                       for w in s.get("warnings") or [])
    return _box("Split", _table(("split", "rows", "share"), rows), warnings)


def _split_text(s: Mapping[str, Any]) -> str:
    sizes = ", ".join(f"{k}={int(v):,}" for k, v in (s.get("sizes") or {}).items())
    return f"<SplitResult {sizes}>"


# -- run comparison -------------------------------------------------------------------------


def _comparison_html(c: Mapping[str, Any]) -> str:
    heads = [str(r["id"])[:8] for r in c.get("runs") or []]
    # one precision per table, components in points
    errs, comps = c.get("errors") or {}, c.get("components") or {}
    e_dig = column_digits([v for vals in errs.values() for v in vals])
    c_dig = column_digits([v for vals in comps.values() for v in vals])
    err = [(SPLIT_DISPLAY.get(k, k), *[_pct(v, e_dig) for v in vals]) for k, vals in errs.items()]
    comp = [(COMPONENT_DISPLAY.get(k, k), *[format_pts(finite_or_none(v), digits=c_dig) for v in vals])
            for k, vals in comps.items()]
    steps = "".join(_p(str(s.get("summary") or "")) + _p(_dev_line(s), "muted") for s in c.get("steps") or [])
    return _box("Run comparison", _table(("error", *heads), err), _table(("component", *heads), comp), steps)


def _dev_line(step: Mapping[str, Any]) -> str:
    """The step's dev change with its 95% interval and verdict (paired on the same rows or not)."""
    return str((step.get("dev") or {}).get("line") or "")


def _comparison_text(c: Mapping[str, Any]) -> str:
    ids = " -> ".join(str(r["id"])[:8] for r in c.get("runs") or [])
    step = (c.get("steps") or [{}])[-1] if c.get("steps") else {}
    lines = [line for line in (step.get("summary"), _dev_line(step)) if line]
    return f"<Comparison {ids}>" + "".join(f"\n{line}" for line in lines)


# -- mismatch -------------------------------------------------------------------------------


def _mismatch_html(m: Mapping[str, Any]) -> str:
    auc = m.get("auc") or {}
    line = (f"domain classifier AUC {auc.get('value', float('nan')):.3f} "
            f"(95% CI {format_interval(auc.get('ci_low'), auc.get('ci_high'), rate=False, digits=3)}): "
            f"{m.get('strength')} mismatch between {', '.join(m.get('source') or [])} and {m.get('target')}")
    rows = [(f.get("feature"), f"{f.get('importance', float('nan')):.3g}", f"{f.get('ks', float('nan')):.2f}",
             f.get("hint") or "") for f in (m.get("top_features") or [])[:10]]
    return _box("Data mismatch", _p(line), _table(("feature", "importance", "KS", "usually means"), rows))


def _mismatch_text(m: Mapping[str, Any]) -> str:
    auc = (m.get("auc") or {}).get("value")
    return f"<MismatchReport {m.get('target')} vs {', '.join(m.get('source') or [])}: AUC {auc:.3f}, {m.get('strength')}>"


# -- operating point ------------------------------------------------------------------------


def _threshold_html(o: Mapping[str, Any]) -> str:
    if not o.get("feasible"):
        return _box("Operating point", _p(str(o.get("message") or "")))
    rows = [(p["split"], p["n"], *(f"{_pct(p.get(k))} ({_ci(p.get(k + '_ci'))})"
                                   for k in ("precision", "recall", "f1", "fpr")))
            for p in (o.get("dev"), o.get("test")) if p]
    head = (f"threshold {o.get('threshold'):.6g} on {o.get('score_column')}: maximize {o.get('maximize')}"
            + (f" with {', '.join(o.get('require') or [])}" if o.get("require") else ""))
    chart = operating_point_svg(o) if o.get("curve") else ""
    return _box("Operating point", _p(head), _table(("split", "n", "precision", "recall", "F1", "FPR"), rows),
                chart)


def _threshold_text(o: Mapping[str, Any]) -> str:
    if not o.get("feasible"):
        return f"<OperatingPoint infeasible: {o.get('message')}>"
    dev = o.get("dev") or {}
    return (f"<OperatingPoint threshold {o.get('threshold'):.6g}: dev precision {_pct(dev.get('precision'))}, "
            f"recall {_pct(dev.get('recall'))}>")


# -- slices ---------------------------------------------------------------------------------


def _slice_value(value: Any, rate: bool) -> str:
    v = finite_or_none(value)
    if v is None:
        return "-"
    return _pct(v) if rate else f"{v:.4g}"


def _slice_interval(low: Any, high: Any, rate: bool) -> str:
    return format_interval(finite_or_none(low), finite_or_none(high), rate=rate)


def _slice_metrics_html(r: Mapping[str, Any]) -> str:
    rate = (r.get("metric") or {}).get("unit") == "rate"
    rows = [(s["slice"], f"{s['n']:,}", _slice_value(s["value"], rate),
             _slice_interval(s["ci_low"], s["ci_high"], rate), _pct(s["share"], 1),
             _slice_value(s["ceiling"], rate)) for s in r.get("slices") or []]
    name = (r.get("metric") or {}).get("name", "error")
    return _box(f"{name} by {', '.join(r.get('by') or [])} ({r.get('split')})",
                _p(f"{r.get('split')} {name} {_slice_value(r.get('value'), rate)} on {r.get('n'):,} rows", "muted"),
                _table(("slice", "n", name, "95% CI", f"share of {r.get('share_of')}", "ceiling"), rows))


def _slice_metrics_text(r: Mapping[str, Any]) -> str:
    name = (r.get("metric") or {}).get("name", "error")
    return (f"<SliceMetrics {name} by {', '.join(r.get('by') or [])} on {r.get('split')}: "
            f"{len(r.get('slices') or [])} slices of {r.get('groups')}>")


def _slice_report_html(r: Mapping[str, Any]) -> str:
    rate = (r.get("metric") or {}).get("unit") == "rate"
    rows = [(s["slice"], f"{s['n']:,}", _slice_value(s["error"], rate),
             _slice_interval(s["ci_low"], s["ci_high"], rate), f"{s['lift']:.2f}x",
             _slice_value(s["ceiling"], rate), f"{s['score']:.3f}",
             f"{s['q_value']:.2g}") for s in r.get("slices") or []]
    note = (f"{r.get('tested')} slices tested; {r.get('significant')} above average at FDR "
            f"{r.get('fdr')} (Benjamini–Hochberg; {r.get('test')})")
    return _box(f"Where the model fails ({r.get('split')})", _p(note, "muted"),
                _table(("slice", "n", "error", "95% CI", "lift", "ceiling", "score", "q"), rows))


def _slice_report_text(r: Mapping[str, Any]) -> str:
    top = (r.get("slices") or [{}])[0].get("slice", "none")
    return (f"<SliceReport {r.get('split')}: {r.get('significant')} of {r.get('tested')} slices "
            f"above average at FDR {r.get('fdr')}; top: {top}>")


# -- data checks ----------------------------------------------------------------------------


def _data_checks_html(c: Mapping[str, Any]) -> str:
    rows = [(f["check"], f["column"] or "-", f["count"], f["message"], f["fix"]) for f in c.get("findings", [])]
    found = _table(("check", "column", "count", "finding", "fix"), rows) if rows else _p("nothing found", "muted")
    return _box(f"Data checks: {c.get('source')} ({c.get('rows', 0):,} rows)", found)


def _data_checks_text(c: Mapping[str, Any]) -> str:
    checks = sorted({f["check"] for f in c.get("findings", [])})
    return f"<DataChecks {c.get('rows', 0):,} rows: {', '.join(checks) if checks else 'nothing found'}>"


def _train_html(t: Mapping[str, Any]) -> str:
    """A training run: the convergence verdict on its train cost, then its fields."""
    from mlstrat.display._documents import convergence_line

    line = convergence_line((t.get("history") or {}).get("convergence"))
    return _box("TrainResult", _p(line or ""), *_generic_parts(t))


def _train_text(t: Mapping[str, Any]) -> str:
    verdict = ((t.get("history") or {}).get("convergence") or {}).get("verdict")
    text = _generic_text("TrainResult", t)
    return text if not verdict else f"{text[:-1]}, convergence={verdict}>"


# -- learning-rate range test ----------------------------------------------------------------


def _lr_find_html(r: Mapping[str, Any]) -> str:
    """The range test: its suggestion in one line, then the loss against the learning rate."""
    lrs = r.get("lrs") or []
    why = {"diverged": "stopped when the smoothed loss diverged", "end_lr": "every step ran"}.get(
        str(r.get("stopped")), str(r.get("stopped")))
    line = (f"suggested lr {r.get('suggestion'):.3g} (steepest descent of the smoothed loss against "
            f"log lr; the minimum's lr / 10 is {r.get('min_lr'):.3g}); {len(lrs)} steps, {why}")
    return _box("Learning-rate range test", _p(line), lr_find_svg(r) if lrs else "")


def _lr_find_text(r: Mapping[str, Any]) -> str:
    return _generic_text("LrFindResult", r)


# -- near-duplicate leakage ------------------------------------------------------------------


def _near_duplicates_html(d: Mapping[str, Any]) -> str:
    parts = []
    for f in d.get("findings", []):
        rows = [(" - ".join(c["splits"]) if c["splits"][0] != c["splits"][1] else f"inside {c['splits'][0]}",
                 f"{c['rows']:,}", f"{c['pairs']:,}",
                 "; ".join(f"{e['ids'][0]} ~ {e['ids'][1]} ({e['similarity']:.3g})" for e in c["examples"][:3]) or "-")
                for c in f["counts"]]
        parts += [_p(f"{f['kind']} {', '.join(f['columns'][:3])}: {f['threshold']}; {f['compared']:,} rows compared",
                     "muted"), _table(("splits", "rows", "pairs", "examples (ids, similarity)"), rows)]
    verdict = "near-duplicate leakage found" if d.get("leakage") else "no near-duplicate leakage across splits"
    return _box(f"Near-duplicates: {d.get('source')} ({d.get('rows', 0):,} rows)", _p(verdict), *parts)


def _near_duplicates_text(d: Mapping[str, Any]) -> str:
    leaked = sum(f["leaked_rows"] for f in d.get("findings", []))
    return f"<NearDuplicates {d.get('rows', 0):,} rows: {leaked:,} with a near-duplicate in another split>"


_RENDERERS: dict[str, tuple[Callable[[Mapping[str, Any]], str], Callable[[Mapping[str, Any]], str]]] = {
    "Diagnosis": (_diagnosis_html, _diagnosis_text),
    "MetricsReport": (_metrics_html, _metrics_text),
    "ErrorSummary": (_summary_html, _summary_text),
    "SplitResult": (_split_html, _split_text),
    "Comparison": (_comparison_html, _comparison_text),
    "MismatchReport": (_mismatch_html, _mismatch_text),
    "OperatingPoint": (_threshold_html, _threshold_text),
    "SliceMetrics": (_slice_metrics_html, _slice_metrics_text),
    "SliceReport": (_slice_report_html, _slice_report_text),
    "DataChecks": (_data_checks_html, _data_checks_text),
    "TrainResult": (_train_html, _train_text),
    "NearDuplicates": (_near_duplicates_html, _near_duplicates_text),
    "LrFindResult": (_lr_find_html, _lr_find_text),
}


# -- any other result -----------------------------------------------------------------------

#: rows shown of a list of records (the rest is counted)
_MAX_ROWS = 12


def _cell(value: Any) -> str:
    """One value as text: numbers with 4 significant digits, lists joined, records counted."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, float):
        v = finite_or_none(value)
        return "-" if v is None else f"{v:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_cell(v)}" for k, v in list(value.items())[:6]) + (
            ", ..." if len(value) > 6 else "")
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) for v in value):
            return f"{len(value)} records"
        return ", ".join(_cell(v) for v in value[:10]) + (", ..." if len(value) > 10 else "")
    return str(value)


def _records_table(records: Sequence[Mapping[str, Any]]) -> str:
    headers = list(dict.fromkeys(k for r in records[:_MAX_ROWS] for k in r))
    rows = [[_cell(r.get(h)) for h in headers] for r in records[:_MAX_ROWS]]
    more = _p(f"{len(records) - _MAX_ROWS} more", "muted") if len(records) > _MAX_ROWS else ""
    return _table(headers, rows) + more


def _generic_html(title: str, d: Mapping[str, Any]) -> str:
    """Any result as a table of its fields, and one table per list of records (never a raw dict)."""
    return _box(title, *_generic_parts(d))


def _generic_parts(d: Mapping[str, Any]) -> list[str]:
    fields = [(k, _cell(v)) for k, v in d.items()
              if not (isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v))]
    parts = [_table(("field", "value"), fields)] if fields else []
    for key, value in d.items():
        if isinstance(value, (list, tuple)) and value and all(isinstance(x, Mapping) for x in value):
            parts.append(f"<p><strong>{html.escape(str(key))}</strong></p>" + _records_table(value))
    return parts


def _generic_text(title: str, d: Mapping[str, Any]) -> str:
    scalars = [f"{k}={_cell(v)}" for k, v in d.items() if isinstance(v, (str, int, float, bool)) or v is None]
    return f"<{title} {', '.join(scalars[:6])}>"


def html_repr(result: Any) -> str:
    """The notebook's rich view of a result object."""
    name = type(result).__name__
    if name not in _RENDERERS:
        return _generic_html(name, result.to_dict())
    data = result.to_dict()
    extras = getattr(result, "notebook_extras", None)  # what a chart needs that JSON leaves out
    if callable(extras):
        data = {**data, **extras()}
    return _RENDERERS[name][0](data)


def text_repr(result: Any) -> str:
    """A few lines that say what the result is (the plain ``repr``)."""
    name = type(result).__name__
    if name not in _RENDERERS:
        return _generic_text(name, result.to_dict())
    return _RENDERERS[name][1](result.to_dict())
