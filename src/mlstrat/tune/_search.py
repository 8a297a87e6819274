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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.tune._pool import Pool
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
    """
    study = _study(storage, study_name, seed, settings={"budget": budget, "coarse": coarse, "top": top, "seed": seed,
                                                        "space": [_param_doc(p) for p in space]})
    n_coarse = min(max(math.ceil(coarse * budget), 1), budget)
    feasible = feasible or (lambda info: True)
    trials: list[Trial] = []
    with Pool(jobs, initializer) as pool:
        trials += _round(study, space, objective, n_coarse, 1, pool, feasible, on_trial)
        ranked = sorted((t for t in trials if t.feasible and t.value is not None), key=lambda t: t.value)
        best_region = ranked[:max(2, math.ceil(top * len(ranked)))]
        zoomed = zoom(space, [t.params for t in best_region]) if best_region else tuple(space)
        trials += _round(study, zoomed, objective, budget - n_coarse, 2, pool, feasible, on_trial,
                         start=len(trials))
    candidates = [t for t in trials if t.feasible and t.value is not None and math.isfinite(t.value)]
    best = min(candidates, key=lambda t: (t.value, t.info.get("n_parameters", 0), t.number), default=None)
    return SearchResult(trials=tuple(trials), best=best, space=tuple(space), zoomed=tuple(zoomed), storage=storage)


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
    return f"budget {settings.get('budget')}, seed {settings.get('seed')}, space {names}"


def _round(study: Any, space: Sequence[Param], objective: Objective, n: int, round_: int, pool: Pool,
           feasible: Callable, on_trial: Callable | None, *, start: int = 0) -> list[Trial]:
    """Trials ``start`` .. ``start + n - 1``: those a stopped search finished are taken from the
    study as they were; the others (asked and never told, or not asked yet) are trained."""
    from optuna.trial import TrialState

    if n <= 0:
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
    results = iter(pool.map(objective, todo, [points[i] for i in todo]))
    out = []
    for i in numbers:
        if i in finished:
            trial = _from_study(finished[i], points[i], round_)
        else:
            trial = _tell(study, i, round_, points[i], next(results), feasible)
        if on_trial is not None:
            on_trial(trial)
        out.append(trial)
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
    if ok:
        study.tell(number, trial.value)
    else:
        study.tell(number, state=TrialState.FAIL)
    return trial


def _from_study(frozen: Any, params: dict[str, float], round_: int) -> Trial:
    info = dict(frozen.user_attrs.get("info", {}))
    value = frozen.value if frozen.values else None
    return Trial(number=frozen.number, round=round_, params=params, value=value,
                 feasible=bool(frozen.user_attrs.get("feasible", False)), info=info)


def _json_safe(info: Mapping[str, Any]) -> dict[str, Any]:
    """What Optuna's storage keeps of a trial's info: JSON values only."""
    import json

    return json.loads(json.dumps(info, default=str))
