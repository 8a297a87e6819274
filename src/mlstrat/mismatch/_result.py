"""What a mismatch analysis found: the features that separate the domains, the comparison of
misclassified dev rows with the training rows, and the report that holds them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat.display._repr import NotebookRepr
from mlstrat.mismatch._auc import Auc

__all__ = ["FeatureShift", "ErrorComparison", "MismatchReport"]


@dataclass(frozen=True)
class FeatureShift:
    """One feature that separates the domains."""

    feature: str
    importance: float  # mean drop in held-out AUC when the feature is permuted
    importance_std: float
    ks: float  # two-sample Kolmogorov-Smirnov statistic, target vs source
    ks_pvalue: float
    mean_source: float
    mean_target: float
    hint: str | None = None  # what an image statistic usually reflects

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "importance": self.importance,
            "importance_std": self.importance_std,
            "ks": self.ks,
            "ks_pvalue": self.ks_pvalue,
            "mean_source": self.mean_source,
            "mean_target": self.mean_target,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class ErrorComparison:
    """Misclassified dev rows compared with the training rows (error analysis of mismatch)."""

    n_misclassified: int
    n_correct: int
    n_train: int
    auc_misclassified: Auc  # domain classifier: misclassified dev rows vs train rows
    auc_correct: Auc | None  # the same for the correctly classified dev rows (the baseline)
    top_features: tuple[FeatureShift, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_misclassified": self.n_misclassified,
            "n_correct": self.n_correct,
            "n_train": self.n_train,
            "auc_misclassified": self.auc_misclassified.to_dict(),
            "auc_correct": self.auc_correct.to_dict() if self.auc_correct else None,
            "top_features": [f.to_dict() for f in self.top_features],
        }


@dataclass(frozen=True)
class MismatchReport(NotebookRepr):
    """What :func:`analyze_mismatch` found. ``weights`` (one row per source row: id, domain,
    p_target, target_likeness, weight) is not part of :meth:`to_dict`: a pyarrow table when the
    classifier learned from every row, else written by :meth:`write_weights` in record batches
    (the table never sits whole in memory). ``n_target``/``n_source`` count the rows of the
    manifest; ``sample`` says how many of them the classifier learned from."""

    domain: str
    target: str
    source: tuple[str, ...]
    n_target: int
    n_source: int
    feature_kind: str
    n_features: int
    folds: int
    grouped_by: str | None
    seed: int
    auc: Auc
    strength: str  # "none", "slight", "moderate", "strong"
    top_features: tuple[FeatureShift, ...]
    likeness: dict[str, float]
    errors: ErrorComparison | None = None
    warnings: tuple[str, ...] = ()
    weights: Any = field(default=None, repr=False, compare=False)
    sample: dict[str, Any] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        """Whether the classifier learned from a sample of a side's rows."""
        return bool(self.sample) and (self.sample["target_used"] < self.n_target
                                      or self.sample["source_used"] < self.n_source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "target": self.target,
            "source": list(self.source),
            "n_target": self.n_target,
            "n_source": self.n_source,
            "sample": dict(self.sample),
            "features": {"kind": self.feature_kind, "n": self.n_features},
            "classifier": {
                "model": "HistGradientBoostingClassifier",
                "folds": self.folds,
                "grouped_by": self.grouped_by,
                "seed": self.seed,
            },
            "auc": self.auc.to_dict(),
            "strength": self.strength,
            "top_features": [f.to_dict() for f in self.top_features],
            "target_likeness": self.likeness,
            "errors": self.errors.to_dict() if self.errors else None,
            "warnings": list(self.warnings),
        }

    def write_weights(
        self, path: str | os.PathLike, *, force: bool = False, inputs: Sequence[Any] = (), con: Any = None
    ) -> Path:
        """Write the per-source-row target-likeness table (Parquet, CSV or JSONL by suffix);
        ``con`` picks the engine that writes (the process-wide one by default)."""
        from mlstrat.tables import write_table

        if hasattr(self.weights, "write"):  # learned from a sample: every source row is scored now
            return self.weights.write(path, force=force, inputs=inputs, con=con)
        return write_table(self.weights, path, force=force, inputs=inputs, con=con)
