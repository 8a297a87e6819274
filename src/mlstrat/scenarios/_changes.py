"""What changed between a demo's first and last iteration: each component's value, and each
split error's change with its 95% interval and verdict (dev paired on the rows both runs scored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["demo_changes"]


def demo_changes(iterations: Sequence[Any], store: Any) -> list[dict[str, Any]]:
    """Each component's value in the first and last iteration; each split error's change with its
    95% interval and verdict (paired on the dev rows both runs scored)."""
    if len(iterations) < 2:
        return []
    first, last = iterations[0].diagnosis, iterations[-1].diagnosis
    rows = []
    for name in ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting"):
        before = first["components"][name]["value"]
        after = last["components"][name]["value"]
        if before is None and after is None:  # e.g. dev overfitting with the test split sealed
            continue
        rows.append({"component": name, "before": before, "after": after,
                     "change": None if before is None or after is None else after - before,
                     "significant_before": first["components"][name]["significant"],
                     "significant_after": last["components"][name]["significant"]})
    runs = store.get(iterations[0].run_id), store.get(iterations[-1].run_id)
    for split in ("train", "train_dev", "dev", "test"):
        if split in first["errors"] and split in last["errors"]:
            b, a = first["errors"][split]["value"], last["errors"][split]["value"]
            rows.append({"component": f"{split}_error", "before": b, "after": a, "change": a - b,
                         "significant_before": None, "significant_after": None,
                         **_error_change(store, runs, split)})
    return rows


def _error_change(store: Any, runs: tuple[Any, Any], split: str) -> dict[str, Any]:
    """The 95% interval of a split's error change and its verdict (dev: paired on the same rows)."""
    from mlstrat.runs import error_change

    difference, pairing = error_change(*runs, split, rows=store.dev_rows)
    if difference is None:
        return {}
    return {"ci_low": difference.ci_low, "ci_high": difference.ci_high, "verdict": difference.verdict,
            "paired": difference.paired, "pairing": pairing, "p_value": difference.p_value}
