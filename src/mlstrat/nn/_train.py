"""The public :func:`train`: reads the manifest, normalizes with train statistics, builds (or
transfers) the network, fits it (:mod:`._fitter`) with early stopping on the dev split, then writes
the run directory (:mod:`._outputs`): model.pt, config.resolved.toml, history.json,
predictions.parquet, metrics.json. The data are held in memory or streamed from the engine; under
DDP every rank trains and rank 0 alone writes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.nn._checkpoint import save_checkpoint
from mlstrat.nn._config import TrainConfig
from mlstrat.nn._data import Dataset, Normalizer, load_dataset
from mlstrat.nn._decisions import record_decisions
from mlstrat.nn._distributed import Dist
from mlstrat.nn._fitter import Fitter
from mlstrat.nn._stream_fitter import StreamFitter
from mlstrat.nn._model import Network
from mlstrat.nn._outputs import (
    TrainResult,
    _metrics,
    _prepare_run_dir,
    _stream_predictions,
    _worker_result,
    outputs_to_predictions,
    predict_outputs,
    sealed_metrics,
    write_run_files,
)
from mlstrat.nn._setup import (
    _augmenter,
    _build_network,
    _measured_threads,
    _stream_augmenter,
    _target_tensor,
    _threads,
    auto_threads,
    build_network,
    resolve_device,
)

__all__ = ["train", "resumed_config"]


def train(config: TrainConfig, *, run_dir: str | os.PathLike | None = None, progress: bool | None = None,
          con: Any = None, force: bool = False, test: bool = False, store: Any = None,
          record: bool = True, human: Any = (), note: str | None = None, resume: bool = False) -> TrainResult:
    """Train a network as configured and write its run directory.

    The test split is sealed: predictions.parquet holds its rows, but metrics.json and the
    result hold its figures only with ``test=True``, which counts one look at the test set in
    the run store (``store``: a RunStore or path, ``None`` for the default, ``False`` not to
    count).

    The run is recorded in that run store with its metrics and diagnosis, as ``mlstrat train``
    records it (``record=False`` or ``store=False``: not recorded). A run whose cost became NaN
    or infinite stops at that epoch, warns "diverged: lower the learning rate", carries
    ``history["diverged"]`` and is recorded as failed. ``history["convergence"]`` holds the
    convergence verdict on the train cost (``nn/_convergence.py``). With ``[optim] lr = "find"``
    the learning-rate range test (:func:`mlstrat.nn.lr_find`) picks the learning rate first;
    ``history["lr_find"]`` says which and how.

    At the end of each epoch the trainer's state is saved beside ``run_dir`` (a hidden
    ``.<name>.resume.pt``, removed once the run directory is written); ``resume=True`` continues
    an interrupted run from it and ends with the weights the run would have had uninterrupted.

    Parameters
    ----------
    config : TrainConfig
        The configuration (``TrainConfig.from_toml(path)``).
    run_dir : path-like, default=None
        Where to write; ``runs/run-<UTC time>`` under the working directory by default.
    progress : bool, default=None
        A Rich bar per epoch (train cost, dev error); ``None``: only on a terminal.
    con : ibis DuckDB backend, default=None
        Engine connection used to read the manifest.
    force : bool, default=False
        Overwrite a run directory that already holds a model.
    test : bool, default=False
        Report the test split's figures (one counted look).
    store : RunStore, path-like, None or False, default=None
        Where the look is counted and the run recorded.
    record : bool, default=True
        Record the run in ``store``.
    human : sequence of str or float, default=()
        Human-level error for the recorded diagnosis (``"expert=0.5%"``, or a fraction).
    note : str, default=None
        A note saved with the recorded run.
    resume : bool, default=False
        Continue the interrupted run writing ``run_dir`` from its last epoch checkpoint. The
        config must be the run's own (``lr = "find"`` takes the rate the run found), and so must
        the manifest file and the number of processes; ``force`` is the run's.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError, InputError
        Bad configuration or data (missing columns, NaN features, labels unseen in train,
        no ``split`` column, transfer source of another input size).

    Notes
    -----
    In a process started by torchrun (``RANK``/``WORLD_SIZE`` set) or inside an initialized
    process group, every rank calls ``train`` and trains with DistributedDataParallel; rank 0
    alone writes ``run_dir`` (see docs/guide/scale.md).
    """
    from mlstrat.nn._distributed import distributed

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"train() takes a TrainConfig, got {type(config).__name__}; "
                          "use TrainConfig.from_toml(path)")
    resumed = None
    if resume:
        config, resumed = resumed_config(config, run_dir)
        force = bool(resumed["force"])
    found = None
    if config.optim.lr == "find":  # the range test picks the learning rate before anything trains
        from mlstrat.nn._lr_find import lr_find, with_lr

        found = lr_find(config.resolve_paths(Path.cwd()), con=con)
        config = with_lr(config, found.suggestion)
    with distributed(resolve_device(config.optim.device)) as dist:
        if resumed is not None:
            lr_summary = resumed["lr_find"]
        else:
            lr_summary = None if found is None else found.summary()
        result = _train(config, run_dir=run_dir, progress=progress, con=con, force=force, dist=dist,
                        test=test, lr_find=lr_summary, resumed=resumed)
        writes = dist is None or dist.is_main  # under DDP rank 0 alone writes and records
    result = _seal_test(result, test=test, store=store, con=con)
    if record and store is not False and writes:
        from dataclasses import replace

        from mlstrat.runs._record import record_training_run

        run = record_training_run(result, config, store=store, human=human, note=note, test=test)
        result = replace(result, run_id=run.id)
    return result


def resumed_config(config: TrainConfig, run_dir: str | os.PathLike | None) -> tuple[TrainConfig, dict[str, Any]]:
    """The config to resume with and the epoch checkpoint of ``run_dir``; one line when the config
    or the manifest is not the interrupted run's (they would give another result)."""
    from mlstrat.nn._checkpoint import config_difference, manifest_identity, read_resume_state

    if run_dir is None:
        raise ConfigError("resume=True needs run_dir: the run directory of the interrupted run")
    resumed = read_resume_state(run_dir)
    config = config.resolve_paths(Path.cwd())
    saved = resumed["config"]
    if config.optim.lr == "find" and resumed.get("lr_find") is not None:  # the rate the run found
        from mlstrat.nn._lr_find import with_lr

        config = with_lr(config, saved["optim"]["lr"])
    difference = config_difference(saved, config.to_dict())
    if difference is not None:
        raise ConfigError(f"cannot resume {run_dir}: {difference}; a resumed run needs the run's own config "
                          "(give the same file, or none: `mlstrat train --resume RUN` uses the run's)")
    if manifest_identity(config.data.manifest) != resumed.get("manifest"):
        raise InputError(f"cannot resume {run_dir}: {config.data.manifest} changed since the run started (size "
                         "or modification time); train the run again without --resume")
    return config, resumed


def _epoch_checkpoint(path: Path, config: TrainConfig, *, force: bool, dist: Dist | None,
                      lr_find: dict[str, Any] | None, resumed: dict[str, Any] | None) -> Any:
    """Where this run saves its epoch state (rank 0 writes), refusing a resume under another
    number of processes (the ranks' random streams and sums would differ)."""
    from mlstrat.nn._checkpoint import EpochCheckpoint, manifest_identity

    world = 1 if dist is None else dist.world
    if resumed is not None and int(resumed["world"]) != world:
        raise ConfigError(f"cannot resume {path}: it trained in {resumed['world']} process(es) and this is "
                          f"{world}; resume with --nproc {resumed['world']}")
    run = {"config": config.to_dict(), "force": force, "lr_find": lr_find, "world": world,
           "manifest": manifest_identity(config.data.manifest), "threads": None}
    return EpochCheckpoint(path, run, resumed=resumed, writer=dist is None or dist.is_main)


def _seal_test(result: TrainResult, *, test: bool, store: Any, con: Any) -> TrainResult:
    """Keep the test split's figures out of the result unless asked (metrics.json was written
    sealed already); count a look."""
    from dataclasses import replace

    from mlstrat.sealing._looks import count_test_look, sealed_warning

    metrics = result.metrics
    has_test = "test" in metrics or any("test" in v for v in (metrics.get("tasks") or {}).values())
    if not has_test:
        return result
    if test:
        look = count_test_look(result.run_dir / "predictions.parquet", store=store, con=con)
        return replace(result, warnings=tuple(look.warnings()) if look else ())
    rows = int((metrics.get("test") or {}).get("n") or 0)
    return replace(result, metrics=sealed_metrics(metrics), warnings=(sealed_warning(rows),) if rows else ())


def _train(config: TrainConfig, *, run_dir: str | os.PathLike | None, progress: bool | None, con: Any,
           force: bool, dist: Dist | None, test: bool, lr_find: dict[str, Any] | None = None,
           resumed: dict[str, Any] | None = None) -> TrainResult:
    from mlstrat.nn._rundir import staged_run_dir

    if dist is not None:  # DDP: one bar (rank 0's); a global batch each rank can take a share of
        from mlstrat.nn._distributed import check_batch

        progress = progress if dist.is_main else False
        check_batch(config.optim.batch_size, dist.world)
    if not config.data.manifest:
        raise ConfigError("[data] manifest is not set; give the table written by `mlstrat split`")
    started = time.perf_counter()
    config = config.resolve_paths(Path.cwd())
    path = _prepare_run_dir(run_dir, force)
    checkpoint = _epoch_checkpoint(path, config, force=force, dist=dist, lr_find=lr_find, resumed=resumed)
    if _resolve_loader(config, con) == "stream":
        return _train_stream(config, path, con=con, progress=progress, started=started, dist=dist,
                             test=test, lr_find=lr_find, checkpoint=checkpoint)
    ds = load_dataset(config.data.manifest, config.data, tasks=config.multitask.tasks, con=con)
    device = resolve_device(config.optim.device) if dist is None else dist.device
    model, normalizer, history, proba = _fit_in_memory(config, ds, device, progress, dist, checkpoint)
    if lr_find is not None:
        history["lr_find"] = lr_find
    if proba is None:  # a DDP rank other than 0
        return _worker_result(path, history, ds.classes, ds.tasks, device, model, started, dist.world)

    metrics = _metrics(proba, ds)
    table = outputs_to_predictions(proba, ids=ds.ids, split=ds.split, labels=ds.labels, classes=ds.classes,
                                   tasks=ds.tasks, task_targets=ds.y if ds.tasks else None,
                                   passthrough=ds.passthrough)
    with staged_run_dir(path) as stage:
        save_checkpoint(stage / "model.pt", model=model, normalizer=normalizer, feature_names=ds.feature_names,
                        classes=ds.classes, tasks=ds.tasks, config=config.to_dict(), label=config.data.label,
                        id_column=config.data.id)
        write_run_files(stage, config, history, metrics, test=test)
        _write_predictions(table, stage / "predictions.parquet", con=con)
    checkpoint.remove()
    n_params = sum(p.numel() for p in model.parameters())
    return TrainResult(run_dir=path, metrics=metrics, history=history, classes=list(ds.classes),
                       tasks=list(ds.tasks), device=str(device), n_parameters=n_params,
                       seconds=time.perf_counter() - started, processes=1 if dist is None else dist.world)


def _write_predictions(table: Any, path: Path, *, con: Any) -> None:
    """The in-memory predictions table to the staged run directory. Without an engine given, by
    PyArrow: the table is in memory already, and building the engine's connection only to copy it
    costs more than the write on a short run (docs/benchmarks/train.md); the staged folder makes
    the write atomic either way."""
    if con is not None:
        from mlstrat.tables import write_table

        write_table(table, path, con=con, force=True)
        return
    import pyarrow.parquet as pq

    pq.write_table(table, path)


def _held_out(ds: Dataset, split: str, normalizer: Normalizer,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(X, y) of a held-out split on ``device``, normalized like train; None without its rows."""
    rows = ds.mask(split)
    if not rows.any():
        return None
    return torch.from_numpy(normalizer(ds.X[rows])).to(device), _target_tensor(ds, rows, device)


def _pinned_threads(config: TrainConfig, n_inputs: int, dist: Dist | None,
                    checkpoint: Any) -> tuple[list[Any] | None, int]:
    """(the resumed run's [threads, reason] or None, the thread count fixed before the fit; 0:
    measured). DDP ranks keep the fixed rule: timing each rank separately could give them
    different counts; a resumed run keeps the count it started with (another count can move the
    last bits of a matmul)."""
    kept = checkpoint.resumed["threads"] if checkpoint.resumed is not None else None
    if kept is not None:
        return kept, int(kept[0])
    return None, config.optim.threads or (auto_threads(config, n_inputs) if dist is not None else 0)


def _fit_in_memory(config: TrainConfig, ds: Dataset, device: torch.device, progress: bool | None,
                   dist: Dist | None, checkpoint: Any) -> tuple[Network, Normalizer, dict[str, Any], np.ndarray | None]:
    """Build, fit and predict every row, with the data in memory: (model on CPU, normalizer,
    history, probabilities; None on a DDP rank other than 0, which neither predicts nor writes)."""
    seed = config.optim.seed
    train_rows, dev_rows = ds.mask("train"), ds.mask("dev")
    n_outputs = len(ds.tasks) if ds.tasks else len(ds.classes)
    if not ds.tasks and n_outputs < 2:
        raise InputError(f"{ds.source}: train has a single class ({ds.classes[0]!r}); "
                         "classification needs at least two")
    kept, pinned = _pinned_threads(config, ds.X.shape[1], dist, checkpoint)
    with _threads(pinned), torch.random.fork_rng(devices=[]):
        # dropout masks draw from the global generator (seed + rank under DDP); init and shuffling
        # from `generator`, the same on every rank
        torch.manual_seed(seed if dist is None else dist.seed(seed))
        generator = torch.Generator().manual_seed(seed)
        X_train_raw = ds.X[train_rows]  # (m, F)
        model, normalizer = build_network(config, ds.X.shape[1], n_outputs, X_train_raw, generator)
        model.to(device)
        X_train = torch.from_numpy(normalizer(X_train_raw)).to(device)
        y_train = _target_tensor(ds, train_rows, device)
        w_train = None
        if ds.weights is not None:  # importance weights of the train rows, in the features' dtype
            w_train = torch.from_numpy(ds.weights[train_rows]).to(device=device, dtype=X_train.dtype)
        X_dev = torch.from_numpy(normalizer(ds.X[dev_rows])).to(device) if dev_rows.any() else None
        y_dev = _target_tensor(ds, dev_rows, device) if dev_rows.any() else None
        augment = None
        if config.regularization.augment:
            augment = _augmenter(config, X_train_raw, normalizer, device,
                                 seed if dist is None else dist.seed(seed))
        threads, threads_reason = kept or _measured_threads(config, model, X_train, y_train, bool(ds.tasks),
                                                            pinned=pinned)
        checkpoint.run["threads"] = [threads, threads_reason]
        loader = "dataloader" if config.data.loader == "dataloader" else "memory"
        fitter = Fitter(model, config, X_train, y_train, X_dev, y_dev, generator=generator,
                        augment=augment, loader=loader, dist=dist, w_train=w_train,
                        train_dev=_held_out(ds, "train_dev", normalizer, device))
        if not dev_rows.any():
            import warnings

            from mlstrat._exceptions import MlstratWarning

            warnings.warn(f"{ds.source}: no dev rows; early stopping and restore_best are off",
                          MlstratWarning, stacklevel=4)
        history = fitter.fit(progress=progress, checkpoint=checkpoint)
        history["threads"], history["threads_reason"] = threads, threads_reason
        # stack: record_decisions < _fit_in_memory < _train < train < the caller
        record_decisions(history, config, target_rows=int(train_rows.sum()), tasks=ds.tasks,
                         y_train=ds.y[train_rows] if ds.tasks else None, stacklevel=4)
        if dist is not None and not dist.is_main:  # rank 0 alone predicts and writes the run
            return model, normalizer, history, None
        model.cpu()
        proba = predict_outputs(model, ds.X, normalizer, multitask=bool(ds.tasks))
    return model, normalizer, history, proba


# -- the streaming path ([data] loader = "stream") ------------------------------------------------


def _resolve_loader(config: TrainConfig, con: Any) -> str:
    """``auto`` -> stream for image files or more rows than MLSTRAT_STREAM_ROWS, memory otherwise."""
    from mlstrat.nn._stream import choose_loader

    data = config.data
    if data.loader != "auto" or data.image_col is not None:
        return choose_loader(data, None)
    if config.multitask.tasks:
        return "memory"
    from mlstrat.nn._data import small_parquet

    path = small_parquet(data.manifest, con=con)
    if path is not None:  # the row count is in the file's footer: no engine needed
        import pyarrow.parquet as pq

        try:
            return choose_loader(data, pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # a damaged file: the engine reads it below and names the problem
            pass
    from mlstrat.tables import read_table

    return choose_loader(data, int(read_table(data.manifest, con=con).count().execute()))


def _stream_fitter(config: TrainConfig, src: Any, stats: Any, model: Network, normalizer: Normalizer, *,
                   generator: torch.Generator, device: torch.device, dist: Dist | None) -> StreamFitter:
    """The fitter over the streamed train rows: augmentation, DDP shards, the batch stream."""
    from mlstrat.nn._stream import TrainStream

    seed = config.optim.seed
    augment = None
    if config.regularization.augment:
        augment = _stream_augmenter(config, stats.low, stats.high, seed if dist is None else dist.seed(seed))
    batch_size = config.optim.batch_size or stats.m
    shards = None
    if dist is not None:  # DDP: each rank streams its blocks of rows, in a shared step schedule
        from mlstrat.nn._distributed import StreamShards

        shards = StreamShards(rank=dist.rank, world=dist.world, block=config.data.chunk_size,
                              m=stats.m, batch_size=batch_size)
    stream = TrainStream(src, stats, normalizer, batch_size=batch_size, device=device, augment=augment,
                         shards=shards)
    return StreamFitter(model, config, stream, m=stats.m, n_dev=stats.n.get("dev", 0),
                        n_train_dev=stats.n.get("train_dev", 0), generator=generator, device=device, dist=dist)


def _train_stream(config: TrainConfig, path: Path, *, con: Any, progress: bool | None,
                  started: float, dist: Dist | None = None, test: bool = False,
                  lr_find: dict[str, Any] | None = None, checkpoint: Any = None) -> TrainResult:
    from mlstrat.nn._rundir import staged_run_dir
    from mlstrat.nn._stream import StreamSource

    if config.multitask.tasks:
        raise ConfigError("[data] loader = 'stream' does not support [multitask] yet; use loader = 'memory'")
    src = StreamSource.open(config.data.manifest, config.data, con=con)
    stats = src.scan()
    n_outputs = len(stats.classes)
    if n_outputs < 2:
        raise InputError(f"{src.source}: train has a single class ({stats.classes[0]!r}); "
                         "classification needs at least two")
    device = resolve_device(config.optim.device) if dist is None else dist.device
    seed = config.optim.seed
    with _threads(auto_threads(config, src.n_inputs)), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed if dist is None else dist.seed(seed))
        generator = torch.Generator().manual_seed(seed)
        model, normalizer = _build_network(config, src.n_inputs, n_outputs, generator, lambda: stats.normalizer)
        model.to(device)
        fitter = _stream_fitter(config, src, stats, model, normalizer, generator=generator, device=device,
                                dist=dist)
        if not fitter._has_dev():
            import warnings

            from mlstrat._exceptions import MlstratWarning

            warnings.warn(f"{src.source}: no dev rows; early stopping and restore_best are off",
                          MlstratWarning, stacklevel=4)
        history = fitter.fit(progress=progress, checkpoint=checkpoint)
        history["threads"] = torch.get_num_threads()
        history["threads_reason"] = ("set in [optim] threads" if config.optim.threads
                                     else "streaming loader: the batch x width rule")
        record_decisions(history, config, target_rows=stats.m, stacklevel=4)  # as in _fit_in_memory
        if lr_find is not None:
            history["lr_find"] = lr_find
        if dist is not None and not dist.is_main:  # rank 0 alone predicts and writes the run
            return _worker_result(path, history, stats.classes, [], device, model, started, dist.world)
        with staged_run_dir(path) as stage:
            metrics = _stream_predictions(model, src, stats, normalizer, stage / "predictions.parquet", device)
            model.cpu()
            save_checkpoint(stage / "model.pt", model=model, normalizer=normalizer,
                            feature_names=src.feature_names, classes=stats.classes, tasks=[],
                            config=config.to_dict(), label=config.data.label, id_column=config.data.id)
            write_run_files(stage, config, history, metrics, test=test)
        checkpoint.remove()
    n_params = sum(p.numel() for p in model.parameters())
    return TrainResult(run_dir=path, metrics=metrics, history=history, classes=list(stats.classes),
                       tasks=[], device=str(device), n_parameters=n_params,
                       seconds=time.perf_counter() - started, processes=1 if dist is None else dist.world)
