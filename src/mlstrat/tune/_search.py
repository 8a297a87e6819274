"""Random search, coarse to fine, on Optuna's RandomSampler with its RDB (SQLite) storage.

Every trial of a round is asked from the study in this process, in order, before any is
evaluated: the sampled values depend only on the seed, whatever the number of parallel
processes and whichever finishes first. The objective runs in ``jobs`` spawned processes (a
forked process would inherit torch's thread pools); the results are told back in trial order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat.tune._space import Param, zoom

__all__ = ["Trial", "SearchResult", "search"]

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

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "round": self.round, "params": self.params, "value": self.value,
                "feasible": self.feasible, **self.info}


@dataclass(frozen=True)
class SearchResult:
    trials: tuple[Trial, ...]
    best: Trial | None  # the best feasible trial
    space: tuple[Param, ...]  # the coarse round's ranges
    zoomed: tuple[Param, ...]  # the second round's ranges
    storage: str | None


def search(space: Sequence[Param], objective: Objective, *, budget: int, seed: int = 0, jobs: int = 1,
           coarse: float = 0.6, top: float = 0.1, storage: str | None = None, study_name: str = "mlstrat-tune",
           feasible: Callable[[Mapping[str, Any]], bool] | None = None,
           on_trial: Callable[[Trial], None] | None = None,
           initializer: Callable[[], None] | None = None) -> SearchResult:
    """Minimize ``objective(number, params)["value"]`` by random search in two rounds.

    Parameters
    ----------
    space : sequence of Param
    objective : callable
        ``objective(number, params) -> {"value": float | None, ...}`` (``number``: the trial's
        number, from 0); must be picklable when ``jobs`` > 1.
    budget : int
        Trials in all; ``ceil(coarse * budget)`` in the first round over the full ranges, the rest
        in the region spanned by the best ``top`` share of the first round's feasible trials.
    seed : int
        Seeds Optuna's RandomSampler.
    jobs : int
        Parallel processes.
    storage : str, default=None
        Optuna storage URL (``sqlite:///path/tune.db``); in memory when None.
    feasible : callable, default=None
        Satisficing constraints on a trial's info; an infeasible trial is recorded but cannot win.
    on_trial : callable, default=None
        Called with each finished trial, in trial order.
    initializer : callable, default=None
        Run once in each worker process (in this process when ``jobs`` is 1) before any trial:
        one-off costs such as imports then do not count in a trial's time.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # library code does not print
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed),
                                study_name=study_name, direction="minimize")
    n_coarse = min(max(math.ceil(coarse * budget), 1), budget)
    feasible = feasible or (lambda info: True)
    trials: list[Trial] = []
    with _Pool(jobs, initializer) as pool:
        trials += _round(study, space, objective, n_coarse, 1, pool, feasible, on_trial)
        ranked = sorted((t for t in trials if t.feasible and t.value is not None), key=lambda t: t.value)
        best_region = ranked[:max(2, math.ceil(top * len(ranked)))]
        zoomed = zoom(space, [t.params for t in best_region]) if best_region else tuple(space)
        trials += _round(study, zoomed, objective, budget - n_coarse, 2, pool, feasible, on_trial,
                         start=len(trials))
    candidates = [t for t in trials if t.feasible and t.value is not None and math.isfinite(t.value)]
    best = min(candidates, key=lambda t: (t.value, t.info.get("n_parameters", 0), t.number), default=None)
    return SearchResult(trials=tuple(trials), best=best, space=tuple(space), zoomed=tuple(zoomed), storage=storage)


def _round(study: Any, space: Sequence[Param], objective: Objective, n: int, round_: int, pool: _Pool,
           feasible: Callable, on_trial: Callable | None, *, start: int = 0) -> list[Trial]:
    from optuna.trial import TrialState

    if n <= 0:
        return []
    distributions = {p.key: p.distribution() for p in space}
    asked = [study.ask(distributions) for _ in range(n)]
    points = [{p.name: p.value(t.params[p.key]) for p in space} for t in asked]
    out = []
    numbers = list(range(start, start + n))
    for i, (asked_trial, params, info) in enumerate(zip(asked, points, pool.map(objective, numbers, points))):
        info = dict(info)
        value = info.pop("value", None)
        ok = value is not None and math.isfinite(value)
        trial = Trial(number=start + i, round=round_, params=params, value=float(value) if ok else None,
                      feasible=ok and bool(feasible(info)), info=info)
        asked_trial.set_user_attr("round", round_)
        asked_trial.set_user_attr("feasible", trial.feasible)
        if ok:
            study.tell(asked_trial, trial.value)
        else:
            study.tell(asked_trial, state=TrialState.FAIL)
        if on_trial is not None:
            on_trial(trial)
        out.append(trial)
    return out


class _Pool:
    """``map`` in order over spawned worker processes, or in this process for one job."""

    def __init__(self, jobs: int, initializer: Callable[[], None] | None = None) -> None:
        self.jobs, self.initializer = jobs, initializer
        self.executor: Any = None

    def __enter__(self) -> _Pool:
        if self.jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.executor = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=self.initializer)
        elif self.initializer is not None:
            self.initializer()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)

    def map(self, fn: Objective, numbers: list[int], points: list[dict[str, float]]) -> Any:
        if self.executor is None:
            return (fn(i, p) for i, p in zip(numbers, points))  # lazily: on_trial sees each trial as it ends
        return self.executor.map(fn, numbers, points)
