"""The report's charts: matplotlib figures rendered to inline SVG (Agg-free, no pyplot state).

Each function takes the report's plain view data and returns an ``<svg>`` element as text,
ready to inline: no XML prologue, no DOCTYPE (it names a URL), no metadata, ids prefixed so
that several charts can share one HTML document, glyphs drawn as paths (no font files).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mlstrat.display._numbers import column_digits, format_pct, format_pts
from mlstrat.display._palette import PALETTE

__all__ = ["PALETTE", "staircase_svg", "learning_curves_svg", "dynamics_svg", "confusion_svg", "history_svg",
           "error_analysis_svg"]


_RC = {
    "svg.fonttype": "path",      # text as paths: no font files, same look in every browser
    "svg.hashsalt": "mlstrat",   # deterministic ids (the bytes of a report are reproducible)
    "text.parse_math": False,    # labels are user data: "$5 $off" is text, not mathtext to parse
    "font.size": 10,
    "font.family": "DejaVu Sans",
    "axes.edgecolor": PALETTE["grid"],
    "axes.labelcolor": PALETTE["ink"],
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": PALETTE["muted"],
    "ytick.color": PALETTE["muted"],
    "legend.frameon": False,
}


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # a Figure with its own Agg canvas: no pyplot, no global backend switch, thread-safe
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def _pct_axis(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    # decimals=None: as many as the tick spacing needs (2.5% is not shown as "2%")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=None))


def _to_svg(fig: Any, prefix: str, label: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    return clean_svg(buf.getvalue(), prefix=prefix, label=label)


def clean_svg(text: str, *, prefix: str, label: str) -> str:
    """Make matplotlib's SVG document an inline element (see the module docstring)."""
    start = text.find("<svg")
    text = text[start:]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)

    def root(match: re.Match[str]) -> str:
        attrs = re.sub(r'\s(width|height)="[^"]*"', "", match.group(1))
        escaped = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        return f'<svg{attrs} role="img" aria-label="{escaped}" preserveAspectRatio="xMidYMid meet">'

    return re.sub(r"<svg([^>]*)>", root, text, count=1).strip()


def _legend_below(ax: Any, *, ncols: int = 3) -> None:
    """The legend under the axes, outside them: it never covers the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=ncols, fontsize=8.5, frameon=False)


def _style(rc: Mapping[str, Any] = _RC) -> Any:
    import matplotlib

    return matplotlib.rc_context(rc)


# -- the staircase --------------------------------------------------------------------------


def staircase_svg(levels: Sequence[Mapping[str, Any]], *, ylabel: str = "error",
                  rate: bool = True) -> str:
    """Waterfall from human level to test: each step's rise is a labelled component.

    ``levels``: ``{"name", "label", "value", "ci_low", "ci_high", "component", "component_label",
    "significant", "note", "whisker_low", "whisker_high"}`` in staircase order; the first is the
    human level (``component`` None). A step's whisker is its component's interval
    (``whisker_low``/``whisker_high``, placed on the level before it); the first level's whisker
    is its own interval. A negative step is drawn as a drop (hatched, pointing down).
    ``rate``: figures are fractions shown as percentages; False for a metric in its own unit
    (RMSE, a word error rate, a mean log loss).
    """
    values = [lv["value"] for lv in levels]
    digits = column_digits(values + [b - a for a, b in zip(values, values[1:])])
    fig_text = (lambda v: format_pct(v, digits=digits)) if rate else (lambda v: "-" if v is None else f"{v:.4g}")
    gap_text = (lambda v: format_pts(v, digits=digits)) if rate else (lambda v: f"{v:+.3g}")
    with _style():
        fig, ax = _figure(8.6, 3.9)
        top = max([lv["value"] for lv in levels] + [_whisker(lv, i)[1] or 0 for i, lv in enumerate(levels)]
                  + [1e-4])
        width = 0.62
        prev: float | None = None
        for i, lv in enumerate(levels):
            value = lv["value"]
            if prev is None:
                first = PALETTE["human"] if lv["name"] == "human" else PALETTE.get(lv["name"], PALETTE["gap"])
                ax.bar(i, value, width, color=first, alpha=0.9, zorder=2)
            else:
                _step(ax, i, lv, prev, width=width, top=top, gap_text=gap_text)
            lo, hi = _whisker(lv, i)
            if lo is not None and hi is not None:
                # the whisker spans the interval, centred on nothing: the step's top may sit off-centre
                err = ax.errorbar(i, value, yerr=[[max(value - lo, 0)], [max(hi - value, 0)]], fmt="none",
                                  ecolor=PALETTE["ink"], elinewidth=1.0, capsize=4, zorder=5)
                for artist in err.lines[2]:
                    artist.set_gid(f"whisker-{lv.get('component') or lv['name']}")
            prev = value
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels([f"{lv['label']}\n{fig_text(lv['value'])}" for lv in levels], fontsize=9.5)
        ax.tick_params(axis="x", length=0, colors=PALETTE["ink"])
        ax.set_ylim(0, top * 1.45)
        ax.set_xlim(-0.6, len(levels) - 0.4)
        ax.yaxis.grid(True, color=PALETTE["grid"], linewidth=0.7)
        ax.set_axisbelow(True)
        if rate:
            _pct_axis(ax)
        ax.set_ylabel(ylabel)
        return _to_svg(fig, "stair", "Error staircase from human level to test with each component")


def _whisker(level: Mapping[str, Any], index: int) -> tuple[float | None, float | None]:
    """The interval drawn on a level: its step's (a component's, or an undetermined gap's) for a
    step, its own for the first level."""
    if index == 0:
        return level.get("ci_low"), level.get("ci_high")
    return level.get("whisker_low"), level.get("whisker_high")


def _step(ax: Any, i: int, lv: Mapping[str, Any], prev: float, *, width: float, top: float,
          gap_text: Any) -> None:
    """One step: the grey base, the rise (solid) or the drop (hatched), the dashed link and the
    label with the component's value and, when it is not a problem, why not."""
    value = lv["value"]
    comp = lv.get("component")
    base, size = min(prev, value), abs(value - prev)
    ax.bar(i, base, width, color=PALETTE["base"], zorder=1)
    color = PALETTE.get(comp or "gap", PALETTE["gap"])
    significant = lv.get("significant", True)
    drop = value < prev
    bars = ax.bar(i, size, width, bottom=base, color=color if not drop else "none",
                  alpha=0.95 if significant else 0.45, edgecolor=color, hatch="////" if drop else None,
                  linewidth=1.2 if drop else 0, zorder=2)
    for patch in bars.patches:
        patch.set_gid(f"{'drop' if drop else 'rise'}-{comp or 'gap'}")
    ax.plot([i - 1 + width / 2, i - width / 2], [prev, prev], color=PALETTE["muted"],
            linewidth=0.9, linestyle=(0, (3, 2)), zorder=3)
    if drop:  # an arrow down the step: a drop never reads as a rise
        ax.annotate("", xy=(i, value), xytext=(i, prev), zorder=4,
                    arrowprops={"arrowstyle": "-|>", "color": PALETTE["ink"], "linewidth": 1.0})
    name = lv.get("component_label") or "gap"
    note = lv.get("note")
    text = f"{name}\n{gap_text(value - prev)}" + (f"\n{note}" if note else "")
    # above the whisker, so the label never sits on the interval
    y_text = max(value, prev, lv.get("whisker_high") or 0) + top * 0.04
    label = ax.annotate(text, (i, y_text), ha="center", va="bottom", fontsize=8.6,
                        color=PALETTE["ink"] if significant else PALETTE["muted"], fontweight="bold", zorder=4)
    label.set_gid(f"label-{comp or 'gap'}-{(note or 'problem').replace(' ', '-')}")


# -- learning curves ------------------------------------------------------------------------


def learning_curves_svg(epochs: Sequence[Mapping[str, Any]], *, best_epoch: int | None = None,
                        human_level: float | None = None, stopped_early: bool = False) -> str:
    """Cost and error per epoch for train, train-dev (when the history has it) and dev, with the
    human-level line and best epoch."""
    from matplotlib.ticker import MaxNLocator

    with _style():
        fig, (ax_cost, ax_err) = _figure(8.6, 3.2, ncols=2)
        xs = [e.get("epoch") for e in epochs]
        for ax, kind, title in ((ax_cost, "cost", "Cost per epoch"), (ax_err, "error", "Error per epoch")):
            for split in ("train", "train_dev", "dev"):
                ys = [e.get(f"{split}_{kind}") for e in epochs]
                pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
                if pts:
                    line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], color=PALETTE[split],
                                    linewidth=2, label=split.replace("_", "-"),
                                    marker="o" if len(pts) <= 30 else None, markersize=3)
                    line.set_gid(f"line-{split}-{kind}")
            if best_epoch is not None:
                ax.axvline(best_epoch, color=PALETTE["muted"], linestyle=":", linewidth=1.2,
                           label=f"best epoch ({best_epoch})")
            ax.set_title(title, color=PALETTE["ink"])
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.grid(True, color=PALETTE["grid"], linewidth=0.7)
            ax.set_axisbelow(True)
        if human_level is not None:
            ax_err.axhline(human_level, color=PALETTE["human"], linestyle="--", linewidth=1.5,
                           label=f"human level ({format_pct(human_level)})")
        ax_err.set_ylim(bottom=0)
        _pct_axis(ax_err)
        for ax in (ax_cost, ax_err):
            _legend_below(ax)
        if stopped_early:
            ax_cost.annotate("stopped early", xy=(0.02, 0.04), xycoords="axes fraction",
                             color=PALETTE["muted"], fontsize=8.5)
        return _to_svg(fig, "curves", "Learning curves: train and dev cost and error per epoch")


def dynamics_svg(epochs: Sequence[Mapping[str, Any]]) -> str | None:
    """Learning rate per epoch and gradient norm per layer and epoch (log scale: vanishing and
    exploding gradients are orders of magnitude); None when the history has neither.

    A panel that carries no information is left out: a constant learning rate has no panel
    (None when it is also the only panel)."""
    from matplotlib.ticker import MaxNLocator

    xs = [e.get("epoch") for e in epochs]
    lrs = [e.get("lr") for e in epochs]
    layers: dict[str, list[tuple[int, float]]] = {}
    for x, e in zip(xs, epochs):
        for name, stats in (e.get("layers") or {}).items():
            g = stats.get("grad_norm") if isinstance(stats, Mapping) else None
            if isinstance(g, (int, float)) and g > 0 and g == g and g != float("inf"):
                layers.setdefault(name, []).append((x, float(g)))
    pts = [(x, y) for x, y in zip(xs, lrs) if x is not None and y is not None]
    lr_varies = len({y for _, y in pts}) > 1
    if not lr_varies and not layers:
        return None
    import matplotlib as mpl

    with _style():
        if lr_varies and layers:
            fig, (ax_lr, ax_g) = _figure(8.6, 3.0, ncols=2)
        else:
            fig, only = _figure(8.6 if layers else 4.6, 3.0)
            ax_lr, ax_g = (only, None) if lr_varies else (None, only)
        if ax_lr is not None:
            ax_lr.plot([p[0] for p in pts], [p[1] for p in pts], color=PALETTE["train"], linewidth=2,
                       marker="o" if len(pts) <= 30 else None, markersize=3)
            ax_lr.set_title("Learning rate", color=PALETTE["ink"])
            ax_lr.set_ylabel("learning rate")
        if ax_g is not None:
            ax_g.set_title("Gradient norm per layer", color=PALETTE["ink"])
            ax_g.set_ylabel("gradient norm (L2, log scale)").set_gid("grad-norm-axis-label")
        cmap = mpl.colormaps["viridis"]
        for i, (name, series) in enumerate(layers.items() if ax_g is not None else ()):
            color = cmap(i / max(len(layers) - 1, 1) * 0.9)
            ax_g.plot([p[0] for p in series], [p[1] for p in series], color=color, linewidth=1.8, label=name)
        if ax_g is not None:
            ax_g.set_yscale("log")
            # beside the axes: the lines of a deep network fill the plot area
            ax_g.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7.5, frameon=False)
        for ax in (a for a in (ax_lr, ax_g) if a is not None):
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.grid(True, color=PALETTE["grid"], linewidth=0.7)
            ax.set_axisbelow(True)
        return _to_svg(fig, "dynamics", "Learning rate and gradient norm per layer, per epoch")


# -- confusion matrix -----------------------------------------------------------------------


def confusion_svg(labels: Sequence[str], matrix: Sequence[Sequence[float]], *, split: str) -> str:
    """Row-normalized heatmap (recall per true class) with the counts written in the cells."""
    import numpy as np

    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    k = len(labels)
    # small in inches: the page shows it about 480 px wide, so the text stays readable
    side = min(max(3.0, 0.28 * k + 1.4), 5.5)
    with _style():
        fig, ax = _figure(side + 0.9, side)
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="equal")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels([str(x) for x in labels], rotation=0 if k <= 12 else 90, fontsize=8.5)
        ax.set_yticklabels([str(x) for x in labels], fontsize=8.5)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if k <= 20:
            for r in range(k):
                for c in range(k):
                    if counts[r, c]:
                        ax.text(c, r, f"{int(counts[r, c])}", ha="center", va="center",
                                fontsize=8 if k <= 12 else 6.5,
                                color="white" if shares[r, c] > 0.55 else PALETTE["ink"])
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
        bar.outline.set_visible(False)
        bar.ax.tick_params(labelsize=8, colors=PALETTE["muted"])
        return _to_svg(fig, f"cm-{split}", f"Confusion matrix of the {split} split")


# -- run history ----------------------------------------------------------------------------


def history_svg(names: Sequence[str], errors: Mapping[str, Sequence[float | None]],
                components: Mapping[str, Sequence[float | None]], *, human_level: float | None = None,
                component_labels: Mapping[str, str] | None = None,
                split_labels: Mapping[str, str] | None = None) -> str:
    """Errors per split across runs (left) and the components of each run (right)."""
    import numpy as np

    component_labels = component_labels or {}
    split_labels = split_labels or {}
    n = len(names)
    with _style():
        fig, (ax_err, ax_comp) = _figure(8.6, 3.3, ncols=2)
        xs = np.arange(n)
        for split, values in errors.items():
            pts = [(x, v) for x, v in zip(xs, values) if v is not None]
            if pts:
                ax_err.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", linewidth=2,
                            color=PALETTE.get(split, PALETTE["gap"]), label=split_labels.get(split, split))
        if human_level is not None:
            ax_err.axhline(human_level, color=PALETTE["human"], linestyle="--", linewidth=1.4,
                           label="human level")
        ax_err.set_title("Error by run", color=PALETTE["ink"])
        ax_err.set_ylim(bottom=0)
        _legend_below(ax_err)
        present = [c for c, v in components.items() if any(x is not None for x in v)]
        width = 0.8 / max(len(present), 1)
        for j, comp in enumerate(present):
            vals = [v if v is not None else 0.0 for v in components[comp]]
            ax_comp.bar(xs - 0.4 + width * (j + 0.5), vals, width * 0.92,
                        color=PALETTE.get(comp, PALETTE["gap"]), label=component_labels.get(comp, comp))
        ax_comp.axhline(0, color=PALETTE["muted"], linewidth=0.8)
        ax_comp.set_title("Components by run", color=PALETTE["ink"])
        if present:
            _legend_below(ax_comp)
        for ax in (ax_err, ax_comp):
            ax.set_xticks(xs)
            ax.set_xticklabels(names, fontsize=8.5, rotation=0 if n <= 6 else 45,
                               ha="center" if n <= 6 else "right")
            ax.yaxis.grid(True, color=PALETTE["grid"], linewidth=0.7)
            ax.set_axisbelow(True)
            ax.set_xlim(-0.6, n - 0.4)
            _pct_axis(ax)
        return _to_svg(fig, "history", "Errors and components across runs")


# -- error analysis -------------------------------------------------------------------------


def error_analysis_svg(categories: Sequence[Mapping[str, Any]], *, split_error: float | None,
                       labels: Sequence[str] | None = None) -> str:
    """Ceiling per category (how much error fixing it can remove at most), largest first.

    ``labels``: the text beside each bar, as the page's table shows those figures (default:
    the ceiling and the share, each column at one precision)."""
    cats = list(categories)[:15]
    names = [str(c.get("name")) for c in cats][::-1]
    ceilings = [float(c.get("ceiling") or 0.0) for c in cats][::-1]
    shares = [c.get("share") for c in cats][::-1]
    if labels is None:
        share_digits = column_digits([s for s in shares if s is not None])
        digits = column_digits(ceilings)
        labels = [format_pct(ceiling, digits=digits)
                  + (f" ({format_pct(share, digits=share_digits)} of errors)" if share is not None else "")
                  for ceiling, share in zip(ceilings[::-1], shares[::-1])]
    texts = list(labels)[:len(cats)][::-1]
    with _style():
        fig, ax = _figure(8.6, 0.36 * len(cats) + 1.1)
        ys = range(len(cats))
        if split_error:
            ax.barh(ys, [split_error] * len(cats), 0.62, color=PALETTE["base"], zorder=1)
        # the split's colour: a category is part of the dev error, not a component
        ax.barh(ys, ceilings, 0.62, color=PALETTE["dev"], zorder=2)
        ax.set_yticks(list(ys))
        ax.set_yticklabels(names, fontsize=9)
        ax.tick_params(axis="y", length=0)
        right = max([split_error or 0.0] + ceilings + [1e-4])
        for y, ceiling, text in zip(ys, ceilings, texts):
            ax.text(ceiling + right * 0.01, y, text, va="center", fontsize=8.5, color=PALETTE["ink"], zorder=3)
        ax.set_xlim(0, right * 1.3)
        ax.xaxis.grid(True, color=PALETTE["grid"], linewidth=0.7)
        ax.set_axisbelow(True)
        _pct_axis(ax, "x")
        ax.set_xlabel("ceiling: the most error fixing the category can remove"
                      + (f" (grey: the split's error {format_pct(split_error)})" if split_error else ""))
        return _to_svg(fig, "ea", "Error-analysis ceilings per category")


# -- learning curve against training-set size ------------------------------------------------


def size_curve_svg(curve: Mapping[str, Any]) -> str:
    """Train and dev figures against training-set size (log x), dev 95% band, human line and
    the fitted power law extended to twice the largest size (the "more data" prediction)."""
    import numpy as np

    points = curve.get("points") or []
    metric = str(curve.get("metric") or "error")
    rate = metric == "error"
    with _style():
        fig, ax = _figure(8.6, 3.6)
        sizes = [p["size"] for p in points]
        for split in ("train", "train_dev", "dev"):
            if not points or any(split not in p for p in points):  # train-dev: only when held out
                continue
            ax.plot(sizes, [p[split]["value"] for p in points], color=PALETTE[split], linewidth=2,
                    marker="o", markersize=4, label=split.replace("_", "-"), zorder=3)
        ax.fill_between(sizes, [p["dev"]["ci_low"] for p in points], [p["dev"]["ci_high"] for p in points],
                        color=PALETTE["dev"], alpha=0.15, linewidth=0, label="dev 95% interval")
        fit = curve.get("fit") or {}
        # no forecast drawn when the exponent's interval includes 0 (no reliable trend)
        doubling = fit.get("doubling") if fit.get("reliable", True) else None
        if fit and doubling:
            xs = np.geomspace(min(sizes), doubling["to"], 60)
            ax.plot(xs, fit["floor"] + fit["scale"] * xs ** (-fit["exponent"]), color=PALETTE["dev"],
                    linestyle=(0, (4, 3)), linewidth=1.3,
                    label=f"power law, exponent {fit['exponent']:.2f}")
            ax.errorbar([doubling["to"]], [doubling["dev_predicted"]],
                        yerr=[[doubling["dev_predicted"] - doubling["ci_low"]],
                              [doubling["ci_high"] - doubling["dev_predicted"]]],
                        fmt="D", color=PALETTE["dev"], markersize=5, capsize=4, zorder=4,
                        label="predicted at 2× data")
        human = curve.get("human_level")
        if human is not None:
            ax.axhline(human, color=PALETTE["human"], linestyle="--", linewidth=1.5,
                       label=f"human level ({format_pct(human) if rate else f'{human:.4g}'})")
        from matplotlib.ticker import FixedLocator, NullLocator

        ax.set_xscale("log")
        ticks = sizes + ([doubling["to"]] if fit and doubling else [])
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{t:,}" for t in ticks])
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(metric)
        ax.set_ylim(bottom=0)
        ax.yaxis.grid(True, color=PALETTE["grid"], linewidth=0.7)
        ax.set_axisbelow(True)
        if rate:
            _pct_axis(ax)
        _legend_below(ax)
        return _to_svg(fig, "sizecurve", "Train and dev figures against training-set size")
