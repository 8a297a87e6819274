"""Recorded runs as candidates for ``select``: one row per run, one column per metric."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from mlstrat._numbers import finite_number
from mlstrat.runs._compare import _check_one_task, _dev_difference, flatten_config
from mlstrat.runs._rows import DevRows
from mlstrat.runs._run import Run

__all__ = ["runs_as_candidates", "metric_column", "candidate_name", "mark_ties"]

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
        row: dict[str, Any] = {"name": candidate_name(run)}
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


def candidate_name(run: Run) -> str:
    """A run's name among candidates: its short id, and its note."""
    return run.short_id + (f" {run.note}" if run.note else "")


def _dev_columns(run: Run) -> set[str]:
    """The candidate columns that are the run's diagnosed dev figure (what its dev rows score)."""
    metric = (run.diagnosis or {}).get("metric")
    names = {"dev_error"}
    if isinstance(metric, dict) and metric.get("unit") == "value":
        names.add(f"dev_{metric_column(str(metric.get('name')))}")
    return names


def mark_ties(selection: Any, runs: Sequence[Run], rows: Callable[[Run], DevRows | None]) -> Any:
    """The selection with the eligible runs tied with the winner within noise.

    The eligible runs must be of one task: runs with different label sets, or ranked on a
    ``<split>_error`` column that holds different metrics (an RMSE beside a MAE), raise a
    ConfigError naming two of them. Only a ranking on the runs' diagnosed dev figure
    (``dev_error``, ``dev_rmse``, ...) is judged for ties: each eligible run is compared with the
    winner paired on the same dev rows when both kept them, else from the two dev intervals as
    independent samples (said in ``notes``).
    """
    by_name = {candidate_name(r): r for r in runs}
    ranked = [by_name[c.name] for c in selection.candidates if c.rank is not None and c.name in by_name]
    kept = [rows(r) for r in ranked]
    _check_one_task(ranked, kept, metrics=selection.metric.endswith("_error"))
    winner = by_name.get(selection.winner) if selection.winner is not None else None
    if winner is None or selection.metric not in _dev_columns(winner):
        return selection
    higher = selection.direction == "maximize"
    winner_rows = rows(winner)
    tied, versus, unpaired = [], {}, []
    for cand in selection.candidates:
        run = by_name.get(cand.name)
        if cand.rank is None or run is None or run.id == winner.id:
            continue
        # the candidate minus the winner: "worse" when it is clearly behind
        difference, pairing = _dev_difference(winner, run, winner_rows, rows(run))
        if difference is None:
            continue
        difference = dataclasses.replace(difference, verdict=_verdict(difference, higher))
        versus[cand.name] = {**difference.to_dict(), "pairing": pairing}
        if difference.verdict == "tied within noise":
            tied.append(cand.name)
        if not difference.paired:
            unpaired.append(f"{run.short_id} ({pairing})")
    notes = ()
    if unpaired:
        notes = (f"compared with the winner unpaired: {', '.join(unpaired)}; their intervals treat the two "
                 "dev figures as independent samples",)
    return dataclasses.replace(selection, tied=tuple(tied), versus_winner=versus, notes=notes)


def _verdict(difference: Any, higher_is_better: bool) -> str:
    from mlstrat.metrics._paired import verdict

    return verdict(difference.ci_low, difference.ci_high, higher_is_better=higher_is_better)
