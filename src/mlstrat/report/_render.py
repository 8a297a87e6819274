"""``render_report``: one self-contained HTML page from a diagnosis, metrics, history and runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlstrat._clock import utc_now
from mlstrat._constants import COMPONENT_DISPLAY, SPLIT_DISPLAY, SPLITS, VERSION
from mlstrat._exceptions import ConfigError, InputError, MlstratError
from mlstrat._json import to_jsonable
from mlstrat._numbers import finite_or_none
from mlstrat.display._documents import bayes_proxy
from mlstrat.display._numbers import column_digits, format_figure, format_param, format_pct, is_rate_metric
from mlstrat.display._sections import components_section, errors_section, n_text, staircase_levels
from mlstrat.runs._compare import compare_runs
from mlstrat.runs._run import Run
from mlstrat.display._error_analysis import summary_rows
from mlstrat.report._cells import label_cells

__all__ = ["render_report"]

_TEMPLATES = Path(__file__).parent / "templates"
# the confusion matrix shown is the first split present in this order (dev decides)
_CONFUSION_ORDER = ("dev", "test", "train_dev", "train")
_HISTORY_MAX_RUNS = 20


def _doc(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    doc = to_jsonable(value)
    if not isinstance(doc, dict):
        raise InputError(f"{name}: expected a mapping (the JSON object), got {type(value).__name__}")
    return doc


def _run(value: Any) -> Run:
    if isinstance(value, Run):
        return value
    doc = _doc(value, "runs")
    if not doc or "id" not in doc:
        raise InputError("runs: each run must be a Run or its to_dict() (with an 'id')")
    doc.setdefault("created_at", "")
    doc.setdefault("kind", "run")
    return Run.from_dict(doc)


def _metric_label(diagnosis: dict[str, Any] | None) -> str:
    from mlstrat.metrics._spec import metric_name, parse_metric

    name = metric_name((diagnosis or {}).get("metric"))
    try:
        return parse_metric(name).label
    except MlstratError:  # a metric this version does not know: show its name
        return name.replace("_", " ")


# -- sections -------------------------------------------------------------------------------


def _actions(diagnosis: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for a in (diagnosis or {}).get("actions") or []:
        if not isinstance(a, Mapping):
            continue
        out.append({"id": a.get("id"), "title": a.get("title") or a.get("id"), "why": a.get("why") or "",
                    "addresses": [{"key": k, "label": COMPONENT_DISPLAY.get(k, str(k))}
                                  for k in a.get("addresses") or []]})
    return out


def _learning(history: dict[str, Any] | None, human: float | None) -> dict[str, Any] | None:
    from mlstrat.display._charts import dynamics_svg, learning_curves_svg

    if not history:
        return None
    epochs = [e for e in history.get("epochs") or [] if isinstance(e, Mapping)]
    if not epochs:
        return None
    best = history.get("best_epoch")
    best_row = next((e for e in epochs if e.get("epoch") == best), None)
    return {
        "svg": learning_curves_svg(epochs, best_epoch=best, human_level=human,
                                   stopped_early=bool(history.get("stopped_early"))),
        "epochs": len(epochs), "best_epoch": best,
        "stopped_early": bool(history.get("stopped_early")),
        "restored_best": bool(history.get("restored_best")),
        "best_dev_error": format_pct(finite_or_none((best_row or {}).get("dev_error"))),
        "dynamics_svg": dynamics_svg(epochs),
        "warnings": [str(w.get("message", "")) for w in history.get("warnings") or [] if isinstance(w, Mapping)],
        "convergence": _convergence(history.get("convergence")),
    }


def _convergence(doc: Any) -> dict[str, str] | None:
    """The recorded convergence verdict of the train cost (``nn/_convergence.py`` wrote it)."""
    if not isinstance(doc, Mapping) or not doc.get("verdict"):
        return None
    return {"code": str(doc.get("code") or ""), "verdict": str(doc["verdict"]), "reason": str(doc.get("reason") or "")}


def _size_curve(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """The learning curve against training-set size (``mlstrat curve`` records it in metrics)."""
    from mlstrat.display._charts import size_curve_svg

    curve = (metrics or {}).get("curve")
    if not isinstance(curve, Mapping) or len(curve.get("points") or []) < 2:
        return None
    fit = curve.get("fit") or {}
    lo, hi = (fit.get("exponent_ci") or [None, None])[:2]
    counts = [int(p["size"]) for p in curve["points"]]
    return {"svg": size_curve_svg(curve), "reading": curve.get("reading") or "",
            "sizes": len(counts), "counts": "; ".join(f"{k:,}" for k in counts),
            "end_to_end": curve.get("end_to_end") or "", "exponent": fit.get("exponent"),
            "exponent_ci": (lo, hi), "warnings": list(curve.get("warnings") or [])}


def _tune_section(tune: dict[str, Any] | None) -> dict[str, Any] | None:
    """The search's trials (best first) and the hyperparameter -> component effects."""
    if not tune or not tune.get("trials"):
        return None
    names = [p.get("name") for p in tune.get("space") or []]
    rate = tune.get("metric") == "dev_error"
    best = (tune.get("best") or {}).get("number")
    trials = sorted(tune["trials"], key=lambda t: (t.get("value") is None, t.get("value") or 0.0))
    rows = [{"number": t.get("number"), "round": t.get("round"), "best": t.get("number") == best,
             "params": [format_param((t.get("params") or {}).get(n)) for n in names],
             "value": (f"pruned at epoch {t.get('pruned_at_epoch')}" if t.get("state") == "pruned"
                       else "failed" if t.get("value") is None
                       else (format_pct(t["value"]) if rate else f"{t['value']:.4f}")),
             "feasible": bool(t.get("feasible"))} for t in trials]
    effects = tune.get("effects") or {}
    components = sorted({c for per in effects.values() for c in per})
    effect_rows = [{"name": n, "cells": [{"value": None if (effects.get(n) or {}).get(c) is None
                                          else f"{effects[n][c]:+.2f}",
                                          "sign": ((effects.get(n) or {}).get(c) or 0) > 0} for c in components]}
                   for n in names]
    return {"metric": tune.get("metric"), "names": names, "rows": rows, "components":
            [{"key": c, "label": COMPONENT_DISPLAY.get(c, c)} for c in components], "effects": effect_rows}


def _confusion(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    from mlstrat.display._charts import confusion_svg

    splits = (metrics or {}).get("splits") or {}
    split = next((s for s in _CONFUSION_ORDER if (splits.get(s) or {}).get("confusion")), None)
    if split is None:
        return None
    entry = splits[split]
    conf = entry["confusion"]
    labels, matrix = [str(x) for x in conf.get("labels") or []], conf.get("matrix") or []
    if not labels or len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
        raise InputError(f"metrics: the {split} confusion matrix is not square with one row per "
                         f"label ({len(labels)} labels, {len(matrix)} rows)")
    stats_of = [s for s in (entry.get("per_class") or {}).values() if isinstance(s, Mapping)]
    # one precision per column, so that a column reads evenly
    digits = {k: column_digits([finite_or_none(s.get(k)) for s in stats_of]) for k in ("precision", "recall", "f1")}
    per_class = []
    for label, stats in (entry.get("per_class") or {}).items():
        per_class.append({"label": label, **{k: format_pct(finite_or_none(stats.get(k)), digits=d)
                                             for k, d in digits.items()},
                          "support": n_text(stats.get("support"))})
    return {"split": SPLIT_DISPLAY.get(split, split), "svg": confusion_svg(labels, matrix, split=split),
            "per_class": per_class}


def _metrics_rows(metrics: dict[str, Any] | None) -> list[dict[str, Any]]:
    splits = (metrics or {}).get("splits") or {}
    entries = [(split, splits[split]) for split in SPLITS if isinstance(splits.get(split), Mapping)]
    keys = ("error", "accuracy", "weighted_error", "precision", "recall", "f1")
    digits = {k: column_digits([finite_or_none(e.get(k)) for _, e in entries]) for k in keys}
    return [{"label": SPLIT_DISPLAY[split], "n": n_text(e.get("n")),
             **{k: format_pct(finite_or_none(e.get(k)), digits=digits[k]) for k in keys}}
            for split, e in entries]


def _error_analysis(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    from mlstrat.display._charts import error_analysis_svg

    if not summary:
        return None
    cats = [c for c in summary.get("categories") or [] if isinstance(c, Mapping)]
    split_error = finite_or_none(summary.get("split_error"))
    # the same figures as `errors summarize` and the tagging UI print
    shown = summary_rows(summary)
    mislabeled = summary.get("mislabeled")
    if isinstance(mislabeled, Mapping):
        mislabeled = {"category": mislabeled.get("category"), "error_due": shown["error_due"],
                      "error_other": shown["error_other"]}
    else:
        mislabeled = None
    return {
        "split": SPLIT_DISPLAY.get(summary.get("split"), summary.get("split") or "dev"),
        "split_error": shown["split_error"], "sample_size": n_text(summary.get("sample_size")),
        "tagged": n_text(summary.get("tagged")), "reviewed": n_text(summary.get("reviewed")),
        "rows": shown["rows"], "mislabeled": mislabeled,
        "warnings": [_warning_text(w) for w in summary.get("warnings") or []],
        "svg": error_analysis_svg(cats, split_error=split_error,
                                  labels=[f"{r['ceiling']} ({r['share']} of errors)" for r in shown["rows"]])
        if cats else None,
    }


def _warning_text(w: Any) -> str:
    return str(w.get("message") or w.get("code")) if isinstance(w, Mapping) else str(w)


def _history(runs: Sequence[Run], dev_rows: Callable[[Run], Any] | None = None) -> dict[str, Any] | None:
    from mlstrat.display._charts import history_svg

    if len(runs) < 2:
        return None
    runs = list(runs)[-_HISTORY_MAX_RUNS:]
    # a history shows every run it is given: runs of another metric are warned about, not refused
    comparison = compare_runs(runs, rows=dev_rows, strict=False)
    names = [f"#{r.seq}" if r.seq else r.short_id for r in runs]
    humans = [bayes_proxy(r.diagnosis)[1] for r in runs]
    human = humans[-1] if humans and all(h == humans[-1] for h in humans) else None
    table = []
    digits = column_digits([v for values in comparison.errors.values() for v in values])
    for name, run in zip(names, runs):
        errs = run.errors()
        table.append({"name": name, "id": run.short_id, "kind": run.kind, "note": run.note or "",
                      "created": run.created_at[:16].replace("T", " "),
                      "errors": {s: format_pct(errs.get(s, {}).get("value"), digits=digits) for s in comparison.errors},
                      "principal": COMPONENT_DISPLAY.get((run.diagnosis or {}).get("principal_problem"), "–")})
    steps = [{"from": names[i], "to": names[i + 1], "summary": s.summary,
              "changes": [f"{c.key}: {_value(c.before)} → {_value(c.after)}" for c in s.config_changes],
              "several": s.several_knobs, "dev": s.dev_line,
              "verdict": s.dev.verdict if s.dev is not None else None}
             for i, s in enumerate(comparison.steps)]
    return {
        "svg": history_svg(names, comparison.errors, comparison.components, human_level=human,
                           component_labels=COMPONENT_DISPLAY, split_labels=SPLIT_DISPLAY),
        "splits": [SPLIT_DISPLAY[s] for s in comparison.errors], "table": table, "steps": steps,
        "warnings": [w["message"] for w in comparison.warnings],
    }


def _value(v: Any) -> str:
    return "–" if v is None else str(v)


# -- the page -------------------------------------------------------------------------------


def render_report(*, runs: Sequence[Any] | None = None, diagnosis: Any = None, metrics: Any = None,
                  history: Any = None, error_summary: Any = None, tune: Any = None,
                  title: str = "mlstrat report", subtitle: str | None = None,
                  output: str | os.PathLike | None = None, curves: Mapping[str, Any] | None = None,
                  dev_rows: Callable[[Run], Any] | None = None, slices: Any = None,
                  story: Mapping[str, Any] | None = None, top_losses: Mapping[str, Any] | None = None,
                  size_curve: Mapping[str, Any] | None = None) -> str:
    """Render one self-contained HTML report and return it (and write it when ``output`` is given).

    The page has inline CSS and inline SVG charts (matplotlib, text drawn as paths): it opens
    offline, in any browser, with nothing to fetch.

    Parameters
    ----------
    runs : sequence of Run (or their ``to_dict()``), default=None
        Runs oldest first. With two or more: the run-history chart and what changed at each
        step. Without ``diagnosis``/``metrics``, the last run's are shown.
    diagnosis : mapping or result with ``to_dict()``, default=None
        The diagnosis JSON: error table, staircase, components, actions, warnings.
    metrics : mapping or result with ``to_dict()``, default=None
        The metrics JSON: per-split metrics and the confusion-matrix heatmap.
    history : mapping, default=None
        A training run's ``history.json``: the learning curves.
    error_summary : mapping, default=None
        An error-analysis summary (``mlstrat errors summarize --json``).
    tune : mapping, default=None
        A hyperparameter search's ``tune.json``: the trials, the winner and which component each
        hyperparameter moved.
    title, subtitle : str
        The page heading and the line under it.
    output : path-like, default=None
        Where to write the page (atomically; an existing file is replaced).
    curves : mapping, default=None
        ROC / precision-recall / calibration (``mlstrat.report._proba.probability_curves``).
    dev_rows : callable, default=None
        ``dev_rows(run)``: a run's kept per-row dev results (``RunStore.dev_rows``); the history
        then pairs each step's dev change on the same rows (else it compares them unpaired).
    slices : mapping or SliceReport, default=None
        The slices where the model fails most (:func:`mlstrat.errors.find_slices`): the
        "where it fails" section.
    story : mapping, default=None
        The loop told in order (``mlstrat demo`` writes it): ``iterations`` (each ``{"name",
        "run", "diagnosis"}``), ``changes`` first -> last, ``mismatch``, ``synthesis`` and
        ``notes``; the page opens with it.
    top_losses : mapping, default=None
        The worst dev mistakes with their examples (``mlstrat.report._top_losses.top_losses``).
    size_curve : mapping, default=None
        A learning curve against training-set size (``LearningCurve.to_dict()``); without it,
        the one ``mlstrat curve`` recorded in ``metrics`` (if any).

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ConfigError
        When there is nothing to report.
    """
    import jinja2

    from mlstrat.report._story import story_section

    run_list = [_run(r) for r in runs or []]
    diagnosis = _doc(diagnosis, "diagnosis")
    metrics = _doc(metrics, "metrics")
    history = _doc(history, "history")
    error_summary = _doc(error_summary, "error_summary")
    tune = _doc(tune, "tune")
    if run_list and diagnosis is None and metrics is None:
        diagnosis, metrics = run_list[-1].diagnosis, run_list[-1].metrics
    if not any([run_list, diagnosis, metrics, history, error_summary, tune, slices, story, top_losses]):
        raise ConfigError("nothing to report: give a diagnosis, metrics, a training history, "
                          "an error-analysis summary or runs")

    _, human = bayes_proxy(diagnosis)
    context = {"title": title, "subtitle": subtitle,
               **_diagnosis_context(diagnosis, metrics),
               **_sections_context(run_list, metrics=metrics, history=history,
                                   error_summary=error_summary, tune=tune, curves=curves,
                                   dev_rows=dev_rows, slices=slices, human=human,
                                   size_curve=_doc(size_curve, "size_curve")),
               "story": story_section(_doc(story, "story")), "top_losses": _doc(top_losses, "top_losses")}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    from mlstrat.display._palette import css_variables

    html = label_cells(env.get_template("report.html.j2").render(palette_css=css_variables(), **context))
    if output is not None:
        _write_page(html, output)
    return html


def _diagnosis_context(diagnosis: Mapping[str, Any] | None,
                       metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """The page's header and diagnosis entries: verdict, errors, staircase, components, actions."""
    from mlstrat.display._charts import PALETTE, staircase_svg

    levels = staircase_levels(diagnosis) if diagnosis else []
    principal = (diagnosis or {}).get("principal_problem")
    metric = _metric_label(diagnosis)
    return {
        "generated_at": utc_now().strftime("%Y-%m-%d %H:%M UTC"),
        "version": VERSION,
        "palette": PALETTE,
        "diagnosis": diagnosis,
        "metric": metric,
        "metric_label": metric,
        "verdict": (diagnosis or {}).get("verdict"),
        "principal": {"key": principal, "label": COMPONENT_DISPLAY.get(principal)} if principal else None,
        "problems": [{"key": p, "label": COMPONENT_DISPLAY.get(p, p)} for p in (diagnosis or {}).get("problems") or []],
        "errors": errors_section(diagnosis, metrics),
        "staircase": staircase_svg(levels, ylabel=metric, rate=is_rate_metric(diagnosis))
        if len(levels) >= 2 else None,
        "components": components_section(diagnosis),
        "actions": _actions(diagnosis),
        "warnings": [{"code": (w.get("code") if isinstance(w, Mapping) else None), "message": _warning_text(w)}
                     for w in (diagnosis or {}).get("warnings") or []],
        "tolerance": format_figure(finite_or_none((diagnosis or {}).get("tolerance")), diagnosis),
    }


def _sections_context(run_list: list[Any], *, metrics: Any, history: Any, error_summary: Any,
                      tune: Any, curves: Any, dev_rows: Any, slices: Any, human: Any,
                      size_curve: Any = None) -> dict[str, Any]:
    """The page's other sections: learning curves, metrics, error analysis, slices, history, tuning,
    the learning-rate range test."""
    from mlstrat.report._lr_find import lr_find_section
    from mlstrat.report._slices import slices_section

    return {
        "learning": _learning(history, human),
        "confusion": _confusion(metrics),
        "curves": curves,
        "size_curve": _size_curve({"curve": size_curve} if size_curve else metrics),
        "metrics_rows": _metrics_rows(metrics),
        "metrics_weighted": bool((metrics or {}).get("weight")),
        "error_analysis": _error_analysis(error_summary),
        "slices": slices_section(_doc(slices, "slices")),
        "history": _history(run_list, dev_rows),
        "tune": _tune_section(tune),
        "lr_find": lr_find_section(metrics, history, kind=run_list[-1].kind if run_list else None),
        "run": run_list[-1] if run_list else None,
    }


def _write_page(html: str, output: str | os.PathLike) -> None:
    """Write the page atomically, refusing a folder that does not exist."""
    from mlstrat.tables._io import atomic_write_text

    out = Path(output)
    if not out.parent.exists():
        raise InputError(f"{out}: the folder {out.parent} does not exist; create it first")
    atomic_write_text(out, html)
