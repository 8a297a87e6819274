"""Recorded runs as candidates for ``select``: one row per run, one column per metric."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mlstrat._numbers import finite_number
from mlstrat.runs._compare import flatten_config
from mlstrat.runs._run import Run

__all__ = ["runs_as_candidates", "metric_column"]

_SPLIT_NUMBERS = ("error", "accuracy", "precision", "recall", "f1")
# a regression report's per-split estimates (value with its interval)
_ESTIMATES = ("mae", "rmse", "r2")
# choosing among models by their test error is test-set overfitting: test columns are left out
_SELECTABLE_SPLITS = ("train", "train_dev", "dev")


def metric_column(name: str) -> str:
    """The candidate column suffix of a diagnosed metric: its name with every run of characters
    other than letters, digits and ``_`` turned into ``_`` (``ratio:word_errors/words`` ->
    ``ratio_word_errors_words``), so that ``--require`` can name it."""
    return re.sub(r"\W+", "_", name).strip("_") or "metric"


def _diagnosed_columns(run: Run) -> dict[str, float]:
    """``<split>_error`` (a figure where lower is better: an error rate, 1 - F1, RMSE, WER, a mean
    loss) and, for a metric in a unit, ``<split>_<metric>`` in the metric's own direction
    (``dev_rmse``, ``dev_mean_iou``). A higher-is-better score is never called an error: it only
    gets its own column, so ``--minimize dev_error`` cannot crown the worst model."""
    from mlstrat.metrics._spec import metric_name

    metric = (run.diagnosis or {}).get("metric")
    spec = metric if isinstance(metric, dict) else {"name": metric_name(metric), "unit": "rate"}
    higher = spec.get("direction") == "higher_is_better"
    own = metric_column(str(spec.get("name"))) if spec.get("unit") == "value" else None
    out: dict[str, float] = {}
    for split, err in run.errors().items():
        if split in _SELECTABLE_SPLITS and (v := finite_number(err.get("value"))) is not None:
            if not higher:
                out[f"{split}_error"] = v
            if own is not None:
                out[f"{split}_{own}"] = v
    return out


def _metric_columns(run: Run) -> dict[str, float]:
    """``<split>_<name>`` from the recorded metrics: classification rates, and the estimates
    (``{"value", "ci_low", ...}``) of a regression report (``dev_rmse``, ``dev_mae``, ``dev_r2``)."""
    out: dict[str, float] = {}
    for split, numbers in ((run.metrics or {}).get("splits") or {}).items():
        if split not in _SELECTABLE_SPLITS or not isinstance(numbers, dict):
            continue
        for name in (*_SPLIT_NUMBERS, *_ESTIMATES):
            value = numbers.get(name)
            if isinstance(value, dict):
                value = value.get("value")
            if (v := finite_number(value)) is not None:
                out[f"{split}_{name}"] = v
    return out


def runs_as_candidates(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """``name`` (short id, and note) plus ``<split>_<metric>``, each component and every
    numeric config key (``optim.lr``), per run."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {"name": run.short_id + (f" {run.note}" if run.note else "")}
        row.update(_diagnosed_columns(run))
        for key, v in _metric_columns(run).items():
            row.setdefault(key, v)
        for name, comp in run.components().items():
            if (v := finite_number(comp.get("value"))) is not None:
                row[name] = v
        for key, value in flatten_config(run.config).items():
            if (v := finite_number(value)) is not None:
                row.setdefault(key, v)
        rows.append(row)
    return rows
