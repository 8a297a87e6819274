"""Whether dev and test come from one distribution (docs/method.md §1, rule 1).

Two checks: the label distributions of dev and test (Fisher's exact test for two classes, a
chi-square test of the contingency table otherwise), and, when the caller gives one, a
domain-classifier AUC of test rows against dev rows with its interval. The classifier lives
in ``mlstrat.mismatch``, a layer above diagnosis: a command that can build features runs it
and passes the result in (``dev_test_auc``), so this module stays pure statistics on counts.

When they differ, the test - dev gap is not dev overfitting (tuning on dev) but a difference
of distributions: ``dev_overfitting`` becomes ``undetermined`` and the action is to rebuild
dev and test from one distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ALPHA", "DevTestCheck", "label_test", "dev_test_check"]

#: A label test with a p-value below this says dev and test differ.
ALPHA = 0.05


@dataclass(frozen=True)
class DevTestCheck:
    """The dev-vs-test check: ``differ`` True, False, or None when nothing could be checked."""

    labels: dict[str, Any] | None
    domain_auc: dict[str, float] | None
    differ: bool | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "domain_auc": self.domain_auc, "differ": self.differ,
                "reason": self.reason}


def label_test(dev: dict[Any, int], test: dict[Any, int]) -> dict[str, Any]:
    """Compare two label distributions given as label -> count.

    Two classes: Fisher's exact test (two-sided, scipy.stats.fisher_exact); more: the
    chi-square test of the 2 x K table, as scipy.stats.chi2_contingency computes it (no
    continuity correction past one degree of freedom). Returns the method, the p-value and the
    counts.
    """
    labels = sorted(set(dev) | set(test), key=str)
    table = [[dev.get(k, 0) for k in labels], [test.get(k, 0) for k in labels]]
    if len(labels) < 2:
        p, method = 1.0, "one class"
    elif len(labels) == 2:
        from scipy import stats

        p, method = float(stats.fisher_exact(table).pvalue), "fisher exact"
    else:
        p, method = _chi_square_p(table), "chi-square"
    return {"method": method, "p_value": p,
            "dev": {str(k): int(v) for k, v in zip(labels, table[0])},
            "test": {str(k): int(v) for k, v in zip(labels, table[1])}}


def _chi_square_p(table: list[list[int]]) -> float:
    """The p-value of the chi-square test of independence of a 2 x K table (K > 2): Pearson's
    statistic against the expected counts, upper tail with K - 1 degrees of freedom.
    ``scipy.special`` alone: importing ``scipy.stats`` costs ~1 s of CPU on every diagnosis."""
    import numpy as np
    from scipy.special import chdtrc

    observed = np.asarray(table, dtype=np.float64)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return float(chdtrc(observed.shape[1] - 1, statistic))


def _label_counts(pred: Any) -> tuple[dict[Any, int], dict[Any, int]]:
    """Label -> count in dev and in test, as text: from the confusion counts of the pass that
    read the table when it kept them (integer or string labels, whose text Python spells as the
    engine does), else one grouping of the table."""
    counted = _label_counts_from_groups(pred.label_counts)
    if counted is not None:
        return counted
    import ibis

    table = pred.table
    t = table.mutate(_split=table.split.cast("string"), _label=table.y_true.cast("string"))
    rows = (t.filter(t._split.isin(["dev", "test"])).group_by(["_split", "_label"])
            .aggregate(n=ibis._.count()).to_pyarrow().to_pylist())
    out: dict[str, dict[Any, int]] = {"dev": {}, "test": {}}
    for r in rows:
        out[r["_split"]][r["_label"]] = int(r["n"])
    return out["dev"], out["test"]


def _label_counts_from_groups(groups: Any) -> tuple[dict[Any, int], dict[Any, int]] | None:
    import pyarrow as pa

    if groups is None or "y_true" not in groups.column_names:
        return None
    kind = groups.schema.field("y_true").type
    if not (pa.types.is_integer(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)):
        return None
    out: dict[str, dict[Any, int]] = {"dev": {}, "test": {}}
    for split, label, n in zip(groups["_split"].to_pylist(), groups["y_true"].to_pylist(),
                               groups["n"].to_pylist()):
        if split in out:
            key = None if label is None else str(label)
            out[split][key] = out[split].get(key, 0) + int(n)
    return out["dev"], out["test"]


def _auc_dict(auc: Any) -> dict[str, float] | None:
    if auc is None:
        return None
    return {"value": float(auc.value), "ci_low": float(auc.ci_low), "ci_high": float(auc.ci_high)}


def dev_test_check(pred: Any, *, labels: bool, auc: Any = None) -> DevTestCheck:
    """Dev against test: the label test (``labels``: the table's ``y_true`` are class labels)
    and the caller's domain-classifier AUC (test vs dev rows; its interval above 0.5 says a
    classifier tells them apart)."""
    label_result = None
    if labels and pred is not None and pred.sizes.get("dev") and pred.sizes.get("test"):
        label_result = label_test(*_label_counts(pred))
    auc_result = _auc_dict(auc)
    if label_result is None and auc_result is None:
        return DevTestCheck(None, None, None, None)
    reasons = []
    if label_result is not None and label_result["p_value"] < ALPHA:
        reasons.append(f"their label distributions differ ({label_result['method']} test, "
                       f"p = {label_result['p_value']:.2g})")
    if auc_result is not None and auc_result["ci_low"] > 0.5:
        reasons.append(f"a classifier tells test rows from dev rows (AUC {auc_result['value']:.2f}, "
                       f"95% CI {auc_result['ci_low']:.2f} to {auc_result['ci_high']:.2f})")
    return DevTestCheck(label_result, auc_result, bool(reasons),
                        "; ".join(reasons) if reasons else None)
