"""Recorded runs as candidates for ``select``: one row per run, one column per metric."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlstrat.runs._compare import flatten_config
from mlstrat.runs._run import Run

__all__ = ["runs_as_candidates"]

_SPLIT_NUMBERS = ("error", "accuracy", "precision", "recall", "f1")
# choosing among models by their test error is test-set overfitting: test columns are left out
_SELECTABLE_SPLITS = ("train", "train_dev", "dev")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def runs_as_candidates(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """``name`` (short id, and note) plus ``<split>_<metric>``, each component and every
    numeric config key (``optim.lr``), per run."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {"name": run.short_id + (f" {run.note}" if run.note else "")}
        for split, err in run.errors().items():
            if split in _SELECTABLE_SPLITS and (v := _number(err.get("value"))) is not None:
                row[f"{split}_error"] = v
        for split, numbers in ((run.metrics or {}).get("splits") or {}).items():
            if split in _SELECTABLE_SPLITS:
                for name in _SPLIT_NUMBERS:
                    if (v := _number(numbers.get(name))) is not None:
                        row.setdefault(f"{split}_{name}", v)
        for name, comp in run.components().items():
            if (v := _number(comp.get("value"))) is not None:
                row[name] = v
        for key, value in flatten_config(run.config).items():
            if (v := _number(value)) is not None:
                row.setdefault(key, v)
        rows.append(row)
    return rows
