"""The method's decision questions that a training run's own data can answer.

Transfer A -> B makes sense when A has much more data than B (with the same input type, and
low-level features of A that help B); multi-task learning when the tasks have similar amounts
of data. Training states the sizes it sees and warns when they argue against the choice made
in the config. The figures go into history.json (``history["transfer"]``,
``history["multitask"]``), the warnings into ``history["warnings"]`` with a ``code`` each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlstrat._exceptions import MlstratWarning

__all__ = ["DecisionWarning", "record_decisions", "TRANSFER_MIN_RATIO", "MULTITASK_MIN_SHARE",
           "transfer_sizes", "multitask_counts", "source_train_rows"]

#: transfer pays off when the source has "much more data" than the target: at least this many
#: times its training rows (below it, training from scratch is the comparison to make)
TRANSFER_MIN_RATIO = 10.0
#: multi-task learning wants "similar amounts of data": the smallest task's labelled train rows
#: at least this share of the largest's
MULTITASK_MIN_SHARE = 0.10


def source_train_rows(init_from: str | Path) -> int | None:
    """The training-set size of the run a transfer starts from, or ``None`` when it is not
    recorded.

    ``init_from`` is a run directory or its model.pt. A run records ``train_rows`` in its
    history.json; for a run written before that, the single-task metrics.json's ``train.n``
    is the same count (a multi-task ``n`` counts labelled entries, not rows, so it is not used).
    """
    path = Path(init_from)
    folder = path if path.is_dir() else path.parent
    history = _json_file(folder / "history.json")
    rows = history.get("train_rows") if isinstance(history, dict) else None
    if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0:
        return rows
    metrics = _json_file(folder / "metrics.json")
    if not isinstance(metrics, dict) or metrics.get("tasks"):
        return None
    n = (metrics.get("train") or {}).get("n") if isinstance(metrics.get("train"), dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None


def _json_file(path: Path) -> Any:
    """The parsed file, or ``None`` when it is missing or unreadable (a size it would give is
    then unknown, which is said, not an error: the model itself loaded)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def transfer_sizes(init_from: str | Path, target_rows: int, *,
                   min_ratio: float = TRANSFER_MIN_RATIO) -> dict[str, Any]:
    """The source and target training-set sizes of a transfer, and a warning when the source
    is not much larger than the target or its size is unknown.

    Parameters
    ----------
    init_from : path-like
        ``[transfer] init_from``: the source run directory or its model.pt.
    target_rows : int
        This run's training rows.
    min_ratio : float, default=TRANSFER_MIN_RATIO
        Source rows below ``min_ratio`` times the target's draw the warning.

    Returns
    -------
    dict
        ``init_from``, ``source_train_rows`` (``None``: unknown), ``target_train_rows``,
        ``ratio`` (``None`` when unknown or the target is empty), ``min_ratio`` and
        ``warnings`` (``{"code", "message"}``, at most one).
    """
    source = source_train_rows(init_from)
    ratio = None if source is None or target_rows <= 0 else source / target_rows
    out: dict[str, Any] = {"init_from": str(init_from), "source_train_rows": source,
                           "target_train_rows": int(target_rows), "ratio": ratio, "min_ratio": min_ratio,
                           "warnings": []}
    if source is None:
        out["warnings"].append({"code": "transfer-source-size-unknown", "message": (
            f"[transfer] init_from {init_from}: the source run records no training-set size "
            f"(history.json train_rows), so whether it has much more data than this run's "
            f"{target_rows:,} train rows cannot be checked")})
    elif ratio is not None and ratio < min_ratio:
        out["warnings"].append({"code": "transfer-source-small", "message": (
            f"[transfer] init_from {init_from}: the source was trained on {source:,} rows, "
            f"{ratio:.1f}x this run's {target_rows:,} train rows; transfer pays off when the source "
            f"has much more data than the target (here at least {min_ratio:g}x), so compare with "
            "training from scratch (the config without [transfer])")})
    return out


def multitask_counts(tasks: Sequence[str], y_train: np.ndarray, *,
                     min_share: float = MULTITASK_MIN_SHARE) -> dict[str, Any]:
    """Per-task labelled and positive train rows, and warnings when a task cannot learn (no
    positive or no negative) or the tasks' amounts of data are far apart.

    Parameters
    ----------
    tasks : sequence of str
        The task columns, in the order of ``y_train``'s columns.
    y_train : ndarray of shape (m, T)
        The train rows' 0/1 targets, NaN where a label is missing.
    min_share : float, default=MULTITASK_MIN_SHARE
        The smallest task's labelled rows below this share of the largest's draw the warning.

    Returns
    -------
    dict
        ``tasks`` (per task ``labelled``, ``positives``), ``min_share`` and ``warnings``
        (``{"code", "message"}``).
    """
    y = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), len(tasks))
    labelled = ~np.isnan(y)
    counts = {task: {"labelled": int(labelled[:, j].sum()),
                     "positives": int((np.where(labelled[:, j], y[:, j], 0) > 0.5).sum())}
              for j, task in enumerate(tasks)}
    warnings: list[dict[str, str]] = []
    for task, c in counts.items():
        if c["labelled"] and c["positives"] in (0, c["labelled"]):
            only = "0" if c["positives"] == 0 else "1"
            warnings.append({"code": "multitask-one-class", "message": (
                f"[multitask] task {task!r}: all {c['labelled']:,} labelled train rows are {only}; "
                "its output can only learn to say that; drop the task or label both outcomes")})
    if len(counts) > 1:
        small = min(counts, key=lambda t: counts[t]["labelled"])
        large = max(counts, key=lambda t: counts[t]["labelled"])
        n_small, n_large = counts[small]["labelled"], counts[large]["labelled"]
        if n_small < min_share * n_large:
            warnings.append({"code": "multitask-unbalanced", "message": (
                f"[multitask] task {small!r} has {n_small:,} labelled train rows against {n_large:,} for "
                f"task {large!r} ({n_small / n_large:.1%}); multi-task learning helps "
                f"when the tasks have similar amounts of data (here at least {min_share:.0%} of the "
                f"largest), so compare with training {small!r} on its own")})
    return {"tasks": counts, "min_share": min_share, "warnings": warnings}


class DecisionWarning(MlstratWarning):
    """A config choice the run's data argue against; ``code`` names which
    (``transfer-source-small``, ``transfer-source-size-unknown``, ``multitask-one-class``,
    ``multitask-unbalanced``)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def record_decisions(history: dict[str, Any], config: Any, *, target_rows: int, tasks: Sequence[str] = (),
                     y_train: np.ndarray | None = None, stacklevel: int = 1) -> None:
    """Add the training-set size, and the transfer and multi-task figures the config calls for,
    to ``history``; their warnings go with the history's others and are raised as
    :class:`DecisionWarning` (the CLI shows the history's warnings once each)."""
    import warnings

    history["train_rows"] = int(target_rows)
    found: dict[str, dict[str, Any]] = {}
    if config.transfer.init_from:
        found["transfer"] = transfer_sizes(config.transfer.init_from, target_rows)
    if tasks and y_train is not None:
        found["multitask"] = multitask_counts(tasks, y_train)
    for key, doc in found.items():
        history[key] = {k: v for k, v in doc.items() if k != "warnings"}
        history["warnings"] = [*history.get("warnings", []), *doc["warnings"]]
        for w in doc["warnings"]:
            warnings.warn(DecisionWarning(w["message"], w["code"]), stacklevel=stacklevel + 1)
