"""What :func:`~mlstrat.errors.find_label_issues` found: the suspects, the estimated noise per
(given, true) cell, and the estimate of how many labels are wrong, with its interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlstrat.display._repr import NotebookRepr
from mlstrat.errors._categories import wilson_interval

__all__ = ["LabelIssue", "NoiseRate", "LabelIssues"]


@dataclass(frozen=True)
class LabelIssue:
    """A suspect row: its given label, the label the model suggests, and its score."""

    id: str
    given_label: str
    suggested_label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "given_label": self.given_label,
            "suggested_label": self.suggested_label,
            "score": self.score,
        }


@dataclass(frozen=True)
class NoiseRate:
    """Estimated label noise from true class ``true`` to given label ``given``.

    ``count`` is the calibrated confident-joint estimate of such examples; ``rate`` is
    ``P(given | true)``, the share of examples of class ``true`` labeled ``given``.
    """

    given: str
    true: str
    count: float
    rate: float

    def to_dict(self) -> dict[str, Any]:
        return {"given": self.given, "true": self.true, "count": self.count, "rate": self.rate}


@dataclass(frozen=True)
class LabelIssues(NotebookRepr):
    """Result of :func:`find_label_issues`.

    Attributes
    ----------
    split : str
    n : int
        Rows examined.
    n_errors : int
        Misclassified rows (``y_pred != y_true``) of the split.
    split_error : float
    rank_by : str
    method : str
        The selection actually used (``auto`` resolved to ``rank`` or ``prune_by_noise_rate``).
    estimated_label_errors : int
        Off-diagonal mass of the calibrated confident joint.
    estimated_interval : tuple of int
        95% Wilson interval of that count (sampling noise of the split only).
    error_share : float
        Share of the split's misclassified rows that are suspects: how much of the error
        label errors may explain (nan when there is no error).
    thresholds : dict of str to float
        Per-class thresholds ``t_j``.
    noise : tuple of NoiseRate
        Off-diagonal cells of the estimate, largest count first (cells below 0.5 left out).
    issues : tuple of LabelIssue
        Suspects, most suspect first.
    kappa : float
        Cohen's kappa between the given labels and the most probable class: how far the model
        agrees with the labels beyond chance (below 0.4, a ``weak_model`` warning).
    warnings : tuple of dict
        ``code`` and ``message``: ``in_sample``, ``not_normalized``, ``proba_mismatch``,
        ``weak_model``, ``small_split``.
    """

    split: str
    n: int
    n_errors: int
    split_error: float
    rank_by: str
    method: str
    estimated_label_errors: int
    estimated_interval: tuple[int, int]
    error_share: float
    thresholds: dict[str, float]
    noise: tuple[NoiseRate, ...]
    issues: tuple[LabelIssue, ...]
    kappa: float = math.nan
    warnings: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "n": self.n,
            "n_errors": self.n_errors,
            "split_error": self.split_error,
            "method": self.method,
            "rank_by": self.rank_by,
            "estimated_label_errors": self.estimated_label_errors,
            "estimated_interval": list(self.estimated_interval),
            "kappa": self.kappa,
            "n_issues": len(self.issues),
            "error_share": self.error_share,
            "thresholds": dict(self.thresholds),
            "noise": [r.to_dict() for r in self.noise],
            "issues": [i.to_dict() for i in self.issues],
            "warnings": [dict(w) for w in self.warnings],
        }

    def write(self, path: str, *, force: bool = False, inputs: Any = ()) -> None:
        """Write the ranked suspects (``rank``, ``id``, ``given_label``, ``suggested_label``,
        ``score``) to a CSV/Parquet file.

        Parameters
        ----------
        path : str
            Output file; its suffix picks the format.
        force : bool
            Overwrite an existing file.
        inputs : sequence of str
            The files the result was read from, which the output must not overwrite.
        """
        import pyarrow as pa

        from mlstrat.tables import write_table

        rows = {
            "rank": list(range(1, len(self.issues) + 1)),
            "id": [i.id for i in self.issues],
            "given_label": [i.given_label for i in self.issues],
            "suggested_label": [i.suggested_label for i in self.issues],
            "score": [i.score for i in self.issues],
        }
        schema = pa.schema(
            [
                ("rank", pa.int64()),
                ("id", pa.string()),
                ("given_label", pa.string()),
                ("suggested_label", pa.string()),
                ("score", pa.float64()),
            ]
        )
        write_table(pa.table(rows, schema=schema), path, force=force, inputs=list(inputs))


def _count_interval(count: int, n: int) -> tuple[int, int]:
    """95% Wilson interval of the label-error rate, as row counts (sampling noise only)."""
    lo, hi = wilson_interval(count, n)
    return (int(math.floor(lo * n)), int(math.ceil(hi * n))) if n else (0, 0)
