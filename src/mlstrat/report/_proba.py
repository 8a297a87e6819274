"""ROC, precision-recall and calibration of the dev split, when the predictions table has
``proba_<class>`` columns.

The engine computes the curves as binned counts: the scores are cut into :data:`BINS` equal
bins of [0, 1] and each bin counts its positives and negatives (and the calibration's ten bins
their scores and hits), so only O(bins) rows reach Python whatever the table size. The ROC
and precision-recall curves are drawn through the bins' edges; the area under the ROC is the
trapezoid through them, which counts a positive and a negative in the same bin as half
ordered. It differs from the exact area (scikit-learn's ``roc_auc_score``) by at most half the
share of (positive, negative) pairs that share a bin, a bound computed from the same counts
and shown with the figure (``roc_auc_bound``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mlstrat._constants import SPLIT_DISPLAY
from mlstrat._exceptions import InputError

__all__ = ["BINS", "binned_curves", "label_as_text", "open_predictions", "probability_curves"]

_ORDER = ("dev", "test", "train_dev", "train")
#: calibration bins (scikit-learn's ``calibration_curve(n_bins=10, strategy="uniform")``)
_CALIBRATION_BINS = 10
#: score bins of the ROC and precision-recall curves
BINS = 10_000


def open_predictions(predictions: Any, *, con: Any = None) -> tuple[Any, str] | None:
    """The predictions as an engine table (probability lists expanded) and its name; ``None``
    without ``split`` and ``y_true``. ``con``: the engine (the process-wide one by default)."""
    from mlstrat.tables import describe_source, expand_proba_lists, read_table

    table = read_table(predictions, con=con, text_columns=("id",))
    if not {"split", "y_true"} <= set(table.columns):
        return None
    name = describe_source(predictions)
    return expand_proba_lists(table, name=name), name


def _first_split(table: Any) -> tuple[str, int] | None:
    """The first split of :data:`_ORDER` present, and its row count (one small query)."""
    split = table.split.cast("string")
    sizes = {r["s"]: r["n"] for r in table.group_by(s=split).aggregate(n=table.count()).to_pyarrow().to_pylist()}
    return next(((s, int(sizes[s])) for s in _ORDER if sizes.get(s)), None)


def _check_probabilities(part: Any, columns: list[str], *, split: str, name: str) -> dict[str, Any]:
    """Refuse a probability column with a value outside [0, 1] (or not a number), naming the
    first (by id) and the count; one engine query for every column. Returns the numbers."""
    numbers, aggs = {}, {}
    key = part.id.cast("string") if "id" in part.columns else None
    for k, col in enumerate(columns):
        raw = part[col]
        number = raw.cast("float64") if raw.type().is_numeric() else raw.cast("string").try_cast("float64")
        numbers[col] = number
        bad = ~((number >= 0) & (number <= 1)).fill_null(False)  # NaN and text fail both comparisons
        aggs[f"n{k}"] = bad.ifelse(1, 0).sum()
        shown = raw if raw.type().is_numeric() or raw.type().is_string() else raw.cast("string")
        aggs[f"e{k}"] = shown.argmin(key, where=bad) if key is not None else shown.min(where=bad)
    found = part.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    for k, col in enumerate(columns):
        if found[f"n{k}"]:
            first = found[f"e{k}"]
            first = float("nan") if first is None else first  # an empty cell reads as a missing number
            raise InputError(f"{name}: column {col!r} holds {found[f'n{k}']} value(s) outside [0, 1] in split "
                             f"{split!r} (e.g. {first!r}); "
                             "proba_<class> columns hold probabilities: write softmax outputs, not logits or scores")
    return numbers


def label_as_text(column: Any) -> Any:
    """Labels as text the way ``proba_<class>`` columns spell them (``3.0`` -> ``"3"``)."""
    import ibis

    kind = column.type()
    if kind.is_floating():
        whole = column.notnull() & ~column.isnan() & ~column.isinf() & (column == column.floor())
        return ibis.ifelse(whole, column.cast("int64").cast("string"), column.cast("string"))
    if kind.is_boolean():
        return ibis.ifelse(column, "True", "False")
    return column.cast("string")


def _scores(part: Any, numbers: dict[str, Any], classes: list[str]) -> tuple[Any, Any]:
    """(score, truth) pairs of the ROC: the positive class's probability (binary), or every
    class's against the rest (multiclass, micro-averaged: one row per row and class); and
    (confidence, hit) rows of the calibration."""
    import ibis

    truth = label_as_text(part.y_true)
    cols = [numbers[f"proba_{c}"] for c in classes]
    if len(classes) == 2:
        pairs = part.select(score=cols[1], positive=(truth == classes[1]).ifelse(1, 0))
        return pairs, pairs.select(confidence=pairs.score, hit=pairs.positive)
    pairs = ibis.union(*[part.select(score=col, positive=(truth == c).ifelse(1, 0))
                         for c, col in zip(classes, cols)], distinct=False)
    top = ibis.greatest(*cols)
    predicted = ibis.cases(*[(col == top, c) for c, col in zip(classes[:-1], cols[:-1])], else_=classes[-1])
    calibration = part.select(confidence=top, hit=(truth == predicted).ifelse(1, 0))
    return pairs, calibration


def binned_curves(pairs: Any, calibration: Any, *, bins: int = BINS) -> dict[str, np.ndarray]:
    """Engine queries: positives and negatives per score bin (``bins`` equal bins of [0, 1],
    the top one closed), and per calibration bin the rows, their summed confidence and hits."""
    import ibis

    b = ibis.least((pairs.score * bins).floor().cast("int64"), bins - 1)
    roc = pairs.group_by(b=b).aggregate(pos=pairs.positive.sum(), n=pairs.count()).to_pyarrow().to_pydict()
    pos, neg = np.zeros(bins), np.zeros(bins)
    idx = np.asarray(roc["b"], dtype=np.int64)
    pos[idx] = roc["pos"]
    neg[idx] = np.asarray(roc["n"], dtype=float) - np.asarray(roc["pos"], dtype=float)
    # scikit-learn's bin of p: the number of inner edges below p (np.searchsorted, side="left")
    edges = np.linspace(0.0, 1.0, _CALIBRATION_BINS + 1)[1:-1]
    c = sum((calibration.confidence > ibis.literal(repr(float(e))).cast("float64")).ifelse(1, 0) for e in edges)
    cal = calibration.group_by(c=c).aggregate(n=calibration.count(), conf=calibration.confidence.sum(),
                                              hits=calibration.hit.sum()).order_by("c").to_pyarrow().to_pydict()
    return {"pos": pos, "neg": neg, "cal_n": np.asarray(cal["n"], dtype=float),
            "cal_conf": np.asarray(cal["conf"], dtype=float), "cal_hits": np.asarray(cal["hits"], dtype=float)}


def roc_from_bins(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(fpr, tpr) through the bins' lower edges, highest first; the trapezoid area; and the
    bound on its distance to the exact area: half the share of pairs that share a bin."""
    P, N = pos.sum(), neg.sum()
    tp, fp = np.concatenate([[0.0], np.cumsum(pos[::-1])]), np.concatenate([[0.0], np.cumsum(neg[::-1])])
    tpr, fpr = tp / P, fp / N
    area = float(np.trapezoid(tpr, fpr))
    return fpr, tpr, area, float(0.5 * (pos * neg).sum() / (P * N))


def pr_from_bins(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(recall, precision) at each non-empty bin's lower edge, highest first, and the average
    precision ``sum (R_n - R_{n-1}) P_n`` over those thresholds (scikit-learn's definition)."""
    keep = (pos + neg)[::-1] > 0
    tp, fp = np.cumsum(pos[::-1])[keep], np.cumsum(neg[::-1])[keep]
    precision, recall = tp / (tp + fp), tp / pos.sum()
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
    return np.concatenate([[0.0], recall]), np.concatenate([[1.0], precision]), ap


def probability_curves(predictions: str | os.PathLike, *,
                       opened: tuple[Any, str] | None = None) -> dict[str, Any] | None:
    """The report's section: an SVG with ROC, precision-recall and calibration, and the AUCs.

    Binary tables use the positive class (the second column); multiclass tables are read one
    class against the rest, micro-averaged, and calibrated on the top-class confidence.
    Probabilities written as lists are read as :func:`mlstrat.tables.expand_proba_lists` says.
    The engine bins the scores (module docstring); ``roc_auc_bound`` is the most the binned
    area can differ from the exact one.

    Raises
    ------
    InputError
        When a ``proba_<class>`` value is outside [0, 1], empty or not a number, or a list
        column cannot be read as per-class probabilities.
    """
    opened = opened or open_predictions(predictions)
    if opened is None:
        return None
    table, name = opened
    proba_cols = [c for c in table.columns if c.startswith("proba_")]
    first = _first_split(table) if proba_cols else None
    if first is None:
        return None
    split, n = first
    part = table.filter(table.split.cast("string") == split)
    numbers = _check_probabilities(part, proba_cols, split=split, name=name)
    classes = [c[len("proba_"):] for c in proba_cols]
    counts = binned_curves(*_scores(part, numbers, classes))
    pos, neg = counts["pos"], counts["neg"]
    if not pos.sum() or not neg.sum():
        return None  # one class only: no curve is defined
    fpr, tpr, roc_auc, bound = roc_from_bins(pos, neg)
    recall, precision, ap = pr_from_bins(pos, neg)
    mean_pred, frac_pos = counts["cal_conf"] / counts["cal_n"], counts["cal_hits"] / counts["cal_n"]
    multiclass = len(classes) > 2
    svg = _draw(fpr, tpr, recall[::-1], precision[::-1], mean_pred, frac_pos, roc_auc=roc_auc, ap=ap,
                base_rate=float(pos.sum() / (pos.sum() + neg.sum())), multiclass=multiclass)
    what = "one class vs the rest, micro-averaged" if multiclass else f"class {classes[1]} vs {classes[0]}"
    return {"split": SPLIT_DISPLAY.get(split, split), "svg": svg, "roc_auc": roc_auc, "roc_auc_bound": bound,
            "average_precision": ap, "what": what, "n": n, "bins": BINS}


def _draw(fpr: Any, tpr: Any, recall: Any, precision: Any, mean_pred: Any, frac_pos: Any, *, roc_auc: float,
          ap: float, base_rate: float, multiclass: bool) -> str:
    from mlstrat.display._charts import PALETTE, _figure, _style, _to_svg

    with _style():
        fig, (roc, pr, cal) = _figure(10.5, 3.4, ncols=3)
        roc.plot([0, 1], [0, 1], color=PALETTE["grid"], lw=1, ls="--")
        roc.plot(fpr, tpr, color=PALETTE["dev"], lw=1.8)
        roc.set(title=f"ROC (AUC {roc_auc:.3f})", xlabel="false positive rate", ylabel="true positive rate",
                xlim=(0, 1), ylim=(0, 1.02))
        pr.axhline(base_rate, color=PALETTE["grid"], lw=1, ls="--")
        pr.plot(recall, precision, color=PALETTE["dev"], lw=1.8, drawstyle="steps-post")
        pr.set(title=f"Precision-recall (AP {ap:.3f})", xlabel="recall", ylabel="precision",
               xlim=(0, 1), ylim=(0, 1.02))
        cal.plot([0, 1], [0, 1], color=PALETTE["grid"], lw=1, ls="--")
        cal.plot(mean_pred, frac_pos, color=PALETTE["dev"], lw=1.8, marker="o", ms=4)
        cal.set(title="Calibration", xlabel="top-class confidence" if multiclass else "predicted probability",
                ylabel="fraction correct" if multiclass else "fraction positive", xlim=(0, 1), ylim=(0, 1.02))
        return _to_svg(fig, "proba", "ROC, precision-recall and calibration curves")
