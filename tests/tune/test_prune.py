"""Pruned search and the time budget: the median rule against a brute-force computation of it,
the same pruned trials whatever the order processes finish in, pruned trials recorded as such and
never chosen, a time budget read from a fake clock, and strict ``--time`` values."""

import math

import numpy as np
import optuna
import pytest

from mlstrat._exceptions import ConfigError
from mlstrat.tune import Param, search
from mlstrat.tune._pool import Pool
from mlstrat.tune._prune import Pruning, TimeBudget, parse_duration

from . import objectives

SPACE = (Param("lr", 1e-3, 1.0, "log"),)


def brute_force_pruned(trials, *, startup, warmup, lag):
    """Which trials the median rule stops, and at which epoch, computed from the definition:
    trial i stops at the first epoch e >= warmup where its best cost so far exceeds the median
    of the costs at epoch e of the completed trials numbered i - lag or lower (at least
    ``startup`` of them)."""
    done = {}  # number -> curve of the completed trials
    out = {}
    for t in trials:
        curve = objectives.curve_of(t.params)
        reference = [c for j, c in done.items() if j <= t.number - lag]
        stop = None
        if len(reference) >= startup:
            for e in range(warmup, len(curve) + 1):
                if min(curve[:e]) > float(np.median([c[e - 1] for c in reference])):
                    stop = e
                    break
        if stop is None:
            done[t.number] = curve
        else:
            out[t.number] = stop
    return out


@pytest.mark.parametrize("jobs", [1, 2])
def test_pruned_trials_follow_the_median_rule_and_repeat(tmp_path, jobs):
    prune = Pruning(startup=2, warmup=2)
    runs = [search(SPACE, objectives.with_pruner, budget=12, seed=3, jobs=jobs, prune=prune, storage=storage)
            for storage in (f"sqlite:///{tmp_path}/s0.db", None)]
    result = runs[0]
    pruned = {t.number: t.pruned_at for t in result.trials if t.state == "pruned"}
    assert pruned == brute_force_pruned(result.trials, startup=2, warmup=2, lag=jobs)
    assert len(pruned) >= 2
    assert pruned == {t.number: t.pruned_at for t in runs[1].trials if t.state == "pruned"}
    for t in result.trials:
        if t.state == "pruned":
            assert t.value is None and not t.feasible
            assert t.to_dict()["state"] == "pruned" and t.to_dict()["pruned_at_epoch"] == t.pruned_at
    # the winner is the best completed trial, never a pruned one
    completed = [t for t in result.trials if t.state == "complete"]
    assert result.best.number == min(completed, key=lambda t: t.value).number
    # the study holds them as PRUNED, with the curve as intermediate values
    study = optuna.load_study(study_name="mlstrat-tune", storage=f"sqlite:///{tmp_path}/s0.db")
    frozen = {t.number: t for t in study.get_trials()}
    for number, epoch in pruned.items():
        assert frozen[number].state == optuna.trial.TrialState.PRUNED
        assert max(frozen[number].intermediate_values) == epoch


def test_unpruned_search_trains_every_trial_to_the_end(tmp_path):
    result = search(SPACE, objectives.with_pruner, budget=8, seed=3)
    assert [t.state for t in result.trials] == ["complete"] * 8
    assert all(t.info["epochs"] == 6 for t in result.trials)


def test_a_resumed_pruned_search_keeps_its_pruned_trials(tmp_path):
    storage = f"sqlite:///{tmp_path}/tune.db"
    prune = Pruning(startup=2, warmup=2)
    whole = search(SPACE, objectives.with_pruner, budget=10, seed=3, prune=prune)
    objectives.CLOCK["now"] = 0.0
    first = search(SPACE, _timed_with_pruner, budget=10, seed=3, prune=prune, storage=storage, seconds=45,
                   clock=lambda: objectives.CLOCK["now"])
    assert first.out_of_time and len(first.trials) == 5
    objectives.CALLS.clear()
    again = search(SPACE, objectives.with_pruner, budget=10, seed=3, prune=prune, storage=storage)
    assert objectives.CALLS == list(range(5, 10))  # the kept trials are not trained again
    assert [(t.state, t.pruned_at, t.value) for t in again.trials] == \
        [(t.state, t.pruned_at, t.value) for t in whole.trials]


def _timed_with_pruner(number, params, pruner=None):
    objectives.CLOCK["now"] += 10.0
    return objectives.with_pruner(number, params, pruner=pruner)


def test_the_time_budget_stops_the_search_on_its_clock(tmp_path):
    objectives.CLOCK["now"] = 0.0
    objectives.CALLS.clear()
    result = search(SPACE, objectives.ten_seconds_each, budget=10, seed=0, seconds=25.0,
                    clock=lambda: objectives.CLOCK["now"], storage=f"sqlite:///{tmp_path}/tune.db")
    # trials start at t = 0, 10 and 20; at 30 the budget of 25 s is spent
    assert objectives.CALLS == [0, 1, 2]
    assert [t.number for t in result.trials] == [0, 1, 2]
    assert result.out_of_time
    assert result.best.number == min(result.trials, key=lambda t: t.value).number
    # the second round was never asked; the coarse round's remaining trials wait for a resume
    study = optuna.load_study(study_name="mlstrat-tune", storage=f"sqlite:///{tmp_path}/tune.db")
    states = [t.state for t in study.get_trials()]
    assert len(states) == 6  # ceil(0.6 * 10) coarse trials asked
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3


def test_no_time_budget_runs_the_whole_budget():
    objectives.CALLS.clear()
    result = search(SPACE, objectives.value_of, budget=5, seed=0, seconds=None)
    assert len(result.trials) == 5 and not result.out_of_time


def test_time_budget_is_spent_once_and_stays_spent():
    now = iter([100.0, 104.0, 106.0, 90.0])  # a clock that (wrongly) goes back is ignored once spent
    budget = TimeBudget(5.0, lambda: next(now))
    assert not budget.spent()
    assert budget.spent()
    assert budget.spent()
    assert not TimeBudget(None, lambda: 1e9).spent()


def test_the_pool_starts_a_trial_once_the_trials_jobs_places_before_it_finished():
    seen = []

    def prepare(number, finished):
        seen.append((number, sorted(finished)))
        return objectives.value_of

    with Pool(2) as pool:
        out = list(pool.map(objectives.value_of, [0, 1, 2, 3, 4], [{"lr": 0.5}] * 5, prepare=prepare))
    assert [o["value"] for o in out] == [0.5, 1.5, 2.5, 3.5, 4.5]
    for number, finished in seen:
        assert set(range(number - 1)) <= set(finished)  # every trial numbered number - 2 or lower


def test_the_pool_yields_none_for_the_trials_not_started():
    calls = iter([objectives.value_of, objectives.value_of, None])
    with Pool(2) as pool:
        out = list(pool.map(objectives.value_of, [0, 1, 2, 3], [{"lr": 0.5}] * 4,
                            prepare=lambda number, finished: next(calls)))
    assert [None if o is None else o["value"] for o in out] == [0.5, 1.5, None, None]


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("10m", 600), ("1.5h", 5400), ("1h30m", 5400),
                                           (" 2D ", 172800)])
def test_durations(text, seconds):
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize("text, message", [
    ("10", r"^--time '10': not a duration; give a number with a unit: 90s, 10m, 2h or 1h30m$"),
    ("ten minutes", r"^--time 'ten minutes': not a duration"),
    ("-5m", r"^--time '-5m': not a duration"),
    ("", r"^--time '': not a duration"),
    ("5m5m", r"^--time '5m5m': a unit appears twice; write it once, e.g. 1h30m$"),
    ("0s", r"^--time '0s': the time budget must be more than zero$"),
    ("10 min", r"^--time '10 min': not a duration"),
])
def test_bad_durations(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_duration(text)


def test_pruning_settings_are_checked():
    with pytest.raises(ConfigError, match=r"^\[tune\] prune_startup = 0 and prune_warmup = 2 must be at least 1$"):
        Pruning(startup=0)


def test_a_workers_warm_up_does_not_import_the_compiler():
    # ~1.2 s of CPU per worker that no trial uses: the trainer's optimizers never import it
    import subprocess
    import sys

    code = ("import sys; from mlstrat.tune._tune import warm_up; warm_up(); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "False"


def test_the_trials_convergence_verdicts_are_read_for_the_search():
    from mlstrat.tune._search import SearchResult, Trial
    from mlstrat.tune._tune import TuneResult

    def trial(number, value, code):
        return Trial(number=number, round=1, params={"lr": 0.1 * (number + 1)}, value=value, feasible=True,
                     info={"convergence": code})

    trials = (trial(0, 0.12, "improving"), trial(1, None, "diverging"), trial(2, 0.2, "plateaued"),
              trial(3, None, "diverging"))
    search = SearchResult(trials=trials, best=trials[0], space=(), zoomed=(), storage=None)
    result = TuneResult(search=search, config=None, output=None, effects={}, run_ids={})
    assert result.convergence_notes() == [
        "the best trial 0 was still improving when its epochs ran out: train it longer (more [optim] epochs) "
        "before trusting the comparison",
        "2 trial(s) diverged (1, 3): lower the top of the learning-rate range in [tune.space]"]
    settled = SearchResult(trials=trials[2:3], best=trials[2], space=(), zoomed=(), storage=None)
    assert TuneResult(search=settled, config=None, output=None, effects={}, run_ids={}).convergence_notes() == []
