"""Charts of two decisions: the operating point on the dev precision-recall and ROC curves
(``mlstrat threshold --chart``, the notebook view of an operating point) and the learning-rate
range test (``mlstrat lr-find --chart``).

Drawn with the report's chart helpers (:mod:`mlstrat.display._charts`: the same style, figure,
percent axes, legend and inline SVG); each chart has a ``*_marks`` function that returns what it
draws in data coordinates, so that tests check the points rather than pixels.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from mlstrat.display._charts import _RC, PALETTE, _figure, _legend_below, _pct_axis, _style, _to_svg
from mlstrat.display._numbers import format_pct

__all__ = ["operating_point_marks", "operating_point_svg", "operating_point_png", "lr_find_marks", "lr_find_svg",
           "lr_find_png"]


def _to_png(fig: Any) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=150, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


# -- operating point on the precision-recall and ROC curves ---------------------------------

_REQUIREMENT = re.compile(r"^\s*(precision|recall|f1|specificity|fpr)\s*(>=|>|<=|<)\s*([0-9.]+)\s*%\s*$")


def operating_point_marks(point: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`operating_point_svg` draws, in data coordinates (a testable plan).

    ``point``: an operating point's ``to_dict()`` with ``curve`` (``precision``, ``recall``,
    ``fpr`` lists over the dev thresholds). Returns ``{"pr": [(recall, precision)...],
    "roc": [(fpr, tpr)...], "chosen": {"threshold", "pr": (x, y), "roc": (x, y)} or None,
    "lines": [{"panel", "axis", "value", "text"}...]}``: a requirement on precision is a
    horizontal line on the precision-recall panel, on recall a vertical one there and a
    horizontal one on the ROC panel (recall is the true positive rate), on the false positive
    rate or the specificity a vertical one on the ROC panel; F1 has no line.
    """
    curve = point.get("curve") or {}
    recall, precision, fpr = (list(curve.get(k) or []) for k in ("recall", "precision", "fpr"))
    dev = point.get("dev") or {}
    chosen = None
    if point.get("feasible") and dev and point.get("threshold") is not None:
        chosen = {"threshold": float(point["threshold"]),
                  "pr": (float(dev["recall"]), float(dev["precision"])),
                  "roc": (float(dev["fpr"]), float(dev["recall"]))}
    lines: list[dict[str, Any]] = []
    for text in point.get("require") or []:
        match = _REQUIREMENT.match(str(text))
        if match is None:
            continue
        metric, value = match.group(1), float(match.group(3)) / 100
        placed = {"precision": [("pr", "h", value)], "recall": [("pr", "v", value), ("roc", "h", value)],
                  "fpr": [("roc", "v", value)], "specificity": [("roc", "v", 1 - value)]}.get(metric, [])
        lines += [{"panel": panel, "axis": axis, "value": v, "text": str(text)} for panel, axis, v in placed]
    return {"pr": list(zip(recall, precision)), "roc": [(0.0, 0.0)] + list(zip(fpr, recall)),
            "chosen": chosen, "lines": lines}


def operating_point_svg(point: Mapping[str, Any]) -> str:
    """The dev precision-recall (left) and ROC (right) curves with the chosen threshold marked,
    labelled with its threshold and rates, and each requirement drawn as a dashed line."""
    with _style():
        fig = _operating_point_figure(point)
        return _to_svg(fig, "opchart", "Dev precision-recall and ROC curves with the chosen threshold marked")


def operating_point_png(point: Mapping[str, Any]) -> bytes:
    """:func:`operating_point_svg` as a PNG image (for a file that is not inlined)."""
    with _style():
        return _to_png(_operating_point_figure(point))


def _operating_point_figure(point: Mapping[str, Any]) -> Any:
    marks = operating_point_marks(point)
    chosen = marks["chosen"]
    fig, (ax_pr, ax_roc) = _figure(8.6, 3.7, ncols=2)
    panels = {"pr": ax_pr, "roc": ax_roc}
    ax_roc.plot([0, 1], [0, 1], color=PALETTE["grid"], lw=1, ls="--")
    for key, ax in panels.items():
        pts = marks[key]
        if pts:
            # precision holds from one recall to the next: a step, as in the report's chart
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=PALETTE["dev"], lw=1.8,
                    drawstyle="steps-pre" if key == "pr" else "default", label="dev")
    for line in marks["lines"]:
        ax = panels[line["panel"]]
        draw = ax.axhline if line["axis"] == "h" else ax.axvline
        drawn = draw(line["value"], color=PALETTE["avoidable_bias"], lw=1.2, ls=(0, (4, 3)),
                     label=f"required: {line['text']}")
        drawn.set_gid(f"required-{line['panel']}-{line['axis']}")
    if chosen is not None:
        _mark_operating_point(ax_pr, chosen["pr"], "pr",
                              f"threshold {chosen['threshold']:.6g}\nprecision {format_pct(chosen['pr'][1])}, "
                              f"recall {format_pct(chosen['pr'][0])}")
        _mark_operating_point(ax_roc, chosen["roc"], "roc",
                              f"threshold {chosen['threshold']:.6g}\nFPR {format_pct(chosen['roc'][0])}, "
                              f"TPR {format_pct(chosen['roc'][1])}")
    positive = point.get("positive")
    of = f", class {positive} positive" if positive is not None else ""
    ax_pr.set(title=f"Precision-recall (dev{of})", xlabel="recall", ylabel="precision")
    ax_roc.set(title=f"ROC (dev{of})", xlabel="false positive rate", ylabel="true positive rate (recall)")
    for ax in panels.values():
        ax.set(xlim=(0, 1), ylim=(0, 1.02))
        _pct_axis(ax, "x")
        _pct_axis(ax, "y")
        ax.grid(True, color=PALETTE["grid"], linewidth=0.7)
        ax.set_axisbelow(True)
        _legend_below(ax, ncols=2)
    return fig


def _mark_operating_point(ax: Any, xy: tuple[float, float], panel: str, text: str) -> None:
    """The chosen point: a ringed dot and its label, set toward the middle of the panel so that
    it stays inside the axes."""
    x, y = xy
    dot, = ax.plot([x], [y], marker="o", ms=8, color=PALETTE["ink"], markerfacecolor="white", mew=2,
                   linestyle="none", zorder=5, label="chosen threshold")
    dot.set_gid(f"chosen-{panel}")
    offset = (-10 if x > 0.5 else 10, -14 if y > 0.5 else 14)
    label = ax.annotate(text, xy, xytext=offset, textcoords="offset points", fontsize=8.5,
                        ha="right" if x > 0.5 else "left", va="top" if y > 0.5 else "bottom",
                        color=PALETTE["ink"], zorder=6,
                        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": PALETTE["grid"], "alpha": 0.9})
    label.set_gid(f"chosen-label-{panel}")


# -- learning-rate range test ----------------------------------------------------------------


def lr_find_marks(result: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`lr_find_svg` draws, in data coordinates (a testable plan).

    ``result``: a learning-rate range test's ``to_dict()`` (``lrs``, ``losses``, ``smoothed``,
    ``suggestion``, ``stopped``). Returns ``{"raw": [(lr, loss)...], "smoothed": [...],
    "suggestion": (lr, smoothed loss there), "stop": (lr, smoothed loss), "stopped"}``; steps
    whose loss is not finite are left out, and the suggestion's loss is the smoothed curve's,
    read at its learning rate on the log axis.
    """
    import math

    import numpy as np

    lrs = [float(v) for v in result.get("lrs") or []]

    def finite(values: Any) -> list[tuple[float, float]]:
        return [(lr, float(v)) for lr, v in zip(lrs, values or []) if v is not None and math.isfinite(v)]

    raw, smoothed = finite(result.get("losses")), finite(result.get("smoothed"))
    suggestion = stop = None
    if smoothed:
        xs = np.log([p[0] for p in smoothed])
        ys = [p[1] for p in smoothed]
        lr = float(result["suggestion"])
        suggestion = (lr, float(np.interp(math.log(lr), xs, ys)))
        stop = smoothed[-1]
    return {"raw": raw, "smoothed": smoothed, "suggestion": suggestion, "stop": stop,
            "stopped": str(result.get("stopped") or "")}


def lr_find_svg(result: Mapping[str, Any]) -> str:
    """Loss against learning rate (log axis): each step's loss and the smoothed loss, the
    suggested learning rate and the step where the test stopped marked with their values."""
    with _style():
        return _to_svg(_lr_find_figure(result), "lrfind",
                       "Training loss against learning rate with the suggested learning rate")


def lr_find_png(result: Mapping[str, Any]) -> bytes:
    """:func:`lr_find_svg` as a PNG image (for a file that is not inlined)."""
    with _style():
        return _to_png(_lr_find_figure(result))


def _lr_find_figure(result: Mapping[str, Any]) -> Any:
    marks = lr_find_marks(result)
    fig, ax = _figure(8.6, 3.6)
    if marks["raw"]:
        ax.plot(*zip(*marks["raw"]), color=PALETTE["faint"], lw=1, label="loss per step")
    if marks["smoothed"]:
        line, = ax.plot(*zip(*marks["smoothed"]), color=PALETTE["train"], lw=2, label="smoothed loss")
        line.set_gid("lr-smoothed")
    if marks["suggestion"] is not None:
        lr, loss = marks["suggestion"]
        ax.axvline(lr, color=PALETTE["dev"], lw=1.2, ls=(0, (4, 3)))
        dot, = ax.plot([lr], [loss], marker="o", ms=8, color=PALETTE["dev"], linestyle="none", zorder=5,
                       label=f"suggested lr {lr:.3g}")
        dot.set_gid("lr-suggestion")
        outside = not marks["smoothed"][0][0] <= lr <= marks["smoothed"][-1][0]
        text = f"suggested lr {lr:.3g}" + (" (outside the tested range)" if outside else "")
        ax.annotate(text, (lr, loss), xytext=(8, 10), textcoords="offset points", fontsize=8.5,
                    color=PALETTE["dev"], fontweight="bold", zorder=6)
    if marks["stop"] is not None:
        lr, loss = marks["stop"]
        why = "diverged" if marks["stopped"] == "diverged" else "last step"
        dot, = ax.plot([lr], [loss], marker="X", ms=9, color=PALETTE["avoidable_bias"], linestyle="none",
                       zorder=5, label=f"stopped: {why} at lr {lr:.3g}")
        dot.set_gid("lr-stop")
        ax.annotate(f"stopped ({why})\nlr {lr:.3g}", (lr, loss), xytext=(-8, 8), textcoords="offset points",
                    ha="right", fontsize=8.5, color=PALETTE["ink"], zorder=6)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    # plain numbers: the log axis's default labels are mathtext, which this style draws as text
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    _clip_loss_axis(ax, marks)
    ax.set(title="Learning-rate range test", xlabel="learning rate (log scale)", ylabel="training loss")
    ax.grid(True, color=PALETTE["grid"], linewidth=0.7)
    ax.set_axisbelow(True)
    _legend_below(ax, ncols=4)
    return fig


def _clip_loss_axis(ax: Any, marks: Mapping[str, Any]) -> None:
    """The loss axis spans the smoothed curve: a single diverging step's loss would flatten it."""
    values = [p[1] for p in marks["smoothed"]]
    if not values:
        return
    low, high = min(values + [p[1] for p in marks["raw"]]), max(values)
    pad = (high - low) * 0.12 or abs(high) * 0.1 or 1.0
    ax.set_ylim(max(low - pad, 0.0) if low >= 0 else low - pad, high + pad)
