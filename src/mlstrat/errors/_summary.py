"""A tagged sheet -> shares, ceilings and the mislabeled split of the error (docs/method.md §4).

For each category: ``share = tagged with it / examined errors``, where the examined errors
are every sampled mistake that was reviewed, including those that fit no category (they are
"other causes", reported as their own line); ``ceiling = split error x share`` (the most
fixing it can remove) and ``error_if_fixed = split error x (1 - share)`` (the error left if
every such mistake is fixed).

Which rows were reviewed: the sheet's ``reviewed`` column (the tagging UI fills it when a row
has been shown and left); a row with a category counts as reviewed whatever that column
says; without the column every sampled row counts as reviewed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._exceptions import InputError, MlstratWarning
from mlstrat._numbers import did_you_mean
from mlstrat.display._error_analysis import error_digits, share_digits
from mlstrat.display._numbers import format_interval, format_pct
from mlstrat.display._repr import NotebookRepr
from mlstrat.errors._categories import Z95, wilson_interval
from mlstrat.errors._sheet import Sheet, read_sheet

__all__ = [
    "CategoryShare",
    "MislabeledSplit",
    "ErrorSummary",
    "summarize_sheet",
    "summarize_marks",
]

#: below this many examined errors the shares are rough
SMALL_SAMPLE = 30
#: the line of reviewed errors that fit no category
OTHER_CAUSES = "no category: other causes"
#: mislabeled share from which fixing labels is worth it even when another category is larger
WORTH_FIXING_SHARE = 0.25
#: advice on fixing labels waits until the share of incorrect labels is known to within this
#: (half the width of its 95% interval): a decision on a 6%-79% share is a guess
ACTIONABLE_HALF_WIDTH = 0.10


@dataclass(frozen=True)
class CategoryShare:
    """One category of the sheet: ``count`` tagged errors, ``share`` of the examined errors."""

    name: str
    count: int
    share: float
    share_ci: tuple[float, float]
    ceiling: float
    error_if_fixed: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "share": self.share,
            "share_ci": list(self.share_ci),
            "ceiling": self.ceiling,
            "error_if_fixed": self.error_if_fixed,
        }


@dataclass(frozen=True)
class MislabeledSplit:
    """The split error divided into the part due to incorrect labels and the rest."""

    category: str
    error_due: float
    error_other: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "error_due": self.error_due,
            "error_other": self.error_other,
        }


@dataclass(frozen=True)
class ErrorSummary(NotebookRepr):
    """Summary of a tagged sheet.

    Attributes
    ----------
    split : str
    split_error : float
        The split's error when the sheet was sampled (from the meta file).
    sample_size : int
        Misclassified rows in the sheet.
    reviewed : int
        Of those, rows that were examined (reviewed or tagged); shares are over these.
    tagged : int
        Of the reviewed ones, rows with at least one category.
    categories : tuple of CategoryShare
        Sorted by ceiling, largest first.
    other_causes : CategoryShare
        The reviewed errors with no category (named :data:`OTHER_CAUSES`), never dropped.
    mislabeled : MislabeledSplit or None
        ``None`` when the sheet has no mislabeled category.
    warnings : tuple of dict
        ``{"code", "message"}`` entries.
    untagged : tuple of str
        Ids of the reviewed errors without any category (not in :meth:`to_dict`).
    advice : str or None
        Whether fixing labels is worth it (not in :meth:`to_dict`; rendered by the CLI).
    """

    split: str
    split_error: float
    sample_size: int
    reviewed: int
    tagged: int
    categories: tuple[CategoryShare, ...]
    other_causes: CategoryShare
    mislabeled: MislabeledSplit | None
    warnings: tuple[dict[str, str], ...] = ()
    untagged: tuple[str, ...] = field(default=(), repr=False)
    advice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "split_error": self.split_error,
            "sample_size": self.sample_size,
            "reviewed": self.reviewed,
            "tagged": self.tagged,
            "categories": [c.to_dict() for c in self.categories],
            "other_causes": self.other_causes.to_dict(),
            "mislabeled": self.mislabeled.to_dict() if self.mislabeled else None,
            "warnings": [dict(w) for w in self.warnings],
        }

    def category(self, name: str) -> CategoryShare:
        """The entry of category ``name`` (``KeyError`` when absent)."""
        for cat in self.categories:
            if cat.name == name:
                return cat
        raise KeyError(name)


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def share_of(name: str, count: int, examined: int, split_error: float) -> CategoryShare:
    """The one rule: ``count`` of ``examined`` errors, its Wilson interval, ceiling, error left."""
    if not examined:
        return CategoryShare(name, count, math.nan, (math.nan, math.nan), math.nan, math.nan)
    share = count / examined
    return CategoryShare(
        name,
        count,
        share,
        wilson_interval(count, examined, z=Z95),
        split_error * share,
        split_error * (1.0 - share),
    )


def summarize_marks(
    *,
    split: str,
    split_error: float,
    categories: Sequence[str],
    marks: Sequence[frozenset[str]],
    is_error: Sequence[bool],
    ids: Sequence[str],
    reviewed: Sequence[bool] | None = None,
    mislabeled: str | None = "mislabeled",
) -> ErrorSummary:
    """The arithmetic of :func:`summarize_sheet` on already-parsed marks (also used by the UI).

    Parameters
    ----------
    split : str
    split_error : float
        Error rate of the split, in [0, 1].
    categories : sequence of str
        Category names, in sheet order.
    marks : sequence of frozenset of str
        Tagged categories per row.
    is_error : sequence of bool
        Whether each row is a sampled error (``False`` for ``include_correct`` rows).
    ids : sequence of str
        Row ids, for messages.
    reviewed : sequence of bool, default=None
        Whether each row was examined; ``None``: every row was. A row with a category counts
        as examined whatever this says.
    mislabeled : str or None, default="mislabeled"
        The category meaning "the label is wrong"; used only if present.
    """
    seen = [True] * len(marks) if reviewed is None else [bool(r) for r in reviewed]
    errors = [(i, m, bool(m) or r) for i, m, r, e in zip(ids, marks, seen, is_error) if e]
    sample_size = len(errors)
    examined_marks = [m for _, m, r in errors if r]
    examined = len(examined_marks)
    untagged = tuple(i for i, m, r in errors if r and not m)
    entries = [
        share_of(name, sum(1 for m in examined_marks if name in m), examined, split_error)
        for name in categories
    ]
    entries.sort(
        key=lambda c: (-(c.ceiling if not math.isnan(c.ceiling) else -1.0), -c.count, c.name)
    )
    other = share_of(OTHER_CAUSES, len(untagged), examined, split_error)
    notes = _notes(sample_size, examined)

    mis = None
    advice = None
    if mislabeled and mislabeled in categories:
        entry = next(c for c in entries if c.name == mislabeled)
        if examined:
            mis = MislabeledSplit(mislabeled, entry.ceiling, entry.error_if_fixed)
            advice = _advice(entry, [c for c in entries if c.name != mislabeled], split, examined,
                             digits=_advice_digits(split_error, [*entries, other]))
        correct_mis = sum(1 for m, e in zip(marks, is_error) if not e and mislabeled in m)
        if correct_mis:
            notes.append(
                _warning(
                    "mislabeled_correct",
                    f"{correct_mis} correctly classified row(s) are tagged {mislabeled!r}: fixing labels "
                    "changes those too (the model agrees with a wrong label there)",
                )
            )
    return ErrorSummary(
        split=split,
        split_error=split_error,
        sample_size=sample_size,
        reviewed=examined,
        tagged=examined - len(untagged),
        categories=tuple(entries),
        other_causes=other,
        mislabeled=mis,
        warnings=tuple(notes),
        untagged=untagged,
        advice=advice,
    )


def _notes(sample_size: int, examined: int) -> list[dict[str, str]]:
    notes: list[dict[str, str]] = []
    if examined == 0:
        notes.append(
            _warning(
                "nothing_reviewed",
                f"none of the {sample_size} sampled errors is reviewed yet; "
                "shares and ceilings are undefined",
            )
        )
        return notes
    if examined < sample_size:
        notes.append(
            _warning(
                "not_all_reviewed",
                f"{examined} of {sample_size} sampled errors are reviewed; shares are over "
                "those, the others are not counted yet",
            )
        )
    if examined < SMALL_SAMPLE:
        notes.append(
            _warning(
                "small_sample",
                f"only {examined} reviewed errors: shares are rough, read "
                "them with their 95% intervals (share_ci)",
            )
        )
    return notes


def _more_to_tag(share: float, examined: int, half_width: float = ACTIONABLE_HALF_WIDTH) -> int:
    """Reviewed errors still needed for a 95% interval of ``half_width`` around ``share``
    (normal approximation, ``share`` kept away from 0 and 1 so that it never reads 0)."""
    p = min(max(share, 0.1), 0.9)
    needed = math.ceil(1.96**2 * p * (1 - p) / half_width**2)
    return max(needed - examined, 1)


def _advice_digits(split_error: float, rows: list[CategoryShare]) -> tuple[int, int]:
    """(share, error) decimals: those of the summary's table, so that the advice quotes its
    figures as the table prints them."""
    return (share_digits([c.share for c in rows]),
            error_digits(split_error, [c.to_dict() for c in rows]))


def _advice(entry: CategoryShare, others: list[CategoryShare], split: str, examined: int | None = None,
            *, digits: tuple[int, int] = (1, 2)) -> str:
    shares, errors = digits
    low, high = entry.share_ci
    if examined is not None and (high - low) / 2 > ACTIONABLE_HALF_WIDTH:
        return (
            f"Too few errors reviewed to decide on fixing labels: incorrect labels are "
            f"{format_interval(low, high, digits=shares)} of the errors (95% interval); tag "
            f"~{_more_to_tag(entry.share, examined)} more to know it within "
            f"{100 * ACTIONABLE_HALF_WIDTH:.0f} points."
        )
    largest = max(others, key=lambda c: c.share, default=None)
    due, other = format_pct(entry.ceiling, digits=errors), format_pct(entry.error_if_fixed, digits=errors)
    head = (
        f"Incorrect labels explain {due} of the {split} error ({format_pct(entry.share, digits=shares)} of "
        f"the errors examined); other causes explain {other}."
    )
    if entry.share >= WORTH_FIXING_SHARE or largest is None or entry.share >= largest.share:
        return (
            f"{head} Fixing labels is worth it: it is a large part of the error. Fix dev and test "
            "alike (same distribution), look at some correctly classified examples too, and "
            "remember train may now differ slightly."
        )
    return (
        f"{head} Fixing labels is probably not worth it yet: {largest.name!r} "
        f"({format_pct(largest.share, digits=shares)} of the errors examined, ceiling "
        f"{format_pct(largest.ceiling, digits=errors)}) "
        "offers more."
    )


def _check_fingerprint(sheet: Sheet) -> list[dict[str, str]]:
    from mlstrat.tables import fingerprint

    meta = sheet.meta
    recorded, source = meta.get("fingerprint"), meta.get("predictions")
    if not recorded or not source:
        return []
    path = Path(source)
    if not path.exists():
        return [
            _warning(
                "predictions_missing",
                f"{path}: the predictions file the sheet was sampled from is gone; cannot "
                f"check that it is unchanged (fingerprint at sampling: {recorded})",
            )
        ]
    now = fingerprint(path)
    if now != recorded:
        return [
            _warning(
                "predictions_changed",
                f"{path}: the predictions file changed since the sheet was sampled "
                f"(fingerprint {recorded} then, {now} now); the sampled errors and the split "
                "error describe the old predictions: re-sample with 'mlstrat errors sample'",
            )
        ]
    return []


def summarize_sheet(sheet: str | os.PathLike, *, mislabeled: str = "mislabeled") -> ErrorSummary:
    """Summarize a tagged error-analysis sheet.

    Marks ``1``, ``x``, ``X``, ``yes``, ``true``, ``✓`` count as tagged; empty, ``0``, ``no``
    (and ``false``) as not. Columns added while tagging are categories. Shares are over the
    examined errors (the ``reviewed`` column, or every sampled row without it); reviewed
    errors with no category are the line ``other_causes``.

    Parameters
    ----------
    sheet : path-like
        The CSV written by :func:`sample_errors` (its ``.meta.json`` must sit beside it).
    mislabeled : str, default="mislabeled"
        The category that means "the label is wrong"; it splits the error into
        ``error_due`` (to incorrect labels) and ``error_other``.

    Returns
    -------
    ErrorSummary

    Raises
    ------
    InputError
        Missing meta file, an unknown mark (naming row, column and value), duplicate
        columns, or a ``mislabeled`` name other than the default that is not a column.

    Examples
    --------
    With a dev error of 10% and 43 of 100 examined errors in ``great cat``: share 0.43,
    ceiling 0.043, error if fixed 0.057, whatever the other 57 are tagged with.
    """
    data = read_sheet(sheet)
    if mislabeled != "mislabeled" and mislabeled not in data.categories:
        raise InputError(
            f"{data.path}: no category column {mislabeled!r}"
            f"{did_you_mean(mislabeled, data.categories)}; categories: "
            f"{', '.join(data.categories) or '(none)'}"
        )
    summary = summarize_marks(
        split=str(data.meta["split"]),
        split_error=float(data.meta["split_error"]),
        categories=data.categories,
        marks=data.marks,
        is_error=data.is_error,
        ids=[r["id"] for r in data.rows],
        reviewed=data.reviewed,
        mislabeled=mislabeled,
    )
    extra = _check_fingerprint(data)
    for w in extra:
        warnings.warn(w["message"], MlstratWarning, stacklevel=2)
    if extra:
        summary = dataclasses.replace(summary, warnings=tuple(extra) + summary.warnings)
    return summary
