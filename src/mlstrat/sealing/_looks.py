"""The test-set reuse guard: every figure computed on the test split is one counted look.

The test split is sealed by default: ``train``, ``diagnose``, ``metrics`` and ``report``
compute test figures only when asked (``test=True`` / ``--test``). Whatever path reveals one
(the CLI or the Python API) calls :func:`count_test_look` once, which adds one evaluation
of that test set (its fingerprint: the ids and true labels of the test rows) to the run
store, so the count adds up across commands, processes and sessions.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

from mlstrat.sealing._fingerprint import fingerprint_test_set
from mlstrat.sealing._ledger import LookLedger, ReusedTestSetWarning

__all__ = ["TestLook", "count_test_look", "sealed_warning", "resolve_store", "look_notes"]


@dataclass(frozen=True)
class TestLook:
    """One counted look at a test set.

    Attributes
    ----------
    fingerprint : str or None
        The test set's fingerprint; ``None`` when it cannot be computed (no ``id`` column),
        so the look cannot be counted.
    count : int or None
        Looks at this test set so far, this one included.
    threshold : int
        Looks allowed before the reuse warning.
    """

    fingerprint: str | None
    count: int | None
    threshold: int

    @property
    def reused(self) -> bool:
        return self.count is not None and self.count > self.threshold

    def warnings(self) -> list[dict[str, str]]:
        """``{"code", "message"}`` entries: ``test_split_used`` always, ``test_set_reused`` past
        the threshold."""
        if self.count is None:
            seen = "this look cannot be counted (the predictions have no id column)"
        else:
            seen = (
                f"this is look {self.count} at test set {self.fingerprint} "
                f"(reuse warning after {self.threshold})"
            )
        out = [
            {
                "code": "test_split_used",
                "message": "The test split is included: look at it rarely and never tune on it, "
                f"or it stops being an unbiased estimate; decide with dev. {seen[0].upper()}"
                f"{seen[1:]}.",
            }
        ]
        if self.reused:
            out.append(
                {
                    "code": "test_set_reused",
                    "message": f"The test set {self.fingerprint} has been evaluated {self.count} "
                    f"times (threshold {self.threshold}): decisions made while looking at it are "
                    "overfitting the test set, so its error is no longer an unbiased estimate. "
                    "Decide on dev, and get a fresh test set for the final estimate.",
                }
            )
        return out


def sealed_warning(rows: int) -> dict[str, str]:
    """The note that a present test split was left out."""
    return {
        "code": "test_sealed",
        "message": f"The test split ({rows:,} rows) is sealed: its figures are not computed. "
        "Pass --test (test=True) for the final estimate; each look is counted.",
    }


def resolve_store(store: Any) -> Any:
    """``None`` -> the default store's ledger; a path -> that store's ledger; ``False`` -> ``None``
    (the caller counts the look itself); a store (:class:`mlstrat.runs.RunStore`) as is."""
    if store is False:
        return None
    if store is None or isinstance(store, (str, os.PathLike)):
        return LookLedger(store)
    return store


def count_test_look(predictions: Any, *, store: Any = None, con: Any = None) -> TestLook | None:
    """Count one look at the test split of ``predictions`` in ``store``.

    Parameters
    ----------
    predictions : path-like, table or Predictions
        What the test figures were computed from.
    store : RunStore, LookLedger, path-like, None or False
        Where the count lives (the default store for ``None``); ``False``: do not count,
        return ``None`` (the caller counts the same look elsewhere).

    Warns
    -----
    ReusedTestSetWarning
        When the test set has now been evaluated more than the store's threshold.
    """
    runs = resolve_store(store)
    if runs is None:
        return None
    table = getattr(predictions, "table", predictions)
    fingerprint = fingerprint_test_set(table, con=con, store=runs)
    if fingerprint is None:
        return TestLook(None, None, runs.test_reuse_threshold)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReusedTestSetWarning)
        count = runs.count_test_evaluation(fingerprint)
    for w in caught:  # re-issued from here so that callers see it at their own call
        warnings.warn(w.message, w.category, stacklevel=3)
    return TestLook(fingerprint, count, runs.test_reuse_threshold)


def look_notes(predictions: Any, *, used: bool, sealed_rows: int, store: Any = None,
               con: Any = None) -> list[dict[str, str]]:
    """The warnings of one computation over a predictions table: when its test figures were
    computed (``used``), one counted look and what it says; else, when ``sealed_rows`` test
    rows were left out, the note that the test split is sealed."""
    if used:
        look = count_test_look(predictions, store=store, con=con)
        return look.warnings() if look is not None else []
    return [sealed_warning(sealed_rows)] if sealed_rows else []
