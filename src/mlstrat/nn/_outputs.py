"""What a training run writes: probabilities, the predictions table, metrics.json, the run
directory and its text files (the test split sealed unless asked).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlstrat.display._repr import NotebookRepr
from mlstrat._exceptions import InputError
from mlstrat.nn._config import TrainConfig
from mlstrat.nn._data import Dataset, Normalizer
from mlstrat.nn._fitter import _EVAL_CHUNK
from mlstrat.nn._model import Network

__all__ = ["TrainResult", "predict_outputs", "outputs_to_predictions", "write_run_files", "sealed_metrics"]


@dataclass(frozen=True)
class TrainResult(NotebookRepr):
    """What :func:`train` wrote and measured.

    Attributes
    ----------
    run_dir : Path
        The run directory (model.pt, config.resolved.toml, history.json, predictions.parquet, metrics.json).
    metrics : dict
        metrics.json: per split ``n``, ``error``, ``accuracy``, ``cost``; ``tasks`` for multi-task.
    history : dict
        history.json: ``epochs`` (per epoch train/dev cost and error), ``best_epoch``,
        ``stopped_early``, ``restored_best``.
    warnings : tuple of dict
        ``{"code", "message"}``: the test split sealed, or used (with the look count).
    run_id : str or None
        The id of the run recorded in the run store (``None``: not recorded).
    """

    run_dir: Path
    metrics: dict[str, Any]
    history: dict[str, Any]
    classes: list[Any] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    device: str = "cpu"
    n_parameters: int = 0
    seconds: float = 0.0
    processes: int = 1  # DDP world size: processes that trained together
    warnings: tuple[dict[str, str], ...] = ()
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "device": self.device, "n_parameters": self.n_parameters,
                "seconds": round(self.seconds, 3), "processes": self.processes, "classes": self.classes,
                "tasks": self.tasks, "metrics": self.metrics, "history": self.history,
                "warnings": list(self.warnings), "run_id": self.run_id}


def predict_outputs(model: Network, X: np.ndarray, normalizer: Normalizer, *, multitask: bool,
                    device: torch.device | str = "cpu") -> np.ndarray:
    """Probabilities (N, n_outputs): softmax over classes or one sigmoid per task."""
    model.eval()
    Xn = torch.from_numpy(normalizer(X))
    out = []
    with torch.no_grad():
        for i in range(0, Xn.shape[0], _EVAL_CHUNK):
            logits = model(Xn[i:i + _EVAL_CHUNK].to(device))
            out.append((torch.sigmoid(logits) if multitask else torch.softmax(logits, dim=1)).cpu())
    if not out:
        return np.zeros((0, model.arch.n_outputs))
    return torch.cat(out).double().numpy()


def outputs_to_predictions(proba: np.ndarray, *, ids: np.ndarray, split: np.ndarray | None,
                           labels: np.ndarray | None, classes: list[Any], tasks: list[str],
                           task_targets: np.ndarray | None = None,
                           passthrough: dict[str, np.ndarray] | None = None) -> Any:
    """The predictions table (pyarrow): id, split, y_true, y_pred, proba_<class>, domain, group.

    Multi-task runs give one row per labeled (example, task) entry with a ``task`` column and
    ``proba_0``/``proba_1``, so that the error over the table is the multi-task error.
    """
    import pyarrow as pa

    passthrough = passthrough or {}
    cols: dict[str, Any] = {}
    if tasks:
        n, t = proba.shape
        rows, task_idx = np.nonzero(~np.isnan(task_targets)) if task_targets is not None else (
            np.repeat(np.arange(n), t), np.tile(np.arange(t), n))
        p1 = proba[rows, task_idx]
        cols["id"] = ids[rows]
        if split is not None:
            cols["split"] = split[rows]
        cols["task"] = np.asarray(tasks, dtype=object)[task_idx]
        if task_targets is not None:
            cols["y_true"] = task_targets[rows, task_idx].astype(np.int64)
        cols["y_pred"] = (p1 >= 0.5).astype(np.int64)
        cols["proba_0"], cols["proba_1"] = 1.0 - p1, p1
        for name, values in passthrough.items():
            cols[name] = values[rows]
    else:
        cols["id"] = ids
        if split is not None:
            cols["split"] = split
        pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if len(proba) else np.array([], object)
        if labels is not None:
            cols["y_true"] = labels
        cols["y_pred"] = pa.array(pred.tolist(), type=pa.array(list(classes)).type)
        for j, c in enumerate(classes):
            cols[f"proba_{c}"] = proba[:, j]
        cols.update(passthrough)
    return pa.table({k: v if isinstance(v, pa.Array) else pa.array(_plain(v)) for k, v in cols.items()})


def _plain(values: np.ndarray) -> Any:
    return values.tolist() if values.dtype == object else values


def _metrics(proba: np.ndarray, ds: Dataset) -> dict[str, Any]:
    """metrics.json: per split n, error, accuracy and the (unregularized) cost."""
    from mlstrat._constants import SPLITS

    eps = 1e-12
    out: dict[str, Any] = {}
    tasks: dict[str, Any] = {t: {} for t in ds.tasks}
    for split in SPLITS:
        rows = ds.mask(split)
        if not rows.any():
            continue
        if ds.tasks:
            y, p = ds.y[rows], proba[rows]
            labeled = ~np.isnan(y)
            yl = np.where(labeled, y, 0)
            wrong = ((p >= 0.5) != (yl > 0.5)) & labeled
            bce = -(yl * np.log(p + eps) + (1 - yl) * np.log(1 - p + eps))
            n = int(labeled.sum())
            error = float(wrong.sum() / n) if n else None
            out[split] = {"n": n, "error": error, "accuracy": None if error is None else 1 - error,
                          "cost": float(bce[labeled].mean()) if n else None}
            for j, task in enumerate(ds.tasks):
                nt = int(labeled[:, j].sum())
                et = float(wrong[:, j].sum() / nt) if nt else None
                tasks[task][split] = {"n": nt, "error": et, "accuracy": None if et is None else 1 - et}
        else:
            y, p = ds.y[rows], proba[rows]
            error = float((p.argmax(axis=1) != y).mean())
            cost = float(-np.log(p[np.arange(len(y)), y] + eps).mean())
            out[split] = {"n": int(rows.sum()), "error": error, "accuracy": 1 - error, "cost": cost}
    if ds.tasks:
        out["tasks"] = tasks
    return out


def _prepare_run_dir(run_dir: str | os.PathLike | None, force: bool) -> Path:
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = Path("runs") / f"run-{stamp}"
        i = 1
        while path.exists():
            i += 1
            path = Path("runs") / f"run-{stamp}-{i}"
    else:
        path = Path(run_dir)
    if (path / "model.pt").exists() and not force:
        raise InputError(f"{path}: already holds a trained run; choose another run directory (-o) "
                         "or pass --force (force=True) to overwrite it")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory; choose another run directory")
    return path


def write_run_files(folder: Path, config: TrainConfig, history: dict[str, Any], metrics: dict[str, Any],
                    *, test: bool = False) -> None:
    """The run's text files. The resolved config is ``config.resolved.toml``: a ``config.toml``
    in the run directory is the user's own file (``train exp1/config.toml -o exp1``) and is kept.
    ``metrics.json`` holds the test split's figures only with ``test`` (sealed before it is
    written, so no file ever shows them unasked)."""
    from mlstrat._json import dumps
    from mlstrat.tables import atomic_write_text

    atomic_write_text(folder / "config.resolved.toml", config.to_toml())
    atomic_write_text(folder / "history.json", dumps(history) + "\n")
    atomic_write_text(folder / "metrics.json", dumps(metrics if test else sealed_metrics(metrics)) + "\n")


def sealed_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` without the test split's figures (also per task)."""
    sealed = {k: v for k, v in metrics.items() if k != "test"}
    if "tasks" in metrics:
        sealed["tasks"] = {t: {s: m for s, m in v.items() if s != "test"}
                           for t, v in metrics["tasks"].items()}
    return sealed


def _worker_result(path: Path, history: dict[str, Any], classes: list[Any], tasks: list[str],
                   device: torch.device, model: Network, started: float, world: int) -> TrainResult:
    """What a DDP rank other than 0 returns: the history (the same on every rank), no metrics."""
    return TrainResult(run_dir=path, metrics={}, history=history, classes=list(classes), tasks=list(tasks),
                       device=str(device), n_parameters=sum(p.numel() for p in model.parameters()),
                       seconds=time.perf_counter() - started, processes=world)


def _stream_predictions(model: Network, src: Any, stats: Any, normalizer: Normalizer, final: Path,
                        device: torch.device) -> dict[str, Any]:
    """Predict every row in manifest order, writing predictions.parquet batch by batch (temporary
    file + rename); returns metrics.json accumulated on the way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlstrat._constants import SPLITS
    from mlstrat.nn._stream import _decode, eval_chunks
    from mlstrat.tables._outputs import publish, temp_path

    data = src.data
    source_types = {"id": src.schema.get(data.id), "split": pa.string(), "y_true": src.schema.get(data.label),
                    **{c: src.schema.get(c) for c in src.passthrough}}
    sums = {s: [0, 0, 0.0] for s in SPLITS}  # n, wrong, sum of -log p(true class)
    eps = 1e-12
    model.eval()
    tmp = temp_path(final)
    writer = None
    try:
        extra = [data.id, "split", *src.passthrough]
        with torch.no_grad():
            for batch, X, y in eval_chunks(src, stats, normalizer, split=None, extra=extra):
                logits = model(torch.from_numpy(X).to(device))
                proba = torch.softmax(logits, dim=1).cpu().double().numpy()
                split = np.asarray(_decode(batch.column("split")).to_pylist(), dtype=object)
                cols = {c: _decode(batch.column(c)).to_numpy(zero_copy_only=False) for c in src.passthrough}
                table = outputs_to_predictions(
                    proba, ids=_decode(batch.column(data.id)).to_numpy(zero_copy_only=False), split=split,
                    labels=_decode(batch.column(data.label)).to_numpy(zero_copy_only=False),
                    classes=stats.classes, tasks=[], passthrough=cols)
                if writer is None:
                    schema = pa.schema([pa.field(f.name, source_types.get(f.name) or f.type)
                                        for f in table.schema])
                    writer = pq.ParquetWriter(str(tmp), schema)
                writer.write_table(table.cast(schema))
                wrong = proba.argmax(axis=1) != y
                nll = -np.log(proba[np.arange(len(y)), y] + eps)
                for s in SPLITS:
                    rows = split == s
                    if rows.any():
                        acc = sums[s]
                        acc[0] += int(rows.sum())
                        acc[1] += int(wrong[rows].sum())
                        acc[2] += float(nll[rows].sum())
        if writer is not None:
            writer.close()
            writer = None
            publish(tmp, final)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    out: dict[str, Any] = {}
    for s in SPLITS:
        n, wrong_n, nll_sum = sums[s]
        if n:
            error = wrong_n / n
            out[s] = {"n": n, "error": error, "accuracy": 1 - error, "cost": nll_sum / n}
    return out
