"""The earlier implementation of :func:`mlstrat.errors.find_label_issues`, kept as a test
reference: the engine-query version must give the same result on the same inputs.

Label issues in a predictions table: :func:`find_label_issues` streams the split from the
engine in record batches, three times (checks and thresholds; the confident joint; the
selection), and runs confident learning (:mod:`._confident`) batch by batch, so that memory
stays bounded by the batch and the suspects whatever the table size.

Probabilities must be out-of-sample (cross-validated or from a held-out split): on the
training split a model that memorized its labels is confident in the wrong ones too.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from mlstrat._exceptions import ConfigError, InputError, MlstratWarning
from mlstrat._labels import label_text
from mlstrat.errors._confident import (
    METHODS,
    RANKINGS,
    Selectors,
    _self_confidence,
    add_to_joint,
    calibrate,
    feed,
    resolve_method,
    selectors,
    thresholds_from,
)
from mlstrat.errors._label_result import LabelIssue, LabelIssues, NoiseRate, _count_interval

__all__ = ["find_label_issues"]


#: fewer given rows than this in a class make its threshold (a mean) and its counts rough
MIN_PER_CLASS = 20
#: agreement of the model with the given labels beyond chance below which it is "weak"
WEAK_KAPPA = 0.4
#: rows per record batch streamed from the engine
BATCH_ROWS = 262_144


def _batches(con: Any, expr: Any, rows: int) -> Any:
    """pyarrow RecordBatches of an Ibis expression, streamed by the engine (never the whole table)."""
    from mlstrat.tables import engine_of

    for batch in engine_of(con).batches(expr, chunk_size=rows):
        if batch.num_rows:
            yield batch


def _codes(column: Any, index: dict[str, int]) -> tuple[np.ndarray, list[str]]:
    """Class index of each value (``-1`` when not a class), labels compared as text; unknown texts."""
    import pyarrow.compute as pc

    uniques = pc.unique(column)
    texts = [label_text(v) for v in uniques.to_pylist()]
    lookup = np.array([index.get(t, -1) for t in texts] + [-1], dtype=np.int64)
    pos = pc.index_in(column, value_set=uniques).fill_null(len(texts)).to_numpy(zero_copy_only=False)
    return lookup[pos], [t for t in texts if t not in index]


@dataclass
class _Scan:
    """What one pass over the split accumulates: counts for the checks and for thresholds."""

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


class _Batch:
    """One record batch decoded lazily: each pass converts only the columns it reads."""

    def __init__(self, batch: Any, index: dict[str, int], proba: list[str]) -> None:
        self.batch, self.index = batch, index
        self.labels, self.unknown = _codes(batch.column("y_true"), index)
        self.raw = np.column_stack([batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                                    for c in proba])  # (n, K)
        self.sums = self.raw.sum(axis=1)

    def __len__(self) -> int:
        return self.batch.num_rows

    @cached_property
    def ids(self) -> np.ndarray:
        return self.batch.column("id").cast("string").to_numpy(zero_copy_only=False).astype(str)

    @cached_property
    def pred(self) -> np.ndarray:
        """y_pred as class index; ``K`` when it is not a class."""
        pred, _ = _codes(self.batch.column("y_pred"), self.index)
        return np.where(pred < 0, len(self.index), pred)

    @cached_property
    def text_errors(self) -> int:
        """Rows whose y_pred differs from y_true (compared as stored, or as text across types)."""
        import pyarrow.compute as pc

        true, pred = self.batch.column("y_true"), self.batch.column("y_pred")
        if true.type != pred.type:
            true, pred = pc.cast(true, "string"), pc.cast(pred, "string")
        return int(pc.sum(pc.not_equal(true, pred)).as_py() or 0)

    @property
    def probs(self) -> np.ndarray:
        return self.raw / self.sums[:, None]


def _first_pass(batches: Any, index: dict[str, int], proba: list[str], steps: Any) -> _Scan:
    scan = _Scan(len(index))
    for raw in batches:
        b = _Batch(raw, index, proba)
        scan.n += len(b)
        scan.n_errors += b.text_errors
        scan.unknown.update(b.unknown)
        finite = np.isfinite(b.raw).all(axis=1)
        scan.not_finite += int((~finite).sum())
        scan.negative += int((b.raw < 0).any(axis=1).sum())
        scan.zero_sum += int((b.sums <= 0).sum())
        dev = np.abs(b.sums - 1.0)
        scan.off_sum += int((dev > 1e-3).sum())
        far = np.flatnonzero(dev > 0.1)
        scan.far_sum += len(far)
        if len(far) and not scan.far_example:
            scan.far_example = (str(b.ids[far[0]]), float(b.sums[far[0]]))
        ok = finite & (b.sums > 0) & (b.labels >= 0)
        if ok.any():
            labels, probs = b.labels[ok], b.probs[ok]
            argmax = probs.argmax(axis=1)
            scan.given += np.bincount(labels, minlength=scan.k)
            scan.conf_sums += np.bincount(labels, weights=_self_confidence(probs, labels), minlength=scan.k)
            np.add.at(scan.given_vs_argmax, (labels, argmax), 1)
            np.add.at(scan.pred_vs_argmax, (b.pred[ok], argmax), 1)
        steps.advance("checking", len(b))
    return scan


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
    _check_argmax(scan, source=source, classes=classes, notes=notes)


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


def _joint_pass(batches: Any, index: dict[str, int], proba: list[str], thresholds: np.ndarray,
                steps: Any) -> np.ndarray:
    joint = np.zeros((len(index), len(index)))
    for raw in batches:
        b = _Batch(raw, index, proba)
        add_to_joint(joint, b.labels, b.probs, thresholds)
        steps.advance("confident joint", len(b))
    return joint


def _select_pass(batches: Any, index: dict[str, int], proba: list[str], chosen: Selectors, rank_by: str,
                 steps: Any) -> None:
    for raw in batches:
        b = _Batch(raw, index, proba)
        probs = b.probs
        scores = RANKINGS[rank_by](probs, b.labels)
        info = np.column_stack([b.labels, probs.argmax(axis=1), scores, b.pred != b.labels])  # (n, 4)
        feed(chosen, labels=b.labels, probs=probs, scores=scores, tie=b.ids, info=info)
        steps.advance("selecting", len(b))


def _open(predictions: Any, split: str, con: Any) -> tuple[Any, Any, Any]:
    """The predictions (validated in one engine pass), the split's columns as an expression, the connection."""
    from mlstrat.errors._sheet import _check_split
    from mlstrat.tables import PREDICTION_COLUMNS, default_connection, read_predictions

    _check_split(split)
    con = con or default_connection()
    preds = read_predictions(predictions, con=con, require_id=True, columns=PREDICTION_COLUMNS)
    if not preds.proba_columns:
        raise InputError(
            f"{preds.source}: no proba_<class> columns; label issues need the predicted "
            "probability of every class (e.g. proba_cat, proba_dog), out-of-sample "
            "(cross-validated or from a held-out split)"
        )
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
    batch_rows: int = BATCH_ROWS,
) -> LabelIssues:
    """Find rows whose given label is probably wrong, by confident learning.

    The split is streamed from the engine in record batches, three times (checks and
    thresholds; the confident joint; the selection): memory stays bounded by the batch and
    the suspects, whatever the table size.

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
        A progress bar over the rows (default: on a terminal only).
    batch_rows : int, default=262144
        Rows per record batch.

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
    preds, part, con = _open(predictions, split, con)
    classes, proba = list(preds.proba_columns), list(preds.proba_columns.values())
    index = {c: i for i, c in enumerate(classes)}
    n_rows = preds.sizes[split]

    def stream() -> Any:
        return _batches(con, part, batch_rows)

    with Steps(3 * n_rows, "Label issues", progress=progress) as steps:
        scan = _first_pass(stream(), index, proba, steps)
        _check_scan(scan, source=preds.source, split=split, classes=classes, proba=proba, notes=notes)
        kappa = _reliability(scan, split=split, classes=classes, notes=notes)
        thresholds = thresholds_from(scan.given, scan.conf_sums)
        calibrated, counts = calibrate(_joint_pass(stream(), index, proba, thresholds, steps), scan.given)
        resolved = resolve_method(method, counts)
        chosen = selectors(resolved, counts)
        _select_pass(stream(), index, proba, chosen, rank_by, steps)
    return _result(scan, chosen, calibrated, counts, thresholds, classes=classes, split=split,
                   rank_by=rank_by, method=resolved, kappa=kappa, notes=notes)


def _result(scan: _Scan, chosen: Selectors, calibrated: np.ndarray, counts: np.ndarray,
            thresholds: np.ndarray, *, classes: list[str], split: str, rank_by: str, method: str,
            kappa: float, notes: list[dict[str, str]]) -> LabelIssues:
    picked: dict[str, np.ndarray] = {}
    for _cell, top in chosen:
        for rid, info in zip(top.tie[top.keep].tolist(), top.info[top.keep]):
            picked[rid] = info
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
