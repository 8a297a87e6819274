"""Label issues in a predictions table: :func:`find_label_issues` runs confident learning
(:mod:`._confident`) as engine queries: the checks, the thresholds' sums and the joint counts
are aggregates (O(classes^2) rows come back), and only the selected suspects are fetched, so
the driver's memory does not grow with the table.

Probabilities must be out-of-sample (cross-validated or from a held-out split): on the
training split a model that memorized its labels is confident in the wrong ones too.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._labels import label_text
from mlstrat.errors._confident import METHODS, RANKINGS, calibrate, resolve_method, thresholds_from
from mlstrat.errors._label_result import LabelIssue, LabelIssues, NoiseRate, _count_interval

__all__ = ["find_label_issues"]


#: fewer given rows than this in a class make its threshold (a mean) and its counts rough
MIN_PER_CLASS = 20
#: agreement of the model with the given labels beyond chance below which it is "weak"
WEAK_KAPPA = 0.4


@dataclass
class _Scan:
    """What the checking queries count: the checks, and the sums behind the thresholds."""

    k: int
    n: int = 0
    n_errors: int = 0
    given: np.ndarray = None  # (K,) rows per given label
    conf_sums: np.ndarray = None  # (K,) sum of self-confidence per given label
    given_vs_argmax: np.ndarray = None  # (K, K) given label x most probable class
    pred_vs_argmax: np.ndarray = None  # (K + 1, K) y_pred (K = not a class) x most probable class
    unknown: set = None
    not_finite: int = 0
    negative: int = 0
    zero_sum: int = 0
    off_sum: int = 0  # |sum - 1| > 1e-3: normalized with a warning
    far_sum: int = 0  # |sum - 1| > 0.1: not probabilities
    far_example: tuple = ()

    def __post_init__(self) -> None:
        k = self.k
        self.given, self.conf_sums = np.zeros(k, np.int64), np.zeros(k)
        self.given_vs_argmax, self.pred_vs_argmax = np.zeros((k, k), np.int64), np.zeros((k + 1, k), np.int64)
        self.unknown = set()


def _exact(value: float) -> Any:
    """A float64 literal that every engine reads back bit for bit (a decimal literal may not)."""
    import ibis

    return ibis.literal(repr(float(value))).cast("float64")


class _Rows:
    """The split's per-row quantities as Ibis expressions, computed by the engine.

    The same arithmetic as the array version (:mod:`._confident`), in the same order: the
    probabilities are divided by their row sum, the most probable class is the first of the
    largest, the thresholds are compared with the same tolerance.
    """

    def __init__(self, part: Any, index: dict[str, int], proba: list[str]) -> None:
        self.index, self.k = index, len(index)
        raw = [part[c].cast("float64") for c in proba]
        total = raw[0]
        for column in raw[1:]:
            total = total + column
        # each quantity is a column computed once per row, which the later expressions name
        # (written inline, the engine would recompute the row sum in every comparison)
        part = part.mutate(_sum=total)
        part = part.mutate(**{f"_p{k}": part[c].cast("float64") / part._sum for k, c in enumerate(proba)})
        part = part.mutate(_argmax=self.first_largest([part[f"_p{k}"] for k in range(self.k)]))
        self.part = part
        self.raw = [part[c].cast("float64") for c in proba]
        self.sum = part._sum
        self.probs = [part[f"_p{k}"] for k in range(self.k)]
        self.argmax = part._argmax
        self.id_text = part.id.cast("string")

    @staticmethod
    def first_largest(values: list[Any]) -> Any:
        """Index of the first largest value (numpy's argmax)."""
        import ibis

        if len(values) == 1:
            return ibis.literal(0, "int64")
        top = ibis.greatest(*values)
        return ibis.cases(*[(v == top, k) for k, v in enumerate(values[:-1])], else_=len(values) - 1)

    def codes(self, column: Any, values: list[Any]) -> Any:
        """Class index of each value (``-1`` when not a class); the values known from a first query."""
        import ibis

        pairs = [(column == v, self.index[label_text(v)]) for v in values
                 if v is not None and label_text(v) in self.index]
        return ibis.cases(*pairs, else_=-1) if pairs else ibis.literal(-1, "int64")

    def pick(self, code: Any, columns: list[Any], default: float = 0.0) -> Any:
        """``columns[code]`` per row."""
        import ibis

        return ibis.cases(*[(code == k, c) for k, c in enumerate(columns)], else_=default)

    def score(self, rank_by: str, label: Any) -> Any:
        """Self-confidence, or the normalized margin ``(own - best other + 1) / 2`` (:data:`RANKINGS`)."""
        import ibis

        own = self.pick(label, self.probs)
        if rank_by == "self_confidence":
            return own
        others = [ibis.ifelse(label == k, -1.0, p) for k, p in enumerate(self.probs)]  # probabilities are >= 0
        best_other = others[0] if len(others) == 1 else ibis.greatest(*others)
        return (own - best_other + 1.0) / 2.0


def _checks(rows: _Rows, scan: _Scan) -> list[tuple[Any, Any]]:
    """One query: rows, errors and the input checks per (y_true, y_pred) value pair.

    Returns the pairs of values seen (labels are mapped to classes as text, here in Python).
    """
    part = rows.part
    finite = None
    for r in rows.raw:
        ok = r.notnull() & ~r.isnan() & ~r.isinf()
        finite = ok if finite is None else finite & ok
    negative = None
    for r in rows.raw:
        below = r < 0
        negative = below if negative is None else negative | below
    dev = (rows.sum - 1.0).abs()
    far = finite & (dev > 0.1)

    def count(flag: Any) -> Any:
        return flag.ifelse(1, 0).sum()

    out = part.group_by(["y_true", "y_pred"]).aggregate(
        n=part.count(), errors=count(part.y_true != part.y_pred), not_finite=count(~finite),
        negative=count(finite & negative), zero_sum=count(finite & (rows.sum <= 0)),
        off_sum=count(finite & (dev > 1e-3)), far_sum=count(far),
        far_id=rows.id_text.min(where=far), far_total=rows.sum.argmin(rows.id_text, where=far),
    ).to_pyarrow().to_pylist()
    for g in out:
        scan.n += g["n"]
        scan.n_errors += g["errors"] or 0
        for name in ("not_finite", "negative", "zero_sum", "off_sum", "far_sum"):
            setattr(scan, name, getattr(scan, name) + (g[name] or 0))
        if g["far_id"] is not None and (not scan.far_example or g["far_id"] < scan.far_example[0]):
            scan.far_example = (g["far_id"], float(g["far_total"]))
        if label_text(g["y_true"]) not in rows.index:
            scan.unknown.add(label_text(g["y_true"]))
    return [(g["y_true"], g["y_pred"]) for g in out]


def _counts(rows: _Rows, label: Any, pred: Any, scan: _Scan) -> None:
    """One query: per (given label, y_pred, most probable class) the rows and the sum of
    self-confidence (the thresholds' numerators)."""
    part = rows.part.mutate(_label=label, _pred=pred, _argmax=rows.argmax,
                            _own=rows.pick(label, rows.probs))
    out = part.group_by(["_label", "_pred", "_argmax"]).aggregate(n=part.count(), own=part._own.sum())
    for g in out.to_pyarrow().to_pylist():
        i, p, a = int(g["_label"]), int(g["_pred"]), int(g["_argmax"])
        scan.given[i] += g["n"]
        scan.conf_sums[i] += g["own"]
        scan.given_vs_argmax[i, a] += g["n"]
        scan.pred_vs_argmax[p if p >= 0 else scan.k, a] += g["n"]


def _joint(rows: _Rows, label: Any, thresholds: np.ndarray) -> np.ndarray:
    """One query: the confident joint (given label x most probable confident class)."""
    import ibis

    above = [p >= _exact(t - 1e-6) for p, t in zip(rows.probs, thresholds)]
    candidates = [ibis.ifelse(a, p, -1.0) for a, p in zip(above, rows.probs)]
    confident = above[0]
    for a in above[1:]:
        confident = confident | a
    # grouped by whether confident rather than filtered: a filter on computed columns is pushed
    # below them by the optimizer, which then recomputes every probability inside it
    part = rows.part.mutate(_label=label, _guess=rows.first_largest(candidates), _confident=confident)
    out = part.group_by(["_label", "_guess", "_confident"]).aggregate(n=part.count()).to_pyarrow().to_pylist()
    joint = np.zeros((rows.k, rows.k))
    for g in out:
        if g["_confident"]:
            joint[int(g["_label"]), int(g["_guess"])] += g["n"]
    return joint


def _suspects(rows: _Rows, label: Any, pred: Any, method: str, counts: np.ndarray,
              rank_by: str) -> dict[str, tuple]:
    """The selected rows only, ``{id: (label, most probable, score, y_pred differs)}``.

    ``rank``: the ``m`` rows not predicted as their label with the lowest score (ties by id);
    PBNR: per cell (given ``i``, true ``j``) the ``counts[i, j]`` rows labeled ``i`` with the
    largest margin ``P[:, j] - P[:, i]`` (ties by id), then the ones predicted ``i`` dropped.
    """
    import ibis

    part = rows.part.mutate(_id=rows.id_text, _label=label, _argmax=rows.argmax,
                            _score=rows.score(rank_by, label), _wrong=pred != label)
    shown = ["_id", "_label", "_argmax", "_score", "_wrong"]
    picks = []
    if method == "rank":
        m = int(counts.sum() - np.trace(counts))
        if m > 0:  # the rows predicted as their label sort last and are dropped (not filtered: see _joint)
            ranked = part.mutate(_agrees=part._argmax == part._label)
            picks.append(ranked.order_by([ranked._agrees, ranked._score, ranked._id]).limit(m)
                         .select(*shown, "_agrees"))
    else:
        for i, j in zip(*np.nonzero(counts)):
            if i == j:
                continue
            cell = part.filter(part._label == int(i)).mutate(_key=rows.probs[i] - rows.probs[j])
            top = cell.order_by([cell._key, cell._id]).limit(int(counts[i, j]))
            picks.append(top.select(*shown, _agrees=top._argmax == int(i)))
    if not picks:
        return {}
    found = picks[0] if len(picks) == 1 else ibis.union(*picks, distinct=False)
    got = found.to_pyarrow().to_pydict()
    return {rid: row for rid, *row, agrees in zip(got["_id"], got["_label"], got["_argmax"], got["_score"],
                                                   got["_wrong"], got["_agrees"]) if not agrees}


def _check_scan(scan: _Scan, *, source: str, split: str, classes: list[str], proba: list[str],
                notes: list[dict[str, str]]) -> None:
    """Refuse inputs that cannot be probabilities of these classes; note the doubtful ones."""
    if scan.unknown:
        shown = ", ".join(repr(u) for u in sorted(scan.unknown)[:5])
        raise InputError(f"{source}: label(s) {shown} in y_true have no probability column; expected "
                         f"proba_<label> for every class (found: {', '.join(proba)})")
    if scan.not_finite:
        raise InputError(f"{source}: proba_* columns have empty/NaN values in split {split!r}; "
                         "every row needs a probability per class")
    if scan.negative:
        raise InputError(f"{source}: proba_* columns have negative values; probabilities are in [0, 1]")
    if scan.zero_sum:
        raise InputError(f"{source}: some rows have all probabilities 0; every row needs a probability "
                         "distribution")
    if scan.far_sum:
        rid, total = scan.far_example
        raise InputError(
            f"{source}: {scan.far_sum} row(s) of split {split!r} have proba_* values that do not sum to 1 "
            f"(e.g. id {rid!r}: {total:.3g}); these are not probabilities over the classes {', '.join(classes)} "
            "(scores, logits, one-vs-rest outputs, or a class column missing): write softmax probabilities, "
            "one proba_<class> column per class")
    if scan.off_sum:
        _note(notes, "not_normalized", f"{scan.off_sum} row(s) have probabilities that do not sum to 1 "
                                       "(off by more than 0.001); they were normalized")


def _check_argmax(scan: _Scan, *, source: str, classes: list[str], notes: list[dict[str, str]]) -> None:
    """y_pred should be the most probable class; a pattern of disagreement means mixed-up columns.

    A decision threshold other than the argmax moves rows of one class only (e.g. positives
    predicted from 0.3 up), so one class whose rows mostly point elsewhere is a warning; two or
    more such classes, or most rows disagreeing, means columns swapped or taken from other
    predictions, and the estimate would be meaningless.
    """
    table = scan.pred_vs_argmax
    n = int(table.sum())
    disagree = n - int(np.trace(table[: scan.k]))
    if not n or not disagree:
        return
    swapped = [(classes[a], classes[int(table[a].argmax())]) for a in range(scan.k)
               if table[a].sum() and table[a].argmax() != a]
    share = disagree / n
    if len(swapped) >= 2 or share > 0.5:
        shown = "; ".join(f"y_pred {a!r} mostly has proba_{b} largest" for a, b in swapped[:3])
        raise InputError(
            f"{source}: y_pred differs from the most probable proba_* class on {disagree} of {n} rows "
            f"({share:.0%}){': ' + shown if shown else ''}; the proba_* columns are probably mis-ordered or come "
            "from other predictions: name each proba_<class> column after the class whose probability it holds")
    if swapped or share > 0.01:
        _note(notes, "proba_mismatch",
              f"y_pred differs from the most probable proba_* class on {disagree} of {n} rows ({share:.1%}); "
              "expected when y_pred uses a decision threshold, otherwise check that each proba_<class> "
              "column holds that class's probability")


def _reliability(scan: _Scan, *, split: str, classes: list[str], notes: list[dict[str, str]]) -> float:
    """Note when the model is too weak or the split too small for the count to mean much; kappa."""
    table = scan.given_vs_argmax.astype(float)
    n = table.sum()
    po = np.trace(table) / n
    pe = float((table.sum(axis=1) * table.sum(axis=0)).sum() / n**2)
    kappa = (po - pe) / (1 - pe) if pe < 1 else 0.0
    if kappa < WEAK_KAPPA:
        _note(notes, "weak_model",
              f"weak model: its predictions agree with the given labels only slightly beyond chance (Cohen's "
              f"kappa {kappa:.2f} < {WEAK_KAPPA}); most disagreements may be its own mistakes, so the "
              "estimate is rough")
    small = [c for c, g in zip(classes, scan.given) if 0 < g < MIN_PER_CLASS]
    if small:
        shown = ", ".join(repr(c) for c in small[:5]) + (", ..." if len(small) > 5 else "")
        _note(notes, "small_split",
              f"small split: class(es) {shown} have fewer than {MIN_PER_CLASS} rows in {split!r}; their "
              "thresholds and counts are rough")
    return float(kappa)


def _note(notes: list[dict[str, str]], code: str, message: str) -> None:
    notes.append({"code": code, "message": message})
    warnings.warn(message, MlstratWarning, stacklevel=4)


def _open(predictions: Any, split: str, con: Any) -> tuple[Any, Any, Any]:
    """The predictions (validated in one engine pass), the split's columns as an expression, the connection."""
    from mlstrat.errors._sheet import _check_split
    from mlstrat.tables import PREDICTION_COLUMNS, default_connection, read_predictions, with_numeric_proba

    _check_split(split)
    con = con or default_connection()
    preds = read_predictions(predictions, con=con, require_id=True, columns=PREDICTION_COLUMNS)
    if not preds.proba_columns:
        raise InputError(
            f"{preds.source}: no proba_<class> columns; label issues need the predicted "
            "probability of every class (e.g. proba_cat, proba_dog), out-of-sample "
            "(cross-validated or from a held-out split)"
        )
    preds = with_numeric_proba(preds)
    if split not in preds.sizes:
        raise InputError(
            f"{preds.source}: split {split!r} has no rows "
            f"(splits present: {', '.join(preds.sizes) or 'none'})"
        )
    table = preds.table
    part = table.filter(table.split.cast("string") == split)
    return preds, part.select("id", "y_true", "y_pred", *preds.proba_columns.values()), con


def find_label_issues(
    predictions: Any,
    *,
    split: str = "dev",
    rank_by: str = "self_confidence",
    method: str = "auto",
    con: Any = None,
    progress: bool | None = None,
) -> LabelIssues:
    """Find rows whose given label is probably wrong, by confident learning.

    The engine does the work in four queries over the split: the checks (one group per
    ``y_true``, ``y_pred`` pair), the thresholds' sums (one group per given label, ``y_pred``
    and most probable class), the confident joint (one group per cell) and the selection
    (an ORDER BY ... LIMIT per selector); only aggregates and the suspects reach Python, so
    memory does not grow with the table. Ties between equal scores go to the smaller id (as
    text), so the result does not depend on the row order.

    Parameters
    ----------
    predictions : path-like or table
        A predictions table with ``id``, ``split``, ``y_true`` and one ``proba_<class>``
        column per class holding **out-of-sample** probabilities.
    split : str, default="dev"
        Which split to examine. ``train`` is allowed with a warning: its probabilities come
        from a model that saw those labels, unless they are cross-validated.
    rank_by : {"self_confidence", "normalized_margin"}, default="self_confidence"
        The score that orders suspects (lower first) and, with ``method="rank"``, picks them.
    method : {"auto", "rank", "prune_by_noise_rate"}, default="auto"
        How suspects are picked once their number is estimated (module docstring);
        ``auto`` chooses by how the estimated noise is spread (:func:`resolve_method`).
    con : ibis DuckDB backend, default=None
    progress : bool, default=None
        A progress bar over the queries (default: on a terminal only).

    Returns
    -------
    LabelIssues

    Raises
    ------
    InputError
        No ``proba_*`` columns, an empty split, a label without a probability column,
        negative, missing or non-normalized (off by more than 0.1) probabilities, ``y_pred``
        that disagrees with the probabilities in a way only mixed-up columns explain.
    """
    from mlstrat._progress import Steps

    if rank_by not in RANKINGS:
        raise ConfigError(f"rank_by: unknown ranking {rank_by!r}; allowed: {', '.join(RANKINGS)}")
    if method not in METHODS:
        raise ConfigError(f"method: unknown method {method!r}; allowed: {', '.join(METHODS)}")
    notes: list[dict[str, str]] = []
    if split == "train":
        _note(notes, "in_sample",
              "split 'train': confident learning needs out-of-sample probabilities; unless these are "
              "cross-validated (out-of-fold), a model that fit its training labels is confident in "
              "the wrong ones too and few issues are found")
    preds, part, _con = _open(predictions, split, con)
    classes, proba = list(preds.proba_columns), list(preds.proba_columns.values())
    rows = _Rows(part, {c: i for i, c in enumerate(classes)}, proba)
    scan = _Scan(len(classes))
    with Steps(4, "Label issues", progress=progress) as steps:
        pairs = _checks(rows, scan)
        steps.advance("checking")
        _check_scan(scan, source=preds.source, split=split, classes=classes, proba=proba, notes=notes)
        label = rows.codes(rows.part.y_true, sorted({t for t, _ in pairs}, key=repr))
        pred = rows.codes(rows.part.y_pred, sorted({p for _, p in pairs}, key=repr))
        _counts(rows, label, pred, scan)
        steps.advance("thresholds")
        _check_argmax(scan, source=preds.source, classes=classes, notes=notes)
        kappa = _reliability(scan, split=split, classes=classes, notes=notes)
        thresholds = thresholds_from(scan.given, scan.conf_sums)
        calibrated, counts = calibrate(_joint(rows, label, thresholds), scan.given)
        steps.advance("confident joint")
        resolved = resolve_method(method, counts)
        picked = _suspects(rows, label, pred, resolved, counts, rank_by)
        steps.advance("selecting")
    return _result(scan, picked, calibrated, counts, thresholds, classes=classes, split=split,
                   rank_by=rank_by, method=resolved, kappa=kappa, notes=notes)


def _result(scan: _Scan, picked: dict[str, tuple], calibrated: np.ndarray, counts: np.ndarray,
            thresholds: np.ndarray, *, classes: list[str], split: str, rank_by: str, method: str,
            kappa: float, notes: list[dict[str, str]]) -> LabelIssues:
    order = sorted(picked, key=lambda rid: (picked[rid][2], rid))
    issues = tuple(LabelIssue(rid, classes[int(picked[rid][0])], classes[int(picked[rid][1])],
                              float(picked[rid][2])) for rid in order)
    wrong_suspects = sum(1 for info in picked.values() if info[3])
    col_tot = calibrated.sum(axis=0)
    k = len(classes)
    noise = [NoiseRate(classes[i], classes[j], float(calibrated[i, j]),
                       float(calibrated[i, j] / col_tot[j]) if col_tot[j] > 0 else math.nan)
             for i in range(k) for j in range(k) if i != j and calibrated[i, j] >= 0.5]
    noise.sort(key=lambda r: (-r.count, r.given, r.true))
    n = scan.n
    estimated = int(counts.sum() - np.trace(counts))
    return LabelIssues(
        split=split, n=n, n_errors=scan.n_errors, split_error=scan.n_errors / n if n else math.nan,
        rank_by=rank_by, method=method, estimated_label_errors=estimated,
        estimated_interval=_count_interval(estimated, n),
        error_share=wrong_suspects / scan.n_errors if scan.n_errors else math.nan,
        thresholds={c: float(t) for c, t in zip(classes, thresholds)}, noise=tuple(noise), issues=issues,
        kappa=kappa, warnings=tuple(notes),
    )
