"""ROC, precision-recall and calibration of the dev split, when the predictions table has
``proba_<class>`` columns (scikit-learn computes the curves; matplotlib draws one SVG)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mlstrat._constants import SPLIT_DISPLAY
from mlstrat._exceptions import InputError

__all__ = ["probability_curves"]

_ORDER = ("dev", "test", "train_dev", "train")
_BINS = 10


def _split_arrays(predictions: str | os.PathLike) -> tuple[str, np.ndarray, np.ndarray, list[str]] | None:
    """(split, true labels as text, probabilities (N, K), class names) of the first split present."""
    from mlstrat.tables import describe_source, expand_proba_lists, read_table

    table = read_table(predictions, text_columns=("id",))
    if not {"split", "y_true"} <= set(table.columns):
        return None
    name = describe_source(predictions)
    table = expand_proba_lists(table, name=name)
    proba_cols = [c for c in table.columns if c.startswith("proba_")]
    if not proba_cols:
        return None
    frame = table.select("split", "y_true", *proba_cols).to_pandas()
    for split in _ORDER:
        part = frame[frame.split.astype(str) == split]
        if len(part):
            for col in proba_cols:
                _check_probabilities(part[col], column=col, split=split, name=name)
            classes = [c[len("proba_"):] for c in proba_cols]
            return split, part.y_true.astype(str).to_numpy(), part[proba_cols].to_numpy(dtype=float), classes
    return None


def _check_probabilities(values: Any, *, column: str, split: str, name: str) -> None:
    """Refuse a probability column with a value outside [0, 1] (or not a number), naming one and the count."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~((numbers >= 0) & (numbers <= 1))  # NaN and text (coerced to NaN) fail both comparisons
    count = int(bad.sum())
    if count:
        first = values.to_numpy()[bad.argmax()]
        first = first.item() if hasattr(first, "item") else first  # a numpy scalar shown as the number
        raise InputError(f"{name}: column {column!r} holds {count} value(s) outside [0, 1] in split {split!r} "
                         f"(e.g. {first!r}); "
                         "proba_<class> columns hold probabilities: write softmax outputs, not logits or scores")


def probability_curves(predictions: str | os.PathLike) -> dict[str, Any] | None:
    """The report's section: an SVG with ROC, precision-recall and calibration, and the AUCs.

    Binary tables use the positive class (the second column); multiclass tables are read one
    class against the rest, micro-averaged, and calibrated on the top-class confidence.
    Probabilities written as lists are read as :func:`mlstrat.tables.expand_proba_lists` says.

    Raises
    ------
    InputError
        When a ``proba_<class>`` value is outside [0, 1], empty or not a number, or a list
        column cannot be read as per-class probabilities.
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    arrays = _split_arrays(predictions)
    if arrays is None:
        return None
    split, y_true, proba, classes = arrays
    onehot = (y_true[:, None] == np.asarray(classes)[None, :]).astype(int)  # (N, K)
    if len(classes) == 2:
        truth, score = onehot[:, 1], proba[:, 1]
        conf_truth, confidence = truth, score
        what = f"class {classes[1]} vs {classes[0]}"
    else:
        truth, score = onehot.ravel(), proba.ravel()
        top = proba.argmax(axis=1)
        conf_truth, confidence = onehot[np.arange(len(top)), top], proba[np.arange(len(top)), top]
        what = "one class vs the rest, micro-averaged"
    if truth.min() == truth.max():
        return None  # one class only: no curve is defined
    fpr, tpr, _ = roc_curve(truth, score)
    precision, recall, _ = precision_recall_curve(truth, score)
    frac_pos, mean_pred = calibration_curve(conf_truth, confidence, n_bins=_BINS, strategy="uniform")
    roc_auc, ap = float(auc(fpr, tpr)), float(average_precision_score(truth, score))
    svg = _draw(fpr, tpr, recall, precision, mean_pred, frac_pos, roc_auc=roc_auc, ap=ap,
                base_rate=float(truth.mean()), multiclass=len(classes) > 2)
    return {"split": SPLIT_DISPLAY.get(split, split), "svg": svg, "roc_auc": roc_auc, "average_precision": ap,
            "what": what, "n": int(len(y_true))}


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
