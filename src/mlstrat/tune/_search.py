"""Random search, coarse to fine, on Optuna's RandomSampler with its RDB (SQLite) storage.

Every trial of a round is asked from the study in this process, in order, before any is
evaluated: the sampled values depend only on the seed, whatever the number of parallel
processes and whichever finishes first. The objective runs in ``jobs`` spawned processes (a
forked process would inherit torch's thread pools; ``_pool.py``); the results are told back in
trial order, each with what the objective returned, so that a stopped search resumes from its
study: finished trials are read back, asked ones trained, the rest asked with the sampler's
draws replayed (the same values as a search never stopped).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.metrics._paired import TIED, Difference, paired_difference
from mlstrat.tune._pool import Pool
from mlstrat.tune._prune import CURVE_KEY, PRUNED_KEY, Pruning, TimeBudget, reference_curves
from mlstrat.tune._space import Param, zoom

__all__ = ["Trial", "Tie", "SearchResult", "search", "tied_with", "dev_rows_of_trial"]

Objective = Callable[[int, dict[str, float]], Mapping[str, Any]]


@dataclass(frozen=True)
class Trial:
    """One evaluated point: its values, the optimizing metric, whether it meets the constraints."""

    number: int
    round: int  # 1: coarse, 2: zoomed
    params: dict[str, float]
    value: float | None  # the optimizing metric; None when the trial failed
    feasible: bool
    info: dict[str, Any] = field(default_factory=dict)  # what the objective returned

    @property
    def state(self) -> str:
        """``complete``, ``pruned`` (stopped early as unpromising: never a failure, never the
        best) or ``failed``."""
        if self.info.get(PRUNED_KEY):
            return "pruned"
        return "failed" if self.value is None else "complete"

    @property
    def pruned_at(self) -> int | None:
        """The epoch a pruned trial stopped at; None for the others."""
        epoch = self.info.get(PRUNED_KEY)
        return int(epoch) if epoch else None

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "round": self.round, "params": self.params, "value": self.value,
                "feasible": self.feasible, "state": self.state, **self.info}


@dataclass(frozen=True)
class Tie:
    """A trial whose dev figure cannot be told apart from the best trial's (paired on the same rows)."""

    trial: Trial
    difference: Difference  # this trial minus the best

    def to_dict(self) -> dict[str, Any]:
        d = self.difference
        return {"number": self.trial.number, "value": self.trial.value, "change": d.value,
                "ci_low": d.ci_low, "ci_high": d.ci_high, "paired": d.paired, "p_value": d.p_value}


@dataclass(frozen=True)
class SearchResult:
    trials: tuple[Trial, ...]
    best: Trial | None  # the best feasible trial
    space: tuple[Param, ...]  # the coarse round's ranges
    zoomed: tuple[Param, ...]  # the second round's ranges
    storage: str | None
    #: feasible trials tied with ``best`` within noise (95% paired interval of the difference
    #: includes 0), best first; empty when no per-row results were given
    tied: tuple[Tie, ...] = ()
    #: the coarse round's trials the second round zoomed around: its best and those tied with it
    #: (or, when none is tied, the best ``top`` share)
    region: tuple[int, ...] = ()
    #: the time budget ran out: the trials not started then were left for ``--resume``
    out_of_time: bool = False


#: A trial's per-row dev results: (kind, row ids, per-row values), see
#: :func:`mlstrat.metrics._paired.paired_difference`; ``None`` when the trial has none.
RowsOf = Callable[[Trial], "tuple[str, Sequence[str], Any] | None"]


def tied_with(best: Trial, others: Sequence[Trial], rows: RowsOf | None) -> tuple[Tie, ...]:
    """The trials of ``others`` that the best cannot be told apart from on the same dev rows.

    Each is compared with ``best`` paired, row by row (:func:`paired_difference`); a trial is
    tied when the 95% interval of its difference from the best includes 0. Trials without
    per-row results, or scored on other rows, are never called tied.
    """
    if rows is None:
        return ()
    mine = rows(best)
    if mine is None:
        return ()
    kind, ids, values = mine
    position = {key: i for i, key in enumerate(ids)}
    out = []
    for trial in others:
        theirs = None if trial.number == best.number else rows(trial)
        if theirs is None or theirs[0] != kind or sorted(theirs[1]) != sorted(position):
            continue  # no rows, or other rows: never called tied
        order = [position[key] for key in theirs[1]]
        difference = paired_difference(kind, _take(values, order), theirs[2])
        if difference.verdict == TIED:
            out.append(Tie(trial, difference))
    return tuple(out)


def _take(values: Any, order: list[int]) -> Any:
    import numpy as np

    if isinstance(values, tuple):  # a ratio's (numerators, denominators)
        return tuple(np.asarray(v)[order] for v in values)
    return np.asarray(values)[order]


def search(space: Sequence[Param], objective: Objective, *, budget: int, seed: int = 0, jobs: int = 1,
           coarse: float = 0.6, top: float = 0.1, storage: str | None = None, study_name: str = "mlstrat-tune",
           feasible: Callable[[Mapping[str, Any]], bool] | None = None,
           on_trial: Callable[[Trial], None] | None = None,
           initializer: Callable[[], None] | None = None, rows: RowsOf | None = None,
           prune: Pruning | None = None, seconds: float | None = None,
           clock: Callable[[], float] | None = None) -> SearchResult:
    """Minimize ``objective(number, params)["value"]`` by random search in two rounds.

    Parameters
    ----------
    space : sequence of Param
    objective : callable
        ``objective(number, params) -> {"value": float | None, ...}`` (``number``: the trial's
        number, from 0); must be picklable when ``jobs`` > 1.
    budget : int
        Trials in all; ``ceil(coarse * budget)`` in the first round over the full ranges, the rest
        in the region spanned by the first round's best trial and the trials tied with it within
        noise (with ``rows``); when none is tied, by the best ``top`` share of its feasible trials.
    seed : int
        Seeds Optuna's RandomSampler.
    jobs : int
        Parallel processes.
    storage : str, default=None
        Optuna storage URL (``sqlite:///path/tune.db``); in memory when None. A study already
        there (a stopped search with the same settings) is continued: its finished trials are
        kept as they were, the others trained.
    feasible : callable, default=None
        Satisficing constraints on a trial's info; an infeasible trial is recorded but cannot win.
    on_trial : callable, default=None
        Called with each finished trial, in trial order.
    initializer : callable, default=None
        Run once in each worker process (in this process when ``jobs`` is 1) before any trial:
        one-off costs such as imports then do not count in a trial's time.
    rows : callable, default=None
        ``rows(trial) -> (kind, ids, values)``: a trial's per-row dev results. With it, the
        result names the trials tied with the best (:func:`tied_with`) and the zoom centres
        on the coarse round's tied set rather than on one noisy winner.
    prune : Pruning, default=None
        Stop unpromising trials early (Optuna's MedianPruner on the dev cost per epoch, see
        :mod:`mlstrat.tune._prune`): the objective is then called with ``pruner=`` (a
        :class:`~mlstrat.tune._prune.TrialPruner`) and marks a pruned trial with
        ``info["pruned_at_epoch"]``. A pruned trial is recorded as pruned and never chosen.
    seconds : float, default=None
        Time budget: no trial starts once this many seconds have passed (those running finish);
        the trials not started stay in the study for a resumed search.
    clock : callable, default=None
        Seconds on a monotonic clock for the time budget (``time.monotonic``).
    """
    settings = {"budget": budget, "coarse": coarse, "top": top, "seed": seed, "space": [_param_doc(p) for p in space]}
    if prune is not None:  # pruning changes which trials finish: a search resumes with the same rule
        settings["prune"] = prune.to_doc()
    study = _study(storage, study_name, seed, settings=settings)
    n_coarse = min(max(math.ceil(coarse * budget), 1), budget)
    feasible = feasible or (lambda info: True)
    trials: list[Trial] = []
    gate = _Gate(objective, prune, TimeBudget(seconds, clock or time.monotonic), jobs, trials)
    with Pool(jobs, initializer) as pool:
        trials += _round(study, space, gate, n_coarse, 1, pool, feasible, on_trial)
        best_region = _zoom_region(trials, top, rows)
        zoomed = zoom(space, [t.params for t in best_region]) if best_region else tuple(space)
        if not gate.out_of_time:
            trials += _round(study, zoomed, gate, budget - n_coarse, 2, pool, feasible, on_trial,
                             start=len(trials))
    candidates = _ranked(trials)
    best = candidates[0] if candidates else None
    tied = tied_with(best, candidates[1:], rows) if best is not None else ()
    return SearchResult(trials=tuple(trials), best=best, space=tuple(space), zoomed=tuple(zoomed),
                        storage=storage, tied=tied, region=tuple(t.number for t in best_region),
                        out_of_time=gate.out_of_time)


class _Gate:
    """Decides, as each trial starts, whether it may (the time budget) and with which pruner
    (the curves of the completed trials numbered ``jobs`` or more before it)."""

    def __init__(self, objective: Objective, prune: Pruning | None, budget: TimeBudget, jobs: int,
                 earlier: list[Trial]) -> None:
        self.objective, self.prune, self.budget, self.jobs = objective, prune, budget, jobs
        self.earlier = earlier  # the trials of the rounds before
        self.kept: list[Trial] = []  # this round's trials that a resumed search took from its study
        self.out_of_time = False

    def __call__(self, number: int, finished: Mapping[int, Mapping[str, Any]]) -> Objective | None:
        if self.budget.spent():
            self.out_of_time = True
            return None
        if self.prune is None:
            return self.objective
        import functools

        known = {t.number: {"value": t.value, **t.info} for t in (*self.earlier, *self.kept)}
        reference = reference_curves({**known, **finished}, number, self.jobs)
        return functools.partial(self.objective, pruner=self.prune.for_trial(reference))


def _ranked(trials: Sequence[Trial]) -> list[Trial]:
    """Feasible finished trials, best first (ties on the figure: fewer parameters, then earlier)."""
    candidates = [t for t in trials if t.feasible and t.value is not None and math.isfinite(t.value)]
    return sorted(candidates, key=lambda t: (t.value, t.info.get("n_parameters", 0), t.number))


def _zoom_region(trials: Sequence[Trial], top: float, rows: RowsOf | None) -> list[Trial]:
    """The coarse trials the fine round zooms around: the best and every trial tied with it
    within noise; the best ``top`` share when none is tied (the best then stands out)."""
    ranked = _ranked(trials)
    if not ranked:
        return []
    tied = tied_with(ranked[0], ranked[1:], rows)
    if tied:
        return [ranked[0], *(t.trial for t in tied)]
    return ranked[:max(2, math.ceil(top * len(ranked)))]


def _study(storage: str | None, name: str, seed: int, *, settings: dict[str, Any]) -> Any:
    """The study: created, or loaded to go on where a stopped search left off (its sampler then
    replays the draws already made, so the trials still to ask are the ones an uninterrupted
    search would have asked)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # library code does not print
    sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(storage=storage, sampler=sampler, study_name=name, direction="minimize",
                                load_if_exists=True)
    asked = study.get_trials(deepcopy=False)
    if not asked:
        study.set_user_attr("settings", settings)
        return study
    if study.user_attrs.get("settings") != settings:
        raise ConfigError(f"{storage}: holds a search with other settings ({_settings_text(study.user_attrs.get('settings'))}); "
                          "resume it with the same config, or pass --force to start a new one")
    unit = optuna.distributions.FloatDistribution(0.0, 1.0)
    for _ in range(len(asked) * len(settings["space"])):  # one uniform draw per value sampled
        sampler.sample_independent(study, asked[0], "replay", unit)
    return study


def _param_doc(p: Param) -> list[Any]:
    return [p.name, p.low, p.high, p.scale]


def _settings_text(settings: Any) -> str:
    if not isinstance(settings, dict):
        return "unknown"
    names = ", ".join(str(p[0]) for p in settings.get("space", []))
    pruning = "on (--prune)" if settings.get("prune") else "off (--no-prune)"
    return f"budget {settings.get('budget')}, seed {settings.get('seed')}, space {names}, pruning {pruning}"


def _round(study: Any, space: Sequence[Param], gate: _Gate, n: int, round_: int, pool: Pool,
           feasible: Callable, on_trial: Callable | None, *, start: int = 0) -> list[Trial]:
    """Trials ``start`` .. ``start + n - 1``: those a stopped search finished are taken from the
    study as they were; the others (asked and never told, or not asked yet) are trained, until
    the time budget runs out."""
    from optuna.trial import TrialState

    if n <= 0:
        return []
    if gate.budget.spent():  # nothing more starts: leave the round unasked
        gate.out_of_time = True
        return []
    numbers = list(range(start, start + n))
    asked = {t.number: t for t in study.get_trials(deepcopy=False) if start <= t.number < start + n}
    distributions = {p.key: p.distribution() for p in space}
    for number in numbers[len(asked):]:
        trial = study.ask(distributions)
        trial.set_user_attr("round", round_)
        asked[trial.number] = trial
    points = {i: {p.name: p.value(asked[i].params[p.key]) for p in space} for i in numbers}
    finished = {i: t for i, t in asked.items() if getattr(t, "state", TrialState.RUNNING) != TrialState.RUNNING}
    todo = [i for i in numbers if i not in finished]
    kept = [_from_study(finished[i], points[i], round_) for i in numbers if i in finished]
    gate.kept = kept  # a resumed search judges its next trials against these too
    # pruning judges a trial by the ones `jobs` places before it: they must have finished
    results = iter(pool.map(gate.objective, todo, [points[i] for i in todo], prepare=gate,
                            ordered=gate.prune is not None))
    kept_by_number = {t.number: t for t in kept}
    out: list[Trial] = []
    for i in numbers:
        if i in kept_by_number:
            trial = kept_by_number[i]
        else:
            info = next(results)
            if info is None:  # out of time: this trial and the later ones stay asked, for --resume
                break
            trial = _tell(study, i, round_, points[i], info, feasible)
        if on_trial is not None:
            on_trial(trial)
        out.append(trial)
    gate.kept = []  # the caller adds this round's trials to the earlier ones
    return out


def _tell(study: Any, number: int, round_: int, params: dict[str, float], info: Mapping[str, Any],
          feasible: Callable) -> Trial:
    """Record a trained trial in the study: its value, and what it returned (to resume from)."""
    import optuna
    from optuna.trial import TrialState

    info = dict(info)
    value = info.pop("value", None)
    ok = value is not None and math.isfinite(value)
    trial = Trial(number=number, round=round_, params=params, value=float(value) if ok else None,
                  feasible=ok and bool(feasible(info)), info=info)
    frozen = study.get_trials(deepcopy=False)[number]
    # a trial asked by an earlier (stopped) process is known here by its storage id only
    handle = optuna.trial.Trial(study, frozen._trial_id)
    handle.set_user_attr("round", round_)
    handle.set_user_attr("feasible", trial.feasible)
    handle.set_user_attr("info", _json_safe(info))
    for epoch, cost in enumerate(info.get(CURVE_KEY) or [], start=1):  # Optuna's intermediate values
        if cost is not None and math.isfinite(cost):
            handle.report(float(cost), epoch)
    if trial.state == "pruned":
        study.tell(number, state=TrialState.PRUNED)
    elif ok:
        study.tell(number, trial.value)
    else:
        study.tell(number, state=TrialState.FAIL)
    return trial


def _from_study(frozen: Any, params: dict[str, float], round_: int) -> Trial:
    from optuna.trial import TrialState

    info = dict(frozen.user_attrs.get("info", {}))
    # Optuna gives a pruned trial its last reported figure as value: here it has none (never chosen)
    value = frozen.value if frozen.values and frozen.state == TrialState.COMPLETE else None
    return Trial(number=frozen.number, round=round_, params=params, value=value,
                 feasible=bool(frozen.user_attrs.get("feasible", False)), info=info)


def _json_safe(info: Mapping[str, Any]) -> dict[str, Any]:
    """What Optuna's storage keeps of a trial's info: JSON values only."""
    import json

    return json.loads(json.dumps(info, default=str))


def dev_rows_of_trial(trial: Trial, *, metric: str = "dev_error") -> tuple[str, list[str], Any] | None:
    """A trained trial's per-row dev results from its ``predictions.parquet``: 0/1 mistakes
    (``dev_error``) or the cross-entropy of the true class (``dev_cost``, from the
    ``proba_<class>`` columns); ``None`` when the file, the ids or the probabilities are missing."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mlstrat._labels import label_text

    path = Path(str(trial.info.get("run_dir", ""))) / "predictions.parquet"
    if trial.value is None or not path.is_file():
        return None
    table = pq.read_table(path)
    if not {"id", "split", "y_true", "y_pred"} <= set(table.column_names):
        return None
    dev = table.filter(pc.equal(pc.cast(table["split"], "string"), "dev")).to_pydict()
    ids = [str(i) for i in dev["id"]]
    truth = [label_text(y) for y in dev["y_true"]]
    if metric == "dev_error":
        wrong = [t != label_text(p) for t, p in zip(truth, dev["y_pred"])]
        return "rate", ids, np.asarray(wrong, dtype=np.float64)
    columns = [f"proba_{y}" for y in truth]
    if not all(c in dev for c in set(columns)):
        return None
    p_true = np.array([dev[c][i] for i, c in enumerate(columns)], dtype=np.float64)
    return "mean", ids, -np.log(np.clip(p_true, 1e-15, 1.0))
