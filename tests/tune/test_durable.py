"""tune as a durable search: a dead worker fails its trial only; a stopped search resumes from
its study with every trial recorded once; every option is checked before a trial trains;
a search whose trials all failed exits 1 with the cause; Ctrl-C, SIGTERM and kill -9 leave no
worker behind and nothing written afterwards."""

from __future__ import annotations

import os
import signal

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat import ConfigError
from mlstrat._processes import Stopped
from mlstrat.cli import app
from mlstrat.runs import RunStore
from mlstrat.tune import Param, search, tune
from tests import processes as P
from tests.nn.conftest import split_digits
from tests.tune.objectives import CALLS, counted, killed_at_1, stopped_at_3, value_of

SPACE = (Param("lr", 1e-4, 1.0, "log"), Param("hidden", 4, 64, "int"))

CONFIG = """
[data]
manifest = "split.parquet"
feature_prefix = "{prefix}"

[model]
hidden = [8]

[optim]
epochs = {epochs}
batch_size = 256

[tune]
budget = 3
seed = 0

[tune.space]
lr = [1e-3, 1e-1]
"""


def _as_tuples(result):
    return [(t.number, t.round, t.params, t.value) for t in result.trials]


# -- the search ----------------------------------------------------------------------------------


def test_a_dead_worker_fails_its_trial_and_the_search_goes_on():
    result = search(SPACE, killed_at_1, budget=4, seed=0, jobs=2)
    assert [t.number for t in result.trials] == [0, 1, 2, 3]
    dead = result.trials[1]
    assert dead.value is None and not dead.feasible
    assert dead.info["error"] == ("its worker process was killed by signal 9 (SIGKILL; sent by the out-of-memory "
                                  "killer or kill -9)")
    assert [t.value for t in result.trials if t.number != 1] == [
        t.number + t.params["lr"] for t in result.trials if t.number != 1]


def test_a_stopped_search_resumes_with_the_trials_of_one_never_stopped(tmp_path):
    whole = search(SPACE, value_of, budget=6, seed=3)
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    CALLS.clear()
    with pytest.raises(Stopped):
        search(SPACE, stopped_at_3, budget=6, seed=3, storage=url)  # round 1 is trials 0-3
    assert CALLS == [0, 1, 2, 3]
    CALLS.clear()
    resumed = search(SPACE, counted, budget=6, seed=3, storage=url)
    assert CALLS == [3, 4, 5]  # the finished trials are read back, not trained again
    assert _as_tuples(resumed) == _as_tuples(whole)
    assert resumed.best.number == whole.best.number


def test_resuming_with_other_settings_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    search(SPACE, value_of, budget=3, seed=0, storage=url)
    with pytest.raises(ConfigError, match=r"holds a search with other settings \(budget 3, seed 0, space lr, "
                                          r"hidden, pruning off \(--no-prune\)\); resume it with the same config, "
                                          r"or pass --force"):
        search(SPACE, value_of, budget=4, seed=0, storage=url)


def test_resuming_a_pruned_search_without_pruning_is_refused(tmp_path):
    from mlstrat.tune._prune import Pruning

    from .objectives import with_pruner

    url = f"sqlite:///{tmp_path / 'tune.db'}"
    search(SPACE, with_pruner, budget=3, seed=0, storage=url, prune=Pruning())
    with pytest.raises(ConfigError, match=r"other settings \(budget 3, seed 0, space lr, hidden, pruning on "
                                          r"\(--prune\)\); resume it with the same config"):
        search(SPACE, with_pruner, budget=3, seed=0, storage=url)


# -- tune ----------------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    pq.write_table(split_digits(), tmp_path / "split.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _config(workdir, *, prefix="px_", epochs=1, name="search.toml"):
    path = workdir / name
    path.write_text(CONFIG.format(prefix=prefix, epochs=epochs))
    return path


def test_resume_and_force_record_every_trial_once(workdir, monkeypatch):
    import mlstrat.tune._tune as tune_module

    real = tune_module.train_trial
    trained: list[int] = []

    def stop_at_1(number, params, **kw):
        trained.append(number)
        if number == 1:
            raise Stopped(signal.SIGTERM)
        return real(number, params, **kw)

    def train_trial(number, params, **kw):
        trained.append(number)
        return real(number, params, **kw)

    store = RunStore(workdir / "runs.db")
    config = _config(workdir)
    monkeypatch.setattr(tune_module, "train_trial", stop_at_1)
    with pytest.raises(Stopped):
        tune(config, output="out", store=store)
    assert [r.note.split(" (")[0] for r in store.list()] == ["tune search.toml trial 0"]
    monkeypatch.setattr(tune_module, "train_trial", train_trial)
    trained.clear()
    resumed = tune(config, output="out", store=store, resume=True)
    assert trained == [1, 2]  # trial 0 finished before the stop: kept, not trained again
    runs = store.list()
    assert sorted(r.id for r in runs) == sorted(resumed.run_ids.values()) and len(runs) == 3
    trained.clear()
    again = tune(config, output="out", store=store, force=True)  # a new search of the same trials
    assert trained == [0, 1, 2]
    assert len(store.list()) == 3 and again.run_ids == resumed.run_ids


def _refuse_training(monkeypatch):
    import mlstrat.tune._tune as tune_module

    def train_trial(*args, **kwargs):
        raise AssertionError("a trial trained")

    monkeypatch.setattr(tune_module, "train_trial", train_trial)


@pytest.mark.parametrize("args, message", [
    (["--human", "expert=abc"], "Error: --human expert: 'abc' is not a number (examples: 0.05, 5%)"),
    (["--store", "."], "Error: .: is a directory; --store takes the database file"),
    (["--store", "split.parquet"], "Error: split.parquet: is not an mlstrat run store"),
    (["--store", "split.parquet/runs.db"], "Error: split.parquet/runs.db: cannot create the run store there"),
    (["--resume"], "Error: out: holds no search to resume (no tune.db); run without --resume"),
    (["--resume", "--force"], "Error: --force starts a new search and --resume goes on with the old one: pass "
                              "one of them"),
])
def test_every_option_is_checked_before_any_trial(workdir, monkeypatch, args, message):
    _refuse_training(monkeypatch)
    config = _config(workdir)
    result = CliRunner().invoke(app, ["tune", str(config), "-o", "out", *args])
    assert result.exit_code == 2, result.output
    assert result.output.replace("\n", " ").startswith(message), result.output
    assert "Traceback" not in result.output
    assert not (workdir / "out").exists()  # nothing that blocks the corrected command


def test_a_missing_manifest_is_refused_before_any_trial(workdir, monkeypatch):
    _refuse_training(monkeypatch)
    config = _config(workdir)
    config.write_text(config.read_text().replace("split.parquet", "missing.parquet"))
    result = CliRunner().invoke(app, ["tune", str(config), "-o", "out"])
    assert result.exit_code == 2
    assert result.output.replace("\n", " ").strip() == (
        f"Error: {config}: [data] manifest: {workdir / 'missing.parquet'}: no such file; check the path")
    assert not (workdir / "out").exists()


def test_an_output_that_is_a_file_is_refused(workdir, monkeypatch):
    _refuse_training(monkeypatch)
    (workdir / "out").write_text("mine")
    result = CliRunner().invoke(app, ["tune", str(_config(workdir)), "-o", "out"])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: out: is a file; -o takes a folder for the trials"
    assert (workdir / "out").read_text() == "mine"


def test_every_trial_failed_exits_1_naming_the_first_cause(workdir):
    config = _config(workdir, prefix="nope_")
    result = CliRunner().invoke(app, ["tune", str(config), "-o", "out", "--budget", "2", "--no-record"])
    assert result.exit_code == 1, result.output
    assert result.output.replace("\n", " ").startswith(
        f"Error: every trial failed (2); the first, trial 0: {workdir / 'split.parquet'}: no column starts with "
        "feature_prefix 'nope_'")
    assert "max_seconds" not in result.output and "Relax" not in result.output


def test_an_existing_search_names_resume_and_force(workdir, monkeypatch):
    _refuse_training(monkeypatch)
    (workdir / "out").mkdir()
    (workdir / "out" / "tune.db").write_bytes(b"")
    result = CliRunner().invoke(app, ["tune", str(_config(workdir)), "-o", "out"])
    assert result.exit_code == 2
    assert result.output.replace("\n", " ").strip() == (
        "Error: out: already holds a search (tune.db); go on with it (--resume), start a new one (--force) or "
        "choose another folder (-o)")


# -- signals, in a real process ------------------------------------------------------------------


def _start_search(workdir, commands, *, epochs):
    config = _config(workdir, epochs=epochs)
    proc = commands.start(["tune", config.name, "-o", "out", "--jobs", "2", "--store", "runs.db"], workdir)

    def two_workers():
        found = [p for p in P.children(proc.pid) if "spawn_main" in P.cmdline(p)]
        return found if len(found) == 2 else None

    workers = P.wait_until(two_workers, "the search started its 2 workers", proc=proc)
    idents = [i for i in (P.identity(p) for p in [proc.pid, *P.children(proc.pid)]) if i is not None]
    return proc, workers, idents


@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "SIGINT (Ctrl-C)"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_stops_the_search_in_one_line_and_leaves_it_resumable(workdir, commands, sig, code, name):
    proc, _, idents = _start_search(workdir, commands, epochs=100000)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # a terminal's Ctrl-C reaches the workers too
    else:
        os.kill(proc.pid, sig)
    rc, err = P.finish(proc)
    P.wait_gone(idents)
    assert rc == code, err
    assert err.replace("\n", " ").strip() == (f"Stopped: tune stopped by {name}; its finished trials are kept: go "
                                              "on with mlstrat tune search.toml -o out --resume"), err
    assert not list((workdir / "out").glob("trial-*"))
    import optuna

    study = optuna.load_study(study_name="mlstrat-tune", storage=f"sqlite:///{workdir / 'out' / 'tune.db'}")
    assert [t.state.name for t in study.trials] == ["RUNNING"] * 2  # the asked trials, to train on --resume


def test_kill_9_of_the_search_takes_its_workers_with_it(workdir, commands):
    """Trials of 1 epoch would be written seconds later by orphaned workers."""
    proc, _, idents = _start_search(workdir, commands, epochs=1)
    before = {p.name for p in (workdir / "out").glob("trial-*")}
    proc.kill()
    proc.communicate()
    P.wait_gone(idents)  # then nothing can write any more: check that nothing did
    assert {p.name for p in (workdir / "out").glob("trial-*")} == before
    assert not [p for p in (workdir / "out").iterdir() if p.name.startswith(".trial-")]
