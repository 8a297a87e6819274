"""``mlstrat tune``: hyperparameter search over a training config, the method on top of Optuna.

Each trial trains the config with its sampled values and is recorded in the run store with its
metrics and diagnosis (train, train-dev and dev only: tuning never evaluates the test set, so
trials do not count as test-set evaluations). The winner is the feasible trial with the best
optimizing metric on dev; feasibility is the satisficing constraints (training time, parameter
count). The effects table says which component (avoidable bias, variance) each hyperparameter
moved across the trials.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, InputError, MlstratError
from mlstrat.tune._pool import first_line
from mlstrat.tune._prune import CURVE_KEY, PRUNED_KEY, Pruning, TrialPruner, parse_duration
from mlstrat.tune._search import SearchResult, Trial, dev_rows_of_trial, search
from mlstrat.tune._space import TuneConfig, apply_params

__all__ = ["TuneResult", "tune", "read_tune_config"]

_NOT_TEST = ("train", "train_dev", "dev")


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found: every trial, the winner, the zoomed region and the effects."""

    search: SearchResult
    config: TuneConfig
    output: Path
    effects: dict[str, dict[str, float | None]]  # hyperparameter -> component -> Spearman rho
    run_ids: dict[int, str]  # trial number -> recorded run id

    @property
    def best(self) -> Trial | None:
        return self.search.best

    @property
    def first_failure(self) -> Trial | None:
        """The first failed trial when every trial failed (nothing to choose from), else None.
        A pruned trial is no failure: a search of pruned trials only is never this."""
        trials = self.search.trials
        return trials[0] if trials and all(t.state == "failed" for t in trials) else None

    @property
    def tied(self) -> tuple[Trial, ...]:
        """The trials tied with the best within noise (paired on the same dev rows)."""
        return tuple(t.trial for t in self.search.tied)

    def convergence_notes(self) -> list[str]:
        """What the trials' convergence verdicts (nn/_convergence.py) say about the search: a best
        trial still improving when its epochs ran out was compared unfinished; diverged trials
        mean the space's learning rates reach too high."""
        notes = []
        best = self.best
        if best is not None and best.info.get("convergence") == "improving":
            notes.append(f"the best trial {best.number} was still improving when its epochs ran out: train it "
                         "longer (more [optim] epochs) before trusting the comparison")
        diverged = [t.number for t in self.search.trials if t.info.get("convergence") == "diverging"]
        if diverged:
            notes.append(f"{len(diverged)} trial(s) diverged ({', '.join(map(str, diverged))}): lower the top of "
                         "the learning-rate range in [tune.space]")
        return notes

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "convergence_notes": self.convergence_notes(),
            "output": str(self.output), "metric": self.config.metric, "budget": len(self.search.trials),
            "planned": self.config.budget,
            "seed": self.config.seed, "jobs": self.config.jobs,
            "prune": ({"startup": self.config.prune_startup, "warmup": self.config.prune_warmup}
                      if self.config.prune else None),
            "time": self.config.time or None, "out_of_time": self.search.out_of_time,
            "pruned": sum(t.state == "pruned" for t in self.search.trials),
            "epochs": sum(int(t.info.get("epochs") or 0) for t in self.search.trials),
            "constraints": {"max_seconds": self.config.max_seconds or None,
                            "max_parameters": self.config.max_parameters or None},
            "space": [_param_dict(p) for p in self.search.space],
            "zoomed": [_param_dict(p) for p in self.search.zoomed],
            "best": None if best is None else {**best.to_dict(), "run_id": self.run_ids.get(best.number)},
            # the trials the best cannot be told apart from on the same dev rows (95% paired interval)
            "tied": [{**t.to_dict(), "run_id": self.run_ids.get(t.trial.number)} for t in self.search.tied],
            "zoom_region": list(self.search.region),
            "trials": [{**t.to_dict(), "run_id": self.run_ids.get(t.number)} for t in self.search.trials],
            "effects": self.effects,
        }


def _param_dict(p: Any) -> dict[str, Any]:
    return {"name": p.name, "low": p.low, "high": p.high, "scale": p.scale}


def read_tune_config(path: str | os.PathLike) -> tuple[dict[str, Any], TuneConfig]:
    """(the training sections, the [tune] section) of a TOML config file."""
    from mlstrat.nn._config_toml import read_toml

    path = Path(path)
    raw = read_toml(path)
    try:
        tune_config = TuneConfig.from_dict(raw.pop("tune", {}))
        from mlstrat.nn import TrainConfig

        train_config = TrainConfig.from_dict(raw, base_dir=path.parent)  # fail now, not in the first trial
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    manifest = train_config.data.manifest
    if manifest and "://" not in str(manifest) and not Path(manifest).exists():
        raise ConfigError(f"{path}: [data] manifest: {manifest}: no such file; check the path")
    return raw, tune_config


def warm_up() -> None:
    """Pay a worker's one-off costs (torch, the engine) before the first trial, so that the
    training-time constraint measures training. torch._dynamo is not among them: the trainer's
    optimizers never import it (nn._setup.eager_optimizer)."""
    import ibis
    import pyarrow.parquet  # noqa: F401
    import torch.optim  # noqa: F401

    import mlstrat.nn._train  # noqa: F401
    import mlstrat.tables  # noqa: F401

    ibis.duckdb.connect().disconnect()  # the engine's first connection loads its extensions


class _StopTrial(Exception):
    """Raised from the epoch callback to stop a pruned trial's training."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned at epoch {epoch}")
        self.epoch = epoch


def train_trial(number: int, params: dict[str, float], *, config: dict[str, Any], base_dir: str, output: str,
                metric: str, threads: int, pruner: TrialPruner | None = None) -> dict[str, Any]:
    """Train one trial (in a worker process); returns only dev figures and the run's costs, or
    the failure that stopped it (``value`` None, ``error`` the cause). With ``pruner``, the dev
    cost of every epoch goes to it and a trial it stops returns ``value`` None and the epoch
    (``pruned_at_epoch``); every trial returns its dev cost per epoch."""
    import time
    import warnings

    from mlstrat._exceptions import MlstratWarning
    from mlstrat.nn import TrainConfig, train
    from mlstrat.nn._hooks import on_epoch

    values = apply_params(config, params)
    if threads:
        values.setdefault("optim", {})["threads"] = threads
    run_dir = Path(output) / f"trial-{number:03d}"
    curve: list[float] = []

    def report(stats: Any) -> None:
        if stats.dev_cost is None:
            return
        curve.append(float(stats.dev_cost))
        if pruner is not None and pruner.should_stop(stats.epoch, float(stats.dev_cost)):
            raise _StopTrial(stats.epoch)

    started = time.perf_counter()
    try:
        train_config = TrainConfig.from_dict(values, base_dir=base_dir)
        with warnings.catch_warnings(record=True) as caught, on_epoch(report):
            warnings.simplefilter("always")
            result = train(train_config, run_dir=run_dir, force=True, progress=False, record=False)
    except _StopTrial as stop:
        return {"value": None, PRUNED_KEY: stop.epoch, "epochs": len(curve), CURVE_KEY: curve,
                "seconds": round(time.perf_counter() - started, 3)}
    except MlstratError as exc:
        return {"value": None, "error": str(exc), "run_dir": str(run_dir)}
    except Exception as exc:  # e.g. out of memory in torch: this trial fails, the search goes on
        return {"value": None, "error": first_line(exc), "run_dir": str(run_dir)}
    dev = result.metrics.get("dev")
    if dev is None:
        raise InputError(f"{train_config.data.manifest}: no dev rows; tuning chooses on dev")
    key = "error" if metric == "dev_error" else "cost"
    return {"value": dev[key], "dev": {"error": dev["error"], "cost": dev["cost"], "n": dev["n"]},
            "seconds": round(result.seconds, 3), "n_parameters": result.n_parameters, "run_dir": str(run_dir),
            "epochs": len(result.history.get("epochs") or curve), CURVE_KEY: curve,
            "convergence": (result.history.get("convergence") or {}).get("code"),
            "warnings": sorted({str(w.message) for w in caught if issubclass(w.category, MlstratWarning)})}


def tune(config: str | os.PathLike, *, budget: int | None = None, jobs: int | None = None, seed: int | None = None,
         output: str | os.PathLike | None = None, store: Any = None, human: Sequence[str] = (),
         record: bool = True, force: bool = False, resume: bool = False, prune: bool | None = None,
         time: str | None = None, clock: Callable[[], float] | None = None) -> TuneResult:
    """Search the ``[tune.space]`` of a training config; record each trial; choose on dev.

    Every option is checked before the first trial trains. The search lives in ``tune.db``
    (Optuna's study): a stopped search (Ctrl-C, ``kill``, a crash) goes on with ``resume``, its
    finished trials kept and recorded once.

    Parameters
    ----------
    config : path-like
        A training TOML with a ``[tune]`` section (``[tune.space]``: name = [low, high]).
    budget, jobs, seed : int, default=None
        Override ``[tune] budget``, ``jobs`` and ``seed``.
    output : path-like, default=None
        Folder for the trials' run directories, ``tune.db`` (Optuna) and ``tune.json``;
        ``runs/tune-<config name>`` by default.
    store : RunStore or path, default=None
        Run store the trials are recorded in.
    human : sequence of str
        Human-level error(s) for the trials' diagnoses ("expert=0.5%").
    record : bool, default=True
    force : bool, default=False
        Start a new search in an ``output`` folder that already holds one.
    resume : bool, default=False
        Go on with the search that ``output`` holds (same config and settings).
    prune : bool, default=None
        Override ``[tune] prune`` (on by default): stop a trial whose best dev cost so far is
        worse than the median, at the same epoch, of the completed trials numbered ``jobs`` or
        more before it (Optuna's MedianPruner; no pruning before ``prune_startup`` trials
        completed nor before epoch ``prune_warmup``). The same seed and ``jobs`` prune the same
        trials. A pruned trial is recorded as pruned, never as failed, and never chosen.
    time : str, default=None
        Override ``[tune] time``: a time budget ("10m", "1h30m"); no trial starts once it is
        spent (the running ones finish), and the rest of the budget is left for ``resume``.
    clock : callable, default=None
        Seconds on a monotonic clock for the time budget (``time.monotonic``).
    """
    path = Path(config)
    raw, tc = _settings(path, budget=budget, jobs=jobs, seed=seed, prune=prune, time=time)
    out = output_folder(path, output)
    recorder = _Recorder(store, human, raw, path, out) if record else None
    if recorder is None:
        _check_human(human)
    db = _prepare_output(out, force=force, resume=resume)
    fresh = not db.exists()
    objective = _objective(raw, tc, base_dir=path.parent.resolve(), output=out.resolve())

    def feasible(info: Mapping[str, Any]) -> bool:
        return ((not tc.max_seconds or info.get("seconds", math.inf) <= tc.max_seconds)
                and (not tc.max_parameters or info.get("n_parameters", math.inf) <= tc.max_parameters))

    try:
        result = search(tc.space, objective, budget=tc.budget, seed=tc.seed, jobs=tc.jobs, coarse=tc.coarse,
                        top=tc.top, storage=f"sqlite:///{db.resolve()}", feasible=feasible,
                        on_trial=recorder.record if recorder else None, initializer=warm_up,
                        rows=functools.partial(dev_rows_of_trial, metric=tc.metric),
                        prune=Pruning(tc.prune_startup, tc.prune_warmup) if tc.prune else None,
                        seconds=parse_duration(tc.time) if tc.time else None, clock=clock)
    except MlstratError:
        if fresh:  # a search that stopped on bad input leaves nothing that blocks the fixed command
            db.unlink(missing_ok=True)
        raise
    return _finish(result, tc, out, path, recorder)


def output_folder(config: str | os.PathLike, output: str | os.PathLike | None) -> Path:
    """Where a search of ``config`` lives: ``output``, or ``runs/tune-<config name>``."""
    return Path(output) if output is not None else Path("runs") / f"tune-{Path(config).stem}"


def _settings(path: Path, *, budget: int | None, jobs: int | None, seed: int | None, prune: bool | None = None,
              time: str | None = None) -> tuple[dict[str, Any], TuneConfig]:
    """The config's training sections and its ``[tune]`` section with the flags applied."""
    import dataclasses

    if time is not None:  # the flag's own message: `--time '10': ...`
        parse_duration(time, name="--time")
    raw, tc = read_tune_config(path)
    overrides = {k: v for k, v in (("budget", budget), ("jobs", jobs), ("seed", seed), ("prune", prune),
                                   ("time", time)) if v is not None}
    try:
        return raw, dataclasses.replace(tc, **overrides)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("[tune] ", "--")) from None


def _check_human(human: Sequence[str]) -> None:
    from mlstrat.diagnosis import parse_human

    parse_human(human)


def _prepare_output(out: Path, *, force: bool, resume: bool) -> Path:
    """Check the output folder against --force/--resume and create it; returns ``tune.db``'s path
    (removed for --force)."""
    if force and resume:
        raise ConfigError("--force starts a new search and --resume goes on with the old one: pass one of them")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; -o takes a folder for the trials")
    db = out / "tune.db"
    if db.exists() and not (force or resume):
        raise InputError(f"{out}: already holds a search (tune.db); go on with it (--resume), start a new one "
                         "(--force) or choose another folder (-o)")
    if resume and not db.exists():
        raise InputError(f"{out}: holds no search to resume (no tune.db); run without --resume")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror}); choose another (-o)") from None
    if force:
        db.unlink(missing_ok=True)
    return db


def _finish(result: SearchResult, tc: TuneConfig, out: Path, path: Path, recorder: _Recorder | None) -> TuneResult:
    from mlstrat._json import dumps
    from mlstrat.report import render_report
    from mlstrat.tables import atomic_write_text

    effects = component_effects(result.trials, tc.space)
    tuned = TuneResult(search=result, config=tc, output=out, effects=effects,
                       run_ids=recorder.run_ids if recorder else {})
    atomic_write_text(out / "tune.json", dumps(tuned.to_dict()) + "\n")
    render_report(tune=tuned.to_dict(), title=f"mlstrat tune {path.name}", output=out / "tune.html")
    return tuned


def _objective(raw: dict[str, Any], tc: TuneConfig, *, base_dir: Path, output: Path) -> Any:
    # one thread per trial when trials run side by side: the processes share the cores
    return functools.partial(train_trial, config=raw, base_dir=str(base_dir), output=str(output),
                             metric=tc.metric, threads=1 if tc.jobs > 1 else 0)


class _Recorder:
    """Records each finished trial in the run store with its diagnosis on train/train-dev/dev.

    A trial's run id is a digest of its folder and its config: a resumed or restarted search
    that meets a trial already recorded (the same folder, the same values) records it once.
    """

    def __init__(self, store: Any, human: Sequence[str], raw: dict[str, Any], path: Path, out: Path) -> None:
        from mlstrat.runs import RunStore

        self.store = store if isinstance(store, RunStore) else RunStore(store)
        _check_store(self.store)
        _check_human(human)
        self.human, self.raw, self.path, self.out = list(human), raw, path, out.resolve()
        self.run_ids: dict[int, str] = {}

    def record(self, trial: Trial) -> None:
        import warnings

        from mlstrat._exceptions import MlstratWarning
        from mlstrat.diagnosis import diagnose
        from mlstrat.metrics import compute_metrics
        from mlstrat.runs import keep_dev_rows
        from mlstrat.tables import fingerprint

        if trial.state == "pruned":
            self._record_pruned(trial)
            return
        run_dir = Path(trial.info["run_dir"]) if "run_dir" in trial.info else None
        if trial.value is None or run_dir is None or not (run_dir / "predictions.parquet").exists():
            return
        table = _without_test(run_dir / "predictions.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MlstratWarning)
            diagnosis = diagnose(table, human=self.human)
            metrics = compute_metrics(table)
        trial.info["components"] = _components(diagnosis)
        config = apply_params(self.raw, trial.params)
        run_id = _trial_run_id(self.out / run_dir.name, config)
        self.run_ids[trial.number] = run_id
        if _recorded(self.store, run_id):
            return
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        note = f"tune {self.path.name} trial {trial.number} (round {trial.round}): {values}"
        manifest = self.raw.get("data", {}).get("manifest")
        data_fp = fingerprint(str((self.path.parent / manifest).resolve())) if manifest else None
        self.store.record("tune", config=config, data_fingerprint=data_fp, metrics=metrics, diagnosis=diagnosis,
                          artifacts=run_dir, note=note, run_id=run_id)
        keep_dev_rows(self.store, run_id, table, diagnosis=diagnosis)  # later comparisons pair them


    def _record_pruned(self, trial: Trial) -> None:
        """A pruned trial: ``{"status": "pruned", ...}`` as its metrics (the epoch it stopped at and
        its dev cost per epoch), no diagnosis (it has no predictions), the state at the head of its
        note."""
        from mlstrat.tables import fingerprint

        config = apply_params(self.raw, trial.params)
        run_id = _trial_run_id(self.out / f"trial-{trial.number:03d}", config)
        self.run_ids[trial.number] = run_id
        if _recorded(self.store, run_id):
            return
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        note = (f"pruned at epoch {trial.pruned_at} | tune {self.path.name} trial {trial.number} "
                f"(round {trial.round}): {values}")
        manifest = self.raw.get("data", {}).get("manifest")
        data_fp = fingerprint(str((self.path.parent / manifest).resolve())) if manifest else None
        metrics = {"status": "pruned", PRUNED_KEY: trial.pruned_at, CURVE_KEY: list(trial.info.get(CURVE_KEY) or [])}
        self.store.record("tune", config=config, data_fingerprint=data_fp, metrics=metrics, note=note,
                          run_id=run_id, count_test=False)


def _check_store(store: Any) -> None:
    """A --store that cannot hold runs fails now, not after the first trial trained."""
    if store.path.exists():
        store.schema_version  # noqa: B018 (opening it checks the file is a run store)
        return
    parent = store.path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{store.path}: cannot create the run store there ({parent} is not a writable "
                         "folder); pass another --store")


def _trial_run_id(run_dir: Path, config: Mapping[str, Any]) -> str:
    import hashlib
    import json

    key = json.dumps([str(run_dir), config], sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _recorded(store: Any, run_id: str) -> bool:
    try:
        return store.get(run_id).id == run_id
    except InputError:
        return False


def _without_test(predictions: Path) -> Any:
    """The trial's predictions on train, train-dev and dev: the test rows never leave the file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(predictions)
    return table.filter(pc.is_in(table["split"], value_set=pa.array(list(_NOT_TEST))))


def _components(diagnosis: Any) -> dict[str, float | None]:
    """avoidable bias, variance, data mismatch (dev overfitting needs test: never here)."""
    return {name: c.value for name, c in diagnosis.components.items() if name != "dev_overfitting"}


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def component_effects(trials: Sequence[Trial], space: Sequence[Any]) -> dict[str, dict[str, float | None]]:
    """Spearman's rho between each hyperparameter (on its sampling axis) and each diagnosis
    component across the recorded trials: which component a hyperparameter moved, and which way."""
    from scipy.stats import spearmanr

    rows = [t for t in trials if t.info.get("components")]
    names = sorted({c for t in rows for c, v in t.info["components"].items() if v is not None})
    out: dict[str, dict[str, float | None]] = {}
    for p in space:
        out[p.name] = {}
        for c in names:
            pairs = [(p.axis(t.params[p.name]), t.info["components"][c]) for t in rows
                     if t.info["components"].get(c) is not None]
            if len(pairs) < 4 or len({x for x, _ in pairs}) < 2 or len({y for _, y in pairs}) < 2:
                out[p.name][c] = None
                continue
            rho = spearmanr([x for x, _ in pairs], [y for _, y in pairs]).statistic
            out[p.name][c] = None if not math.isfinite(rho) else round(float(rho), 3)
    return out
