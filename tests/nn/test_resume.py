"""`train --resume RUN`: an interrupted run continues from its last epoch checkpoint and ends
with the very weights of the same run uninterrupted (bitwise), in one process and under DDP;
a resume that could not give them (another config, manifest or process count; a finished run;
no checkpoint) is refused in one line.

The CLI runs are interrupted by SIGKILL right after epoch 2's checkpoint (tests/nn/kill_hook):
the state a crash leaves, at a known point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.nn import EarlyStoppingConfig, ModelConfig, OptimConfig, RegularizationConfig, train
from mlstrat.nn._checkpoint import resume_path
from mlstrat.nn._hooks import on_epoch
from tests import processes as P
from tests.nn.conftest import small_config, split_digits

HOOK = os.path.join(os.path.dirname(__file__), "kill_hook")

CONFIG = """
[data]
manifest = "split.parquet"
feature_prefix = "px_"
loader = "memory"
[model]
hidden = [16]
[regularization]
keep_prob = 0.8
[optim]
epochs = 4
batch_size = 64
lr = 0.01
lr_decay = "cosine"
device = "cpu"
threads = 1
"""


class _Stop(Exception):
    pass


def _stop_after(epoch: int):
    def callback(stats):
        if stats.epoch == epoch:
            raise _Stop
    return callback


def _weights(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]


def _same_weights(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def _epochs(run_dir) -> list[dict]:
    return json.loads((run_dir / "history.json").read_text())["epochs"]


@pytest.mark.parametrize("loader", ["memory", "dataloader", "stream"])
def test_an_interrupted_run_resumes_to_the_same_weights(digits_path, tmp_path, loader):
    """Dropout, augmentation, a cosine schedule and early stopping's best-weight restore all carry
    state across epochs; the resumed run ends where the uninterrupted one does."""
    from dataclasses import replace

    config = small_config(digits_path, optim=OptimConfig(epochs=4, batch_size=64, lr=0.02, lr_decay="cosine",
                                                         threads=1),
                          model=ModelConfig(hidden=(32, 16)),
                          regularization=RegularizationConfig(keep_prob=0.8, augment=("shift",)),
                          early_stopping=EarlyStoppingConfig(patience=0, restore_best=True))
    config = replace(config, data=replace(config.data, loader=loader))
    straight = train(config, run_dir=tmp_path / "straight", store=False, progress=False)
    with on_epoch(_stop_after(2)), pytest.raises(_Stop):
        train(config, run_dir=tmp_path / "cut", store=False, progress=False)
    assert resume_path(tmp_path / "cut").is_file() and not (tmp_path / "cut").exists()
    resumed = train(config, run_dir=tmp_path / "cut", store=False, progress=False, resume=True)
    _same_weights(tmp_path / "straight", tmp_path / "cut")
    assert resumed.history["epochs"] == straight.history["epochs"]
    assert resumed.history["best_epoch"] == straight.history["best_epoch"]
    assert not resume_path(tmp_path / "cut").exists()  # the run finished: nothing left to resume


def _command(args, cwd, *, kill_after: int | None = None) -> subprocess.CompletedProcess:
    env = P.env()
    if kill_after is not None:
        env["PYTHONPATH"] = os.pathsep.join([HOOK, env["PYTHONPATH"]])
        env["MLSTRAT_TEST_KILL_AFTER_EPOCH"] = str(kill_after)
    return subprocess.run([sys.executable, "-m", "mlstrat", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=P.DEADLINE_S)


@pytest.fixture
def workdir(tmp_path):
    pq.write_table(split_digits(), tmp_path / "split.parquet")
    (tmp_path / "train.toml").write_text(CONFIG)
    return tmp_path


@pytest.mark.parametrize("nproc", [1, 2])
def test_a_killed_training_resumes_to_the_same_weights(workdir, nproc):
    common = ["--nproc", str(nproc), "--no-record"]
    done = _command(["train", "train.toml", "-o", "straight", *common], workdir)
    assert done.returncode == 0, done.stderr
    killed = _command(["train", "train.toml", "-o", "cut", *common], workdir, kill_after=2)
    if nproc == 1:
        assert killed.returncode == -9, killed.stderr
    else:
        assert killed.returncode == 137, killed.stderr
        assert killed.stderr.strip().splitlines() == [
            "Error: rank 0 was killed by signal 9 (SIGKILL; sent by the out-of-memory killer or kill -9); the "
            "other training processes were stopped; no run directory written, nothing recorded; its last epoch "
            "checkpoint is kept: `mlstrat train --resume cut --nproc 2` continues it"]
    assert not (workdir / "cut").exists()
    saved = torch.load(resume_path(workdir / "cut"), weights_only=True)
    assert saved["state"]["epoch"] == 2 and saved["world"] == nproc
    resumed = _command(["train", "--resume", "cut", *common], workdir)
    assert resumed.returncode == 0, resumed.stderr
    _same_weights(workdir / "straight", workdir / "cut")
    assert _epochs(workdir / "cut") == _epochs(workdir / "straight")
    assert not resume_path(workdir / "cut").exists()


# -- what a resume refuses ------------------------------------------------------------------------


@pytest.fixture
def interrupted(workdir):
    """``cut``: the run of train.toml stopped after its first epoch, with its checkpoint."""
    from mlstrat.nn import TrainConfig

    config = TrainConfig.from_toml(workdir / "train.toml")
    with on_epoch(_stop_after(1)), pytest.raises(_Stop):
        train(config, run_dir=workdir / "cut", store=False, progress=False)
    return workdir


def _cli(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, args)
    finally:
        os.chdir(old)


def test_a_resume_with_another_config_names_the_key(interrupted):
    (interrupted / "other.toml").write_text(CONFIG.replace("lr = 0.01", "lr = 0.02"))
    result = _cli(["train", "other.toml", "--resume", "cut", "--no-record"], interrupted)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "Error: cannot resume cut: [optim] lr is 0.02 here but 0.01 in the interrupted run; a resumed run needs "
        "the run's own config (give the same file, or none: `mlstrat train --resume RUN` uses the run's)")
    assert resume_path(interrupted / "cut").exists() and not (interrupted / "cut").exists()


def test_a_resume_with_another_process_count_is_refused(interrupted):
    result = _cli(["train", "--resume", "cut", "--nproc", "2", "--no-record"], interrupted)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("Error: cannot resume cut: it trained in 1 process(es) and this is 2; resume "
                                     "with --nproc 1")


def test_a_resume_after_the_manifest_changed_is_refused(interrupted):
    os.utime(interrupted / "split.parquet", ns=(0, 0))
    result = _cli(["train", "--resume", "cut", "--no-record"], interrupted)
    assert result.exit_code == 2, result.output
    manifest = interrupted / "split.parquet"
    assert result.output.strip() == (f"Error: cannot resume cut: {manifest} changed since the run started (size or "
                                     "modification time); train the run again without --resume")


def test_a_finished_run_and_a_run_without_checkpoint_are_refused(interrupted):
    assert _cli(["train", "--resume", "cut", "--no-record"], interrupted).exit_code == 0
    finished = _cli(["train", "--resume", "cut", "--no-record"], interrupted)
    assert finished.exit_code == 2
    assert finished.output.strip() == ("Error: cut: the run finished (model.pt is written); there is nothing to "
                                       "resume: train a new run with another -o")
    (interrupted / "empty").mkdir()
    missing = _cli(["train", "--resume", "empty", "--no-record"], interrupted)
    assert missing.exit_code == 2
    assert missing.output.strip() == (
        "Error: empty: no epoch checkpoint to resume from (.empty.resume.pt beside it, written at the end of each "
        "epoch); the run did not finish an epoch: train it again without --resume")


def test_a_resume_names_its_run_directory_itself(interrupted):
    result = _cli(["train", "--resume", "cut", "-o", "elsewhere", "--no-record"], interrupted)
    assert result.exit_code == 2
    assert result.output.strip() == "Error: --resume cut writes the run directory it names; leave out -o/--output"
