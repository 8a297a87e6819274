"""`train --nproc 2` under signals: Ctrl-C, SIGTERM, a rank killed by SIGKILL and a kill -9 of
the launcher each end in one line (or silence), with every rank gone and nothing written or
recorded afterwards.

Each test starts the command in its own session (killed with all it started when the test
ends, whether it passed or not), waits until the launcher has started both
ranks (its children in /proc), signals, then waits until every process it saw is gone.
"""

from __future__ import annotations

import os
import signal
import warnings

import pyarrow.parquet as pq
import pytest

from mlstrat._exceptions import MlstratWarning
from mlstrat.nn._distributed import PEER_LOST_EXIT, check_cpus, failure_code
from tests import processes as P
from tests.nn.conftest import split_digits

CONFIG = """
[data]
manifest = "split.parquet"
feature_prefix = "px_"
loader = "memory"
[model]
hidden = [8]
[optim]
epochs = {epochs}
batch_size = 64
device = "cpu"
"""


@pytest.fixture
def workdir(tmp_path):
    pq.write_table(split_digits(), tmp_path / "split.parquet")
    return tmp_path


def _launch(workdir, commands, *, epochs: int):
    (workdir / "ddp.toml").write_text(CONFIG.format(epochs=epochs))
    store = workdir / "runs.db"
    proc = commands.start(["train", "ddp.toml", "-o", "out", "--nproc", "2", "--store", str(store)], workdir)

    def two_ranks():  # started, each in the session torch gives it (a Ctrl-C reaches the launcher only)
        # LOCAL_RANK in its environment: the rank has exec'd (between fork and exec a child still
        # shows the launcher's command line and environment)
        ranks = [p for p in P.children(proc.pid) if "-m mlstrat train" in P.cmdline(p) and P.own_group(p)
                 and "LOCAL_RANK=" in _environ(p)]
        return ranks if len(ranks) == 2 else None

    ranks = P.wait_until(two_ranks, "the launcher started 2 ranks", proc=proc)
    idents = [i for i in (P.identity(p) for p in [proc.pid, *ranks]) if i is not None]
    return proc, ranks, idents, store


def _nothing_written(workdir, store):
    from mlstrat.runs import RunStore

    assert not (workdir / "out").exists()
    assert not store.exists() or RunStore(store).list() == []


@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "SIGINT (Ctrl-C)"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_stops_every_rank_in_one_line(workdir, commands, sig, code, name):
    proc, _, idents, store = _launch(workdir, commands, epochs=100000)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # a terminal's Ctrl-C: the launcher's whole process group
    else:
        os.kill(proc.pid, sig)
    rc, err = P.finish(proc)
    P.wait_gone(idents)
    assert rc == code, err
    assert err.strip().splitlines() == [f"Stopped: training stopped by {name}: every training process was "
                                        "stopped before writing; no run directory written, nothing recorded"
                                        + _resume_hint(workdir)], err
    _nothing_written(workdir, store)


def test_a_rank_killed_by_sigkill_is_named_and_the_others_stop(workdir, commands):
    proc, ranks, idents, store = _launch(workdir, commands, epochs=100000)
    rank1 = next(p for p in ranks if "LOCAL_RANK=1" in _environ(p))
    os.kill(rank1, signal.SIGKILL)
    rc, err = P.finish(proc)
    P.wait_gone(idents)
    assert rc == 137, err
    assert err.strip().splitlines() == [
        "Error: rank 1 was killed by signal 9 (SIGKILL; sent by the out-of-memory killer or kill -9); the other "
        "training processes were stopped; no run directory written, nothing recorded" + _resume_hint(workdir)], err
    _nothing_written(workdir, store)


def test_kill_9_of_the_launcher_takes_the_ranks_with_it(workdir, commands):
    """A run of 2 epochs would be written and recorded seconds later by orphaned ranks."""
    proc, _, idents, store = _launch(workdir, commands, epochs=2)
    proc.kill()
    proc.communicate()
    P.wait_gone(idents)  # then nothing can write any more: check that nothing did
    _nothing_written(workdir, store)
    # no partial folder either (an epoch checkpoint, .out.resume.pt, may stay: `train --resume out` takes it)
    assert not [p for p in workdir.iterdir() if p.name.startswith(".out.") and p.name != ".out.resume.pt"]


def _resume_hint(workdir) -> str:
    """The line's end when the run had saved an epoch checkpoint before it was stopped (whether
    it had depends on when the signal came; the line says so exactly when the file is there)."""
    if not (workdir / ".out.resume.pt").exists():
        return ""
    return "; its last epoch checkpoint is kept: `mlstrat train --resume out --nproc 2` continues it"


def _environ(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/environ", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- the pieces -----------------------------------------------------------------------------------


@pytest.mark.parametrize("codes, expected", [
    ({0: -15, 1: -9}, (137, 1)),  # SIGKILL of rank 1; the launcher stopped rank 0 with SIGTERM
    ({0: PEER_LOST_EXIT, 1: -9}, (137, 1)),  # rank 0 noticed first that its peer was gone
    ({0: -6, 1: -15}, (134, 0)),  # an abort is a cause; SIGTERM is what the launcher sends the others
    ({0: 2, 1: -15}, (2, 0)),  # rank 0's own error (it printed it)
    ({0: -15, 1: 2}, (2, 1)),
    ({0: -15, 1: -15}, (143, 0)),  # a SIGTERM from outside
    ({0: PEER_LOST_EXIT, 1: PEER_LOST_EXIT}, (PEER_LOST_EXIT, 0)),
])
def test_failure_code_names_the_cause(codes, expected):
    assert failure_code(codes) == expected


def test_more_processes_than_cores_warns():
    cores = len(os.sched_getaffinity(0))
    with pytest.warns(MlstratWarning, match=rf"^--nproc {cores + 1} is more than the {cores} CPU core\(s\) this "
                                            rf"process may use; the processes will take turns on them "
                                            rf"\(slower than --nproc {cores}\)$"):
        check_cpus(cores + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_cpus(cores)


def test_a_tune_section_in_a_train_config_points_to_tune(tmp_path):
    from typer.testing import CliRunner

    from mlstrat.cli import app

    config = tmp_path / "search.toml"
    config.write_text('[data]\nmanifest = "x.parquet"\n[tune]\nbudget = 4\n')
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2
    assert result.output.replace("\n", " ").strip() == (
        f"Error: {config}: [tune] configures a hyperparameter search: run `mlstrat tune` on this file, or "
        "remove [tune] to train once")
