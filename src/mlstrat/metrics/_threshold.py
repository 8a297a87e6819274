"""Operating points: the decision threshold picked on dev with the satisficing rule (docs/method.md §2).

A row is predicted positive when its ``proba_<positive>`` score is at or above the threshold.
The candidates are the distinct dev scores (each one a different confusion matrix). Candidates
that fail a requirement are out; among the rest the optimizing metric is maximized; ties go to
the higher threshold (fewer positive predictions for the same score). Only the dev rows'
label and score columns are pulled from the engine; the test split is used only with ``test=True``
and then counts one look at the sealed test set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError
from mlstrat._numbers import did_you_mean
from mlstrat.display import NotebookRepr
from mlstrat.metrics._from_counts import _f1_sd
from mlstrat.metrics._intervals import normal_interval, wilson_interval

__all__ = ["OperatingPoint", "Requirement", "choose_threshold", "parse_requirement"]

#: the metrics a threshold can optimize or be required to meet (fractions in [0, 1])
RATES = ("precision", "recall", "f1", "specificity", "fpr")
#: the metrics ``maximize`` accepts (higher is better)
MAXIMIZABLE = ("precision", "recall", "f1", "specificity")
_OPS = (">=", ">", "<=", "<")
#: the most dev thresholds an operating point keeps for its chart (a chart shows no more)
CHART_POINTS = 600


@dataclass(frozen=True)
class Requirement:
    """A satisficing requirement ``metric op value`` on a rate (``precision >= 95%``)."""

    metric: str
    op: str
    value: float
    text: str

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Elementwise: which of ``values`` meet the requirement."""
        return {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}[self.op](
            values, self.value)


def parse_requirement(text: str) -> Requirement:
    """Parse ``"precision>=95%"``; the value must carry ``%`` (a bare 0.95 is refused).

    Raises
    ------
    ConfigError
        When the text is not ``METRIC OP NUMBER%`` with a known metric and OP one of
        ``>= > <= <``.
    """
    from mlstrat.metrics._select import parse_constraint

    raw = str(text).strip()
    constraint = parse_constraint(raw)
    if constraint.column not in RATES:
        raise ConfigError(f"--require: unknown metric {constraint.column!r} in {raw!r}"
                          f"{did_you_mean(constraint.column, RATES)}; one of {', '.join(RATES)}")
    if constraint.op not in _OPS:
        raise ConfigError(f"--require: {raw!r} uses {constraint.op}; use one of {', '.join(_OPS)}")
    if not raw.endswith("%"):
        number = raw.split(constraint.op, 1)[1].strip()
        hint = f"{float(number) * 100:g}%"
        raise ConfigError(f"--require: {raw!r} gives a bare number; rates take a percent sign: "
                          f"write {constraint.column}{constraint.op}{hint}")
    if not 0.0 <= constraint.value <= 1.0:
        raise ConfigError(f"--require: {raw!r} is outside 0%-100%")
    return Requirement(constraint.column, constraint.op, constraint.value, constraint.text)


@dataclass(frozen=True)
class SplitPoint:
    """The confusion counts at the chosen threshold on one split, and the rates with 95% CIs."""

    split: str
    n: int
    tp: int
    fp: int
    fn: int
    tn: int

    def rates(self) -> dict[str, Any]:
        """precision, recall, f1, specificity, fpr and their 95% intervals (``<name>_ci``)."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        out: dict[str, Any] = {}
        for name, hits, total in (("precision", tp, tp + fp), ("recall", tp, tp + fn),
                                  ("specificity", tn, tn + fp), ("fpr", fp, tn + fp)):
            out[name] = hits / total if total else float("nan")
            out[f"{name}_ci"] = list(wilson_interval(hits, total)) if total else [float("nan")] * 2
        denom = 2 * tp + fp + fn
        f1 = 2 * tp / denom if denom else float("nan")
        # the metrics command's F1 interval: delta method on the binary confusion matrix
        sd = _f1_sd([[tn, fp], [fn, tp]], [1]) if denom else float("nan")
        out["f1"] = f1
        out["f1_ci"] = list(normal_interval(f1, sd)) if denom else [float("nan")] * 2
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"split": self.split, "n": self.n, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "tn": self.tn, **self.rates()}


@dataclass(frozen=True)
class OperatingPoint(NotebookRepr):
    """The threshold chosen on dev and what it gives.

    Attributes
    ----------
    feasible : bool
        False when no dev threshold meets every requirement (``threshold`` is then None and
        ``message`` names the best achievable value).
    threshold : float or None
        Predict ``positive`` when ``proba_<positive>`` >= threshold.
    positive : str
        The positive class (one against the rest when there are more than two).
    maximize : str
    requirements : tuple of Requirement
    dev, test : SplitPoint or None
        The counts and rates at the threshold; ``test`` only with ``test=True``.
    candidates, feasible_candidates : int
        Distinct dev scores tried, and how many met every requirement.
    curve : dict of list or None
        The dev precision-recall and ROC points (``threshold``, ``precision``, ``recall``,
        ``fpr``; at most :data:`CHART_POINTS`, the chosen one kept) that a chart of the
        operating point draws; not in :meth:`to_dict`.
    """

    feasible: bool
    threshold: float | None
    positive: str
    score_column: str
    maximize: str
    requirements: tuple[Requirement, ...]
    dev: SplitPoint | None
    test: SplitPoint | None = None
    candidates: int = 0
    feasible_candidates: int = 0
    message: str = ""
    source: str = ""
    warnings: tuple[dict[str, str], ...] = field(default=())
    curve: dict[str, list[float]] | None = field(default=None, repr=False, compare=False)

    def notebook_extras(self) -> dict[str, Any]:
        """What the notebook's chart needs beyond :meth:`to_dict`: the dev curves."""
        return {"curve": self.curve}

    def to_dict(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible,
            "threshold": self.threshold,
            "positive": self.positive,
            "score_column": self.score_column,
            "maximize": self.maximize,
            "require": [r.text for r in self.requirements],
            "rule": "satisficing: thresholds failing a requirement are out; the rest maximize "
                    f"{self.maximize}; ties go to the higher threshold",
            "candidates": self.candidates,
            "feasible_candidates": self.feasible_candidates,
            "dev": self.dev.to_dict() if self.dev else None,
            "test": self.test.to_dict() if self.test else None,
            "message": self.message,
            "source": self.source,
            "warnings": list(self.warnings),
        }


def threshold_curve(y: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    """Every distinct score as a threshold (descending) with its counts and rates.

    ``y`` is 1 for the positive class, 0 otherwise; the row is predicted positive when
    ``score >= threshold``.
    """
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score
    tp = np.cumsum(t)[last].astype(np.int64)
    fp = (last + 1 - tp).astype(np.int64)
    pos, neg = int(t.sum()), int(len(t) - t.sum())
    fn, tn = pos - tp, neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = {
            "precision": tp / (tp + fp),
            "recall": tp / pos,
            "f1": 2 * tp / (2 * tp + fp + fn),
            "specificity": tn / neg,
            "fpr": fp / neg,
        }
    return {"threshold": s[last], "tp": tp, "fp": fp, "fn": fn, "tn": tn, **rates}


def _chart_points(curve: dict[str, np.ndarray], index: int | None) -> dict[str, list[float]]:
    """The curve thinned to at most ``CHART_POINTS`` thresholds, the first, last and chosen kept."""
    n = len(curve["threshold"])
    keep = np.unique(np.r_[np.linspace(0, n - 1, min(n, CHART_POINTS)).round().astype(np.int64),
                           [] if index is None else [index]]).astype(np.int64)
    return {k: curve[k][keep].astype(float).tolist() for k in ("threshold", "precision", "recall", "fpr")}


def _pick(curve: dict[str, np.ndarray], maximize: str, requirements: Sequence[Requirement]) -> tuple[int | None, int]:
    """Index of the chosen threshold (None: infeasible) and the number of feasible ones."""
    ok = np.ones(len(curve["threshold"]), dtype=bool)
    for r in requirements:
        ok &= r.holds(curve[r.metric])
    if not ok.any():
        return None, 0
    score = np.where(ok, curve[maximize], -np.inf)
    # thresholds are descending and argmax takes the first maximum: the highest threshold wins a tie
    return int(np.argmax(score)), int(ok.sum())


def _infeasible_message(curve: dict[str, np.ndarray], requirements: Sequence[Requirement]) -> str:
    """One line naming the best achievable value of the requirement that cannot be met."""
    for r in requirements:  # a requirement no threshold meets on its own
        if not r.holds(curve[r.metric]).any():
            return _best_line(curve, r, np.ones(len(curve["threshold"]), dtype=bool), "")
    last, others = requirements[-1], requirements[:-1]  # met alone, not together with the others
    ok = np.ones(len(curve["threshold"]), dtype=bool)
    for r in others:
        ok &= r.holds(curve[r.metric])
    where = " with " + " and ".join(r.text for r in others)
    return _best_line(curve, last, ok, where)


def _best_line(curve: dict[str, np.ndarray], r: Requirement, among: np.ndarray, where: str) -> str:
    values = np.where(among, curve[r.metric], np.nan)
    index = int(np.nanargmin(values) if r.op.startswith("<") else np.nanargmax(values))
    return (f"no threshold on dev meets {r.text}: the best achievable dev {r.metric}{where} is "
            f"{100 * values[index]:.2f}% (at threshold {curve['threshold'][index]:.6g})")


def _positive_column(proba_columns: dict[str, str], positive: Any, source: str) -> tuple[str, str]:
    if not proba_columns:
        raise InputError(f"{source}: no proba_<class> columns; the threshold needs the predicted "
                         "probability of the positive class")
    classes = list(proba_columns)
    if positive is None:
        if len(classes) != 2:
            raise ConfigError(f"{source}: {len(classes)} classes ({', '.join(classes)}); choose the "
                              "positive class with --positive CLASS (one against the rest)")
        return classes[1], proba_columns[classes[1]]
    label = str(positive)
    if label not in proba_columns:
        raise ConfigError(f"--positive: no column proba_{label} in {source}{did_you_mean(label, classes)}; "
                          f"classes: {', '.join(classes)}")
    return label, proba_columns[label]


def _arrays(table: Any, split: str, column: str, positive: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(1 for the positive class else 0, score) of one split's rows: two columns pulled."""
    part = table.filter(table["split"] == split).select(
        y=table["y_true"].cast("string"), score=table[column].try_cast("float64")).to_pyarrow()
    y = np.asarray(part.column("y").to_pylist(), dtype=object) == positive
    score = np.asarray(part.column("score").to_pylist(), dtype=np.float64)  # None (no number) -> nan
    if not np.isfinite(score).all():
        raise InputError(f"{source}: column {column!r} has missing, non-numeric or infinite scores on the "
                         f"{split} split; give every row a probability")
    return y.astype(np.int64), score


def _point(split: str, y: np.ndarray, score: np.ndarray, threshold: float) -> SplitPoint:
    predicted = score >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    return SplitPoint(split, len(y), tp, fp, fn, len(y) - tp - fp - fn)


def choose_threshold(
    predictions: Any,
    *,
    maximize: str = "f1",
    require: Sequence[str | Requirement] = (),
    positive: Any = None,
    test: bool = False,
    store: Any = None,
    con: Any = None,
) -> OperatingPoint:
    """Pick a decision threshold on dev: maximize one rate subject to requirements on others.

    Parameters
    ----------
    predictions : path-like, DataFrame, pyarrow.Table, dict or ibis.Table
        A predictions table with ``split``, ``y_true``, ``y_pred`` and ``proba_<class>`` columns.
    maximize : {"precision", "recall", "f1", "specificity"}, default="f1"
        The optimizing metric.
    require : sequence of str or Requirement, default=()
        Satisficing requirements such as ``"precision>=95%"`` (the percent sign is required).
    positive : label, default=None
        The positive class; by default the second of exactly two ``proba_`` columns.
        With more classes: that class against the rest.
    test : bool, default=False
        Also apply the chosen threshold to the sealed test split (counts one look).
    store : RunStore, path-like, None or False, default=None
        Where looks at the test set are counted.
    con : ibis DuckDB backend, default=None

    Returns
    -------
    OperatingPoint
        ``feasible`` False (and ``message``) when no dev threshold meets the requirements.

    Examples
    --------
    >>> from mlstrat.metrics import choose_threshold
    >>> table = {"split": ["dev"] * 4, "y_true": [0, 0, 1, 1], "y_pred": [0, 1, 1, 1],
    ...          "proba_0": [0.9, 0.4, 0.3, 0.1], "proba_1": [0.1, 0.6, 0.7, 0.9]}
    >>> choose_threshold(table, maximize="recall", require=["precision>=100%"]).threshold
    0.7
    """
    from mlstrat.sealing._looks import look_notes
    from mlstrat.tables import PREDICTION_COLUMNS, read_predictions

    if maximize not in MAXIMIZABLE:
        raise ConfigError(f"--maximize: unknown metric {maximize!r}{did_you_mean(str(maximize), MAXIMIZABLE)}; "
                          f"one of {', '.join(MAXIMIZABLE)}")
    requirements = tuple(r if isinstance(r, Requirement) else parse_requirement(r) for r in require)
    pred = read_predictions(predictions, con=con, columns=PREDICTION_COLUMNS)
    label, column = _positive_column(pred.proba_columns, positive, pred.source)
    if not pred.sizes.get("dev"):
        raise InputError(f"{pred.source}: no dev rows; the threshold is chosen on the dev split")
    y, score = _arrays(pred.table, "dev", column, label, pred.source)
    if y.min() == y.max():
        raise InputError(f"{pred.source}: the dev split has {'only' if y[0] else 'no'} rows of class "
                         f"{label!r}; a threshold needs both positives and negatives (--positive)")
    curve = threshold_curve(y, score)
    index, feasible = _pick(curve, maximize, requirements)
    common = dict(positive=label, score_column=column, maximize=maximize, requirements=requirements,
                  candidates=len(curve["threshold"]), source=pred.source, curve=_chart_points(curve, index))
    if index is None:
        return OperatingPoint(feasible=False, threshold=None, dev=None,
                              message=_infeasible_message(curve, requirements), **common)
    threshold = float(curve["threshold"][index])
    test_point = None
    if test and pred.sizes.get("test"):
        test_point = _point("test", *_arrays(pred.table, "test", column, label, pred.source), threshold)
    notes = look_notes(predictions, used=test_point is not None,
                       sealed_rows=0 if test else pred.sizes.get("test", 0), store=store, con=con)
    return OperatingPoint(feasible=True, threshold=threshold, dev=_point("dev", y, score, threshold),
                          test=test_point, feasible_candidates=feasible, warnings=tuple(notes), **common)
