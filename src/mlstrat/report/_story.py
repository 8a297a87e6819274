"""The loop told in order: each iteration's verdict, the work between them (mismatch analysis,
synthesis, ...), and what changed from the first to the last, with its interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlstrat._constants import COMPONENT_DISPLAY, SPLIT_DISPLAY
from mlstrat._numbers import finite_or_none
from mlstrat.display._numbers import (column_digits, format_change, format_figure, format_interval,
                                      format_pts, is_rate_metric)

__all__ = ["story_section"]

_TOP_FEATURES = 5


def story_section(story: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The report's "story" section from the loop's document.

    ``story`` holds ``iterations`` (each ``{"name", "run", "diagnosis"}``, oldest first),
    optionally ``changes`` (first -> last, as ``mlstrat demo`` computes them), ``mismatch``
    (the domain classifier's AUC and top features), ``synthesis`` (what was synthesized and the
    AUC before and after) and ``notes`` (other steps, in words).
    """
    if not story or not story.get("iterations"):
        return None
    iterations = [it for it in story["iterations"] if isinstance(it, Mapping)]
    first = iterations[0].get("diagnosis") or {}
    return {
        "chapters": [_chapter(i, it, last=i == len(iterations) - 1) for i, it in enumerate(iterations)],
        "actions": [str(it.get("name") or "") for it in iterations[1:]],
        "changes": _changes(story.get("changes") or [], rate=is_rate_metric(first)),
        "paired": any((row or {}).get("paired") for row in story.get("changes") or []),
        "mismatch": _mismatch(story.get("mismatch")),
        "synthesis": _synthesis(story.get("synthesis")),
        "notes": [str(n) for n in story.get("notes") or []],
    }


def _chapter(index: int, iteration: Mapping[str, Any], *, last: bool) -> dict[str, Any]:
    diagnosis = iteration.get("diagnosis") or {}
    principal = diagnosis.get("principal_problem")
    errors = diagnosis.get("errors") or {}
    digits = column_digits([finite_or_none((e or {}).get("value")) for e in errors.values()]) \
        if is_rate_metric(diagnosis) else None
    return {
        "step": "Baseline" if index == 0 else ("Result" if last else f"Iteration {index + 1}"),
        "name": str(iteration.get("name") or ""), "run": str(iteration.get("run") or ""),
        "verdict": str(diagnosis.get("verdict") or "No verdict recorded."),
        "principal": {"key": principal, "label": COMPONENT_DISPLAY.get(principal, principal)} if principal else None,
        "errors": [{"key": split, "label": SPLIT_DISPLAY.get(split, split),
                    "value": format_figure(finite_or_none((e or {}).get("value")), diagnosis, digits=digits)}
                   for split, e in errors.items()],
    }


def _changes(rows: Sequence[Mapping[str, Any]], *, rate: bool) -> list[dict[str, Any]]:
    """First -> last: components in pts, split errors in the metric's unit, one precision for
    the whole table, each change the difference of the values shown."""
    rows = [r for r in rows if isinstance(r, Mapping)]
    # in a metric's unit the precision must also carry the changes and their bounds: rounding
    # 26.42 -> 28.96 to "26 -> 29: +3" would put the change outside its interval [+2.2, +2.9]
    keys = ("before", "after") if rate else ("before", "after", "change", "ci_low", "ci_high")
    digits = column_digits([finite_or_none(r.get(k)) for r in rows for k in keys], rate=rate)
    out = []
    for row in rows:
        key = str(row.get("component") or "")
        before, after = finite_or_none(row.get("before")), finite_or_none(row.get("after"))
        before_text, after_text, change = format_change(before, after, rate=rate, digits=digits)
        component = key in COMPONENT_DISPLAY
        if component:  # a component is a gap: signed, in pts
            before_text = format_pts(before, digits=digits, rate=rate)
            after_text = format_pts(after, digits=digits, rate=rate)
        low, high = finite_or_none(row.get("ci_low")), finite_or_none(row.get("ci_high"))
        interval = format_interval(low, high, rate=rate, signed=True, digits=digits) \
            if low is not None and high is not None else "–"
        split = key.removesuffix("_error")
        out.append({"key": key if component else split, "component": component,
                    "label": COMPONENT_DISPLAY[key] if component else f"{SPLIT_DISPLAY.get(split, split)} error",
                    "before": before_text, "after": after_text, "change": change, "interval": interval,
                    "verdict": str(row.get("verdict") or ""), "paired": bool(row.get("paired")),
                    "measured": low is not None})
    return out


def _auc_text(auc: Mapping[str, Any] | None) -> str:
    auc = auc or {}
    value = finite_or_none(auc.get("value"))
    if value is None:
        return "–"
    low, high = finite_or_none(auc.get("ci_low")), finite_or_none(auc.get("ci_high"))
    return f"{value:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else "")


def _mismatch(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(doc, Mapping) or not doc.get("auc"):
        return None
    features = []
    for f in (doc.get("top_features") or [])[:_TOP_FEATURES]:
        if not isinstance(f, Mapping):
            continue
        imp, std = finite_or_none(f.get("importance")), finite_or_none(f.get("importance_std"))
        src, tgt = finite_or_none(f.get("mean_source")), finite_or_none(f.get("mean_target"))
        features.append({"name": str(f.get("feature") or ""), "hint": str(f.get("hint") or ""),
                         "importance": "–" if imp is None else f"{imp:.3f}" + ("" if std is None else f" ± {std:.3f}"),
                         "ks": "–" if finite_or_none(f.get("ks")) is None else f"{f['ks']:.2f}",
                         "means": "–" if src is None or tgt is None else f"{src:.3g} → {tgt:.3g}"})
    return {"auc": _auc_text(doc.get("auc")), "strength": str(doc.get("strength") or ""),
            "sides": str(doc.get("sides") or "the target from the training distribution"),
            "features": features}


def _synthesis(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(doc, Mapping) or doc.get("n_synthesized") is None:
        return None
    params = doc.get("params") if isinstance(doc.get("params"), Mapping) else {}
    # "blur (sigma 0.9), noise (std 0.12)": each transform with the settings calibrated for it
    settings = ", ".join(f"{name} ({', '.join(f'{k} {v}' for k, v in values.items())})"
                         for name, values in params.items() if isinstance(values, Mapping) and values)
    return {"n": f"{int(doc['n_synthesized']):,}", "transforms": ", ".join(map(str, doc.get("transforms") or [])),
            "settings": settings, "like": str(doc.get("like") or "the target"),
            "auc_before": _auc_text(doc.get("auc_before")), "auc_after": _auc_text(doc.get("auc_after"))}
